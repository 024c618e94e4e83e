// The alternative sentence scorer: a Baichuan-architecture model's
// log-likelihood. A sentence's score is sum(log2 p(token)) / characters over
// BOS + its tokens (so the first token is scored too), comparable in units
// with the character-trigram scorer's bits per character.
import { Tensor } from '../../engine/tensor.js';
import { noGrad } from '../../engine/autograd.js';
import { loadModel } from '../../io/hf-folder.js';
import { loadTokenizer } from '../../tokenizer/index.js';
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
    const V = cfg.vocabSize;
    return sents.map((s) => {
      const chars = Array.from(s).length;
      if (!chars) return 0;
      const ids = [cfg.bosTokenId, ...this.tok.encode(s)].slice(0, cfg.modelMaxLength + 1);
      if (ids.length < 2) return 0;
      const logits = noGrad(() => this.model.forward(Tensor.from(ids.slice(0, -1), [1, ids.length - 1], 'i32')).logits.f32());
      let lp = 0;
      for (let t = 1; t < ids.length; t++) {
        const row = logits.subarray((t - 1) * V, t * V);
        let max = -Infinity;
        for (let i = 0; i < V; i++) if (row[i]! > max) max = row[i]!;
        let sum = 0;
        for (let i = 0; i < V; i++) sum += Math.exp(row[i]! - max);
        lp += (row[ids[t]!]! - max - Math.log(sum)) / Math.LN2;
      }
      return lp / chars;
    });
  }
}
