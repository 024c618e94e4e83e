// The alternative sentence scorer: a Baichuan-architecture model's
// log-likelihood. A sentence's score is sum(log2 p(token)) / characters over
// BOS + its tokens (so the first token is scored too), comparable in units
// with the character-trigram scorer's bits per character.
import { loadModel } from '../../io/hf-folder.js';
import { loadTokenizer } from '../../io/tokenizer-file.js';
import { sumLogProb } from '../../infer/log-likelihood.js';
import type { BaichuanForCausalLM } from '../../model/baichuan.js';
import type { BpeTokenizer } from '../../tokenizer/bpe.js';
import type { SentenceScorer } from './quality.js';

export class ModelSentenceScorer implements SentenceScorer {
  private constructor(private readonly model: BaichuanForCausalLM, private readonly tok: BpeTokenizer) {}

  static load(dir: string, tokenizer?: string): ModelSentenceScorer {
    const model = loadModel(dir);
    model.eval();
    return new ModelSentenceScorer(model, loadTokenizer(tokenizer ?? `${dir}/tokenizer.model`));
  }

  score(sents: readonly string[]): number[] {
    const cfg = this.model.config;
    return sents.map((s) => {
      const chars = Array.from(s).length;
      const ids = [cfg.bosTokenId, ...this.tok.encode(s)].slice(0, cfg.modelMaxLength + 1);
      if (!chars || ids.length < 2) return 0;
      return sumLogProb(this.model, ids, 1) / Math.LN2 / chars;
    });
  }
}
