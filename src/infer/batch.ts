// Continuous batching: sequences join and leave a running decode batch at step
// boundaries. Each sequence owns a slot of a SlotKvCache, its sampling settings
// and its own seeded Rng, so its tokens do not depend on its batch companions:
//   - a new sequence is prefilled alone (a batch-1 forward of its prompt);
//   - decode steps run the active rows in groups of at most `rowsPerForward`
//     (4 = the GEMM's per-row GEMV path for float weights, whose result for a
//     row does not depend on the other rows), and attention reads each row's
//     own slot (ForwardOptions.slots);
//   - sampling and penalties use the sequence's own logits, history and Rng.
// So greedy output is identical alone and in any batch, and sampled output is
// identical for the same seed. (Quantised weights: the int kernels take a
// different path for one row than for 2..8 rows, so the last bits of a lone
// row's logits may differ from the same row in a batch.)
// This module is synchronous; src/serve runs it in a worker thread.
import { Tensor } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/rng.js';
import { SlotKvCache } from '../model/kv-cache.js';
import type { BaichuanForCausalLM } from '../model/baichuan.js';
import { applyPresencePenalties, sampleToken, validateSampling, type SamplingOptions } from './sampling.js';
import { logSoftmaxRow } from './log-likelihood.js';

export interface SequenceOptions extends SamplingOptions {
  maxNewTokens: number;
  seed: number;
  /** Stop at this id (default: the config's eos; -1 never). */
  eosTokenId?: number;
  /** OpenAI semantics, over the generated tokens: logit -= count * frequency + (count > 0) * presence. */
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** Report the chosen token's log-probability and this many alternatives (null: none). Raw model distribution. */
  topLogprobs?: number | null;
}

export interface TokenLogprob {
  logprob: number;
  top: { id: number; logprob: number }[];
}

export interface StepToken {
  seq: number;
  token: number;
  /** True when this was the sequence's last token (eos or maxNewTokens). */
  done: boolean;
  logprob?: TokenLogprob;
  /** True for a token sampled from a prefill (the sequence's first token). */
  prefill: boolean;
  /** Seconds of this sequence's prefill forward (prefill tokens only). */
  prefillSeconds?: number;
}

export interface BatchOptions {
  slots: number;
  /** Positions per slot (default: the model's context length). */
  capacity?: number;
  rowsPerForward?: number;
  /** Prompt tokens prefilled per step, across new sequences (at least one sequence per step). */
  prefillTokensPerStep?: number;
}

interface Sequence {
  id: number;
  slot: number;
  prompt: number[];
  generated: number[];
  seen: number[];
  counts: Map<number, number>;
  opts: SequenceOptions;
  rng: Rng;
  prefilled: boolean;
  done: boolean;
}

export interface BatchStats {
  prefillTokens: number;
  prefillSeconds: number;
  decodeTokens: number;
  decodeSeconds: number;
  steps: number;
}

export class ContinuousBatch {
  readonly cache: SlotKvCache;
  readonly stats: BatchStats = { prefillTokens: 0, prefillSeconds: 0, decodeTokens: 0, decodeSeconds: 0, steps: 0 };
  /** Rows in the last decode step. */
  lastBatchSize = 0;
  private readonly seqs = new Map<number, Sequence>();
  private readonly freeSlots: number[];
  private nextId = 1;
  private readonly rowsPerForward: number;
  private readonly prefillBudget: number;

  constructor(readonly model: BaichuanForCausalLM, o: BatchOptions) {
    const cfg = model.config;
    if (!Number.isInteger(o.slots) || o.slots < 1) throw new RangeError(`batch: slots must be a positive integer, got ${o.slots}`);
    const capacity = o.capacity ?? cfg.modelMaxLength;
    if (!Number.isInteger(capacity) || capacity < 2 || capacity > cfg.modelMaxLength) throw new RangeError(`batch: capacity must be an integer in [2, ${cfg.modelMaxLength}], got ${capacity}`);
    const H = cfg.numAttentionHeads;
    this.cache = new SlotKvCache(cfg.numHiddenLayers, o.slots, H, cfg.hiddenSize / H, capacity);
    this.freeSlots = Array.from({ length: o.slots }, (_, i) => o.slots - 1 - i);
    // float GEMMs take their per-row path up to 4 rows, the int8/int4 kernels up to 8
    const quantized = model.model.layers[0]?.mlp.gate_proj.quantized != null;
    this.rowsPerForward = o.rowsPerForward ?? (quantized ? 8 : 4);
    this.prefillBudget = o.prefillTokensPerStep ?? 512;
    model.eval();
  }

  get capacity(): number { return this.cache.capacity; }
  get free(): number { return this.freeSlots.length; }
  get active(): number { return this.seqs.size; }

  /** Add a sequence (prefilled at the next step); returns its id. Throws when no slot is free or it cannot fit. */
  add(prompt: readonly number[], opts: SequenceOptions): number {
    validateSampling(opts);
    const cfg = this.model.config;
    if (prompt.length === 0) throw new RangeError('batch: empty prompt');
    if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 1) throw new RangeError(`batch: maxNewTokens must be a positive integer, got ${opts.maxNewTokens}`);
    if (prompt.length + opts.maxNewTokens > this.capacity)
      throw new RangeError(`batch: prompt of ${prompt.length} tokens + ${opts.maxNewTokens} new tokens exceeds the slot capacity ${this.capacity}`);
    for (const id of prompt) if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) throw new RangeError(`batch: token id ${id} is outside the vocabulary [0, ${cfg.vocabSize})`);
    const slot = this.freeSlots.pop();
    if (slot === undefined) throw new RangeError('batch: no free slot');
    const id = this.nextId++;
    this.cache.free(slot);
    this.seqs.set(id, { id, slot, prompt: [...prompt], generated: [], seen: [...prompt], counts: new Map(), opts, rng: new Rng(opts.seed), prefilled: false, done: false });
    return id;
  }

  /** Drop a sequence (finished or cancelled); its slot is free for the next add. */
  remove(id: number): void {
    const s = this.seqs.get(id);
    if (!s) return;
    this.seqs.delete(id);
    this.cache.free(s.slot);
    this.freeSlots.push(s.slot);
  }

  /** Generated ids of a live sequence. */
  tokens(id: number): readonly number[] {
    return this.seqs.get(id)?.generated ?? [];
  }

  /**
   * One step: prefill waiting sequences (within the token budget), then one
   * decode token for every other live sequence. Finished sequences stay until removed.
   */
  step(): StepToken[] {
    const out: StepToken[] = [];
    const live = [...this.seqs.values()].filter((s) => !s.done);
    let budget = this.prefillBudget;
    const fresh = live.filter((s) => !s.prefilled);
    for (const s of fresh) {
      if (budget <= 0 && out.length > 0) break;
      budget -= s.prompt.length;
      const t0 = performance.now();
      const logits = this.forward([s], [s.prompt]);
      const dt = (performance.now() - t0) / 1000;
      this.stats.prefillSeconds += dt;
      this.stats.prefillTokens += s.prompt.length;
      s.prefilled = true;
      out.push({ ...this.pick(s, logits, true), prefillSeconds: dt });
    }
    const decoding = live.filter((s) => s.prefilled && !out.some((o) => o.seq === s.id));
    this.lastBatchSize = decoding.length;
    if (decoding.length) {
      const t0 = performance.now();
      for (let i = 0; i < decoding.length; i += this.rowsPerForward) {
        const group = decoding.slice(i, i + this.rowsPerForward);
        const logits = this.forward(group, group.map((s) => [s.generated[s.generated.length - 1]!]));
        const V = this.model.config.vocabSize;
        group.forEach((s, b) => out.push(this.pick(s, logits.subarray(b * V, (b + 1) * V), false)));
      }
      this.stats.decodeSeconds += (performance.now() - t0) / 1000;
      this.stats.decodeTokens += decoding.length;
    }
    this.stats.steps++;
    return out;
  }

  /** Last-position logits [rows, V] of a forward of equal-length inputs over the sequences' slots. */
  private forward(seqs: Sequence[], inputs: number[][]): Float32Array {
    const T = inputs[0]!.length;
    const ids = Tensor.from(Int32Array.from(inputs.flat()), [seqs.length, T], 'i32');
    return noGrad(() => this.model.forward(ids, { slots: { cache: this.cache, rows: seqs.map((s) => s.slot) }, lastLogitsOnly: true }).logits.f32()).slice();
  }

  private pick(s: Sequence, row: Float32Array, prefill: boolean): StepToken {
    const o = s.opts;
    const raw = o.topLogprobs !== undefined && o.topLogprobs !== null ? logSoftmaxRow(row) : null;
    applyPresencePenalties(row, s.counts, o.frequencyPenalty ?? 0, o.presencePenalty ?? 0);
    const token = sampleToken(row, s.seen, o, s.rng);
    s.generated.push(token);
    s.seen.push(token);
    s.counts.set(token, (s.counts.get(token) ?? 0) + 1);
    const eos = o.eosTokenId ?? this.model.config.eosTokenId;
    if (token === eos || s.generated.length >= o.maxNewTokens) s.done = true;
    const r: StepToken = { seq: s.id, token, done: s.done, prefill };
    if (raw) r.logprob = { logprob: raw[token]!, top: topK(raw, o.topLogprobs!) };
    return r;
  }
}

/** The k largest entries (ties: lower id first). */
function topK(lp: Float64Array, k: number): { id: number; logprob: number }[] {
  const best: { id: number; logprob: number }[] = [];
  if (k <= 0) return best;
  for (let i = 0; i < lp.length; i++) {
    const v = lp[i]!;
    if (best.length === k && v <= best[k - 1]!.logprob) continue;
    let j = best.length < k ? best.length : k - 1;
    best[j] = { id: i, logprob: v };
    while (j > 0 && best[j - 1]!.logprob < v) { best[j] = best[j - 1]!; best[j - 1] = { id: i, logprob: v }; j--; }
  }
  return best;
}
