// Log-probabilities a model assigns to given tokens: the shared core of
// multiple-choice scoring and perplexity (eval) and of model-based sentence
// quality scoring (data pipeline). Logits are fp32; the log-softmax is float64.
import { Tensor } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { checkTokenIds, type BaichuanForCausalLM } from '../model/baichuan.js';

/** log-softmax of one row, in float64. */
export function logSoftmaxRow(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - lse;
  return out;
}

/** Logits [T, V] of one sequence (eval mode, no cache); with lastOnly, only the last position's [V]. */
export function sequenceLogits(model: BaichuanForCausalLM, ids: readonly number[], lastOnly = false): Float32Array {
  checkTokenIds(ids, model.config.vocabSize, 'sequenceLogits');
  return noGrad(() => model.forward(Tensor.from(Int32Array.from(ids), [1, ids.length], 'i32'), { lastLogitsOnly: lastOnly }).logits.f32());
}

/**
 * Sum of ln p(tokens[t] | tokens[<t]) for t >= from, in one forward pass over tokens[0..-1].
 * The window must fit the context (tokens.length - 1 <= model_max_length) and from >= 1.
 */
export function sumLogProb(model: BaichuanForCausalLM, tokens: readonly number[], from: number): number {
  if (from < 1 || from >= tokens.length) throw new RangeError(`sumLogProb: from=${from} outside [1, ${tokens.length})`);
  const max = model.config.modelMaxLength;
  if (tokens.length - 1 > max) throw new RangeError(`sumLogProb: ${tokens.length - 1} positions exceed the context ${max}`);
  const V = model.config.vocabSize;
  checkTokenIds(tokens, V, 'sumLogProb');
  const logits = sequenceLogits(model, tokens.slice(0, -1));
  let sum = 0;
  for (let t = from; t < tokens.length; t++) sum += logSoftmaxRow(logits.subarray((t - 1) * V, t * V))[tokens[t]!]!;
  return sum;
}
