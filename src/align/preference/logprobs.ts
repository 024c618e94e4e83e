// Token and sequence log-probabilities with gradients, for the preference
// trainers. A batch of (prompt, response) token lists is laid out right-padded
// as [prompt, response, pad...]; the target of position t is token t+1, and
// only response tokens (eos included) are targets, so a sequence's log-prob is
// Σ_{t in response} log p(x_t | x_<t) and the prompt never counts.
// The gathered log-prob op is the engine's targetLogProbs (the fused
// cross-entropy kernels, with a composed fallback behind the backend seam), so
// the gradient of Σ g_r·log p_r is g_r·(onehot − softmax) without storing
// probabilities.
// (Inference-only scoring without gradients is src/infer/log-likelihood.ts.)
import { Tensor, shapeStr } from '../../engine/tensor.js';
import { noGrad } from '../../engine/autograd.js';
import { cast, contiguous, reshape } from '../../engine/ops/shape.js';
import { targetLogProbs } from '../../engine/ops/loss.js';
import { scale } from '../../engine/ops/elementwise.js';
import type { BaichuanForCausalLM } from '../../model/baichuan.js';

export interface Sequence {
  prompt: readonly number[];
  response: readonly number[];
}

export interface SequenceBatch {
  B: number;
  T: number;
  /** [B, T] input ids, right-padded. */
  ids: Int32Array;
  /** [B, T] 1 for real tokens. */
  mask: Int32Array;
  /** [B, T] next-token targets: the response token predicted at position t, else -100. */
  targets: Int32Array;
  /** Per row: index of the last real token (where a reward head reads), and the response span in target positions. */
  last: Int32Array;
  start: Int32Array;
  length: Int32Array;
}

export const IGNORE = -100;

/** Lay out sequences right-padded to the longest. */
export function packSequences(seqs: readonly Sequence[], padId: number): SequenceBatch {
  const B = seqs.length;
  if (B === 0) throw new RangeError('packSequences: empty batch');
  const T = Math.max(...seqs.map((s) => s.prompt.length + s.response.length));
  const ids = new Int32Array(B * T).fill(padId), mask = new Int32Array(B * T), targets = new Int32Array(B * T).fill(IGNORE);
  const last = new Int32Array(B), start = new Int32Array(B), length = new Int32Array(B);
  seqs.forEach((s, b) => {
    const P = s.prompt.length, R = s.response.length;
    if (P < 1) throw new RangeError(`packSequences: row ${b} has an empty prompt (the first response token needs a position to be predicted from)`);
    ids.set(s.prompt, b * T);
    ids.set(s.response, b * T + P);
    mask.fill(1, b * T, b * T + P + R);
    for (let t = 0; t < R; t++) targets[b * T + P - 1 + t] = s.response[t]!;
    last[b] = P + R - 1;
    start[b] = P - 1;
    length[b] = R;
  });
  return { B, T, ids, mask, targets, last, start, length };
}

/** log p(target_r) for each row r of logits [N, V] (0 where the target is -100), as a tensor [N] on the tape. */
export function gatherLogProbs(logits: Tensor, targets: Int32Array): Tensor {
  const V = logits.dim(-1);
  const N = logits.size / V;
  if (targets.length !== N) throw new RangeError(`gatherLogProbs: ${targets.length} targets for logits ${shapeStr(logits.shape)}`);
  return targetLogProbs(reshape(logits, [N, V]), Tensor.from(targets, [N], 'i32'), { ignoreIndex: IGNORE });
}

export interface TokenLogProbs {
  /** [B*T] log-probs of the targets (0 off the response), on the tape when the model is trained. */
  logp: Tensor;
  /** The same values as float64 numbers. */
  values: Float64Array;
  /** Logits [B, T, V] (for entropy); only when asked. */
  logits?: Tensor;
}

/** One forward over the batch: per-position log-probs of the response tokens (logits divided by `temperature`). */
export function tokenLogProbs(model: BaichuanForCausalLM, batch: SequenceBatch, o: { temperature?: number; keepLogits?: boolean; recompute?: boolean } = {}): TokenLogProbs {
  const { B, T } = batch;
  const out = model.forward(Tensor.from(batch.ids, [B, T], 'i32'), { attentionMask: batch.mask, recompute: o.recompute });
  let logits = out.logits;
  if (logits.dtype !== 'f32') logits = cast(logits, 'f32');
  if (o.temperature !== undefined && o.temperature !== 1) logits = scale(logits, 1 / o.temperature);
  const logp = gatherLogProbs(contiguous(logits), batch.targets);
  return { logp, values: Float64Array.from(logp.f32()), logits: o.keepLogits ? logits : undefined };
}

/** Σ over each row's response tokens of per-position values [B*T]. */
export function sequenceSums(values: ArrayLike<number>, batch: SequenceBatch): Float64Array {
  const out = new Float64Array(batch.B);
  for (let b = 0; b < batch.B; b++) {
    let s = 0;
    for (let t = 0; t < batch.length[b]!; t++) s += values[b * batch.T + batch.start[b]! + t]!;
    out[b] = s;
  }
  return out;
}

/** Spread a per-row gradient dL/d(Σ row) over that row's response positions (optionally divided by the row's length). */
export function spreadRowGrad(dRow: ArrayLike<number>, batch: SequenceBatch, perToken = false): Tensor {
  const g = new Float32Array(batch.B * batch.T);
  for (let b = 0; b < batch.B; b++) {
    const n = batch.length[b]!;
    const v = perToken ? dRow[b]! / Math.max(1, n) : dRow[b]!;
    for (let t = 0; t < n; t++) g[b * batch.T + batch.start[b]! + t] = v;
  }
  return Tensor.from(g, [batch.B * batch.T]);
}

/** Sequence log-probs without gradients (reference model, precomputation). */
export function sequenceLogProbs(model: BaichuanForCausalLM, seqs: readonly Sequence[], padId: number, microBatch = 8): Float64Array {
  const out = new Float64Array(seqs.length);
  const was = model.training;
  model.eval();
  noGrad(() => {
    for (let i = 0; i < seqs.length; i += microBatch) {
      const batch = packSequences(seqs.slice(i, i + microBatch), padId);
      out.set(sequenceSums(tokenLogProbs(model, batch).values, batch), i);
    }
  });
  model.train(was);
  return out;
}
