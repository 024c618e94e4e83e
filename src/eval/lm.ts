// The model as the harness sees it: text in, log-probabilities and
// completions out. `ModelLM` adapts a BaichuanForCausalLM plus its tokenizer;
// the tasks and the runner only use the `EvalLM` interface.
//
// Tokenisation of a continuation follows lm-eval-harness: the continuation's
// tokens are those the tokenizer gives the whole text (context + continuation)
// beyond the longest prefix shared with the context's own tokens, so a letter
// is scored as the token the model actually saw in the few-shot examples.
// Inputs longer than the context keep their last tokens (left truncation).
import type { BaichuanForCausalLM } from '../model/baichuan.js';
import type { BpeTokenizer } from '../tokenizer/bpe.js';
import { GenerationSession } from '../infer/generate.js';
import { logSoftmaxRow, sequenceLogits, sumLogProb } from '../infer/log-likelihood.js';

export interface CompleteOptions {
  maxNewTokens: number;
  /** Generation stops at the first of these strings, which is cut from the result. */
  stop: readonly string[];
  /** Number of samples; 1 with temperature 0 is greedy. */
  n?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
}

export interface EvalLM {
  readonly maxLength: number;
  encode(text: string): number[];
  /** Natural-log probability of each continuation after the context (summed over its tokens). */
  scoreContinuations(context: string, continuations: readonly string[]): number[];
  /** Completions of a prompt, cut at the first stop string. */
  complete(prompt: string, o: CompleteOptions): string[];
  /** Sum of log p(tokens[i] | tokens[<i]) for i >= from (one window; from >= 1). */
  logLikelihood(tokens: readonly number[], from: number): number;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

export class ModelLM implements EvalLM {
  readonly maxLength: number;
  constructor(readonly model: BaichuanForCausalLM, readonly tok: BpeTokenizer) {
    this.maxLength = model.config.modelMaxLength;
    model.eval();
  }

  encode(text: string): number[] {
    return this.tok.encode(text);
  }

  scoreContinuations(context: string, continuations: readonly string[]): number[] {
    const ctx = this.encode(context);
    const splits = continuations.map((c) => {
      const full = this.encode(context + c);
      const p = Math.min(commonPrefix(full, ctx), full.length - 1);
      if (p < 1) throw new RangeError('scoreContinuations: the context encodes to no tokens');
      return { full, p };
    });
    // the usual case: every continuation is one token after the same prefix
    const p0 = splits[0]!.p;
    const shared = splits.every((s) => s.p === p0 && s.full.length === p0 + 1 && commonPrefix(s.full, splits[0]!.full) >= p0);
    if (shared) {
      const prefix = splits[0]!.full.slice(Math.max(0, p0 - this.maxLength), p0);
      const lp = logSoftmaxRow(sequenceLogits(this.model, prefix, true));
      return splits.map((s) => lp[s.full[p0]!]!);
    }
    return splits.map(({ full, p }) => {
      // left-truncate to the context; the continuation's tokens are always kept
      const start = Math.max(0, full.length - 1 - this.maxLength);
      return sumLogProb(this.model, full.slice(start), Math.max(p, start + 1) - start);
    });
  }

  complete(prompt: string, o: CompleteOptions): string[] {
    const n = o.n ?? 1;
    const greedy = !o.temperature;
    if (o.maxNewTokens >= this.maxLength) throw new RangeError(`complete: maxNewTokens ${o.maxNewTokens} leaves no room for a prompt in a context of ${this.maxLength}`);
    let ids = this.encode(prompt);
    if (ids.length + o.maxNewTokens > this.maxLength) ids = ids.slice(ids.length + o.maxNewTokens - this.maxLength);
    const eos = this.model.config.eosTokenId;
    const s = new GenerationSession(this.model, Array.from({ length: n }, () => ids), {
      maxNewTokens: o.maxNewTokens, greedy, temperature: o.temperature || 1, topP: o.topP ?? 1, topK: 0, repetitionPenalty: 1, seed: o.seed ?? 0,
    });
    const texts = () => s.tokens.map((t) => this.tok.decode(t.filter((x) => x !== eos)));
    const stopped = (t: string) => o.stop.some((st) => t.includes(st));
    while (s.step()) {
      // checking stops every 8 tokens keeps decode cost low; the cut below is exact anyway
      if (s.tokens[0]!.length % 8 === 0 && texts().every(stopped)) break;
    }
    return texts().map((t) => {
      let cut = t.length;
      for (const st of o.stop) { const i = t.indexOf(st); if (i >= 0 && i < cut) cut = i; }
      return t.slice(0, cut);
    });
  }

  logLikelihood(tokens: readonly number[], from: number): number {
    return sumLogProb(this.model, tokens, from);
  }
}
