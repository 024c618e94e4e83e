// Next-token selection with Hugging Face's semantics (SPEC §12): repetition
// penalty (a seen token's positive logit divided by the penalty, a negative
// one multiplied), then temperature, top-k, top-p, and a seeded draw; or
// greedy argmax. Baichuan 2 Chat defaults: temperature 0.3, top_k 5,
// top_p 0.85, repetition_penalty 1.05.
import { Rng } from '../engine/rng.js';

export interface SamplingOptions {
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
}

export const BAICHUAN_CHAT_SAMPLING: Required<SamplingOptions> = { greedy: false, temperature: 0.3, topK: 5, topP: 0.85, repetitionPenalty: 1.05 };

export function validateSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && !(o.temperature > 0)) throw new RangeError(`temperature must be > 0, got ${o.temperature} (use greedy for argmax)`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw new RangeError(`top_k must be a non-negative integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new RangeError(`top_p must be in (0, 1], got ${o.topP}`);
  if (o.repetitionPenalty !== undefined && !(o.repetitionPenalty > 0)) throw new RangeError(`repetition_penalty must be > 0, got ${o.repetitionPenalty}`);
}

/** In place: HF RepetitionPenaltyLogitsProcessor over the ids seen so far (prompt + generated). */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    const v = logits[id]!;
    logits[id] = v < 0 ? v * penalty : v / penalty;
  }
}

/**
 * In place: OpenAI's frequency and presence penalties over the generated tokens'
 * counts: logit[j] -= count[j] * frequency + (count[j] > 0 ? presence : 0).
 */
export function applyPresencePenalties(logits: Float32Array, counts: ReadonlyMap<number, number>, frequency: number, presence: number): void {
  if (frequency === 0 && presence === 0) return;
  for (const [id, c] of counts) if (c > 0) logits[id] = logits[id]! - c * frequency - presence;
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** The k best ids by logit, descending, ties to the lower id: the first k of a full sort, in one pass. */
function topIndices(logits: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (best.length === k && !(v > logits[best[k - 1]!]!)) continue;  // ties keep the earlier (lower) id
    let j = best.length < k ? best.length : k - 1;
    while (j > 0 && logits[best[j - 1]!]! < v) { best[j] = best[j - 1]!; j--; }
    best[j] = i;
  }
  return best;
}

/** Pick the next token from one row of logits (modified in place). */
export function sampleToken(logits: Float32Array, seen: Iterable<number>, o: SamplingOptions, rng: Rng): number {
  applyRepetitionPenalty(logits, seen, o.repetitionPenalty ?? 1);
  if (o.greedy) return argmax(logits);
  const temp = o.temperature ?? 1;
  // candidates sorted by logit, descending (top-k first, as HF applies TopK before TopP)
  const k = o.topK && o.topK > 0 ? Math.min(o.topK, logits.length) : logits.length;
  let idx: number[];
  if (k <= 64) idx = topIndices(logits, k);
  else {
    idx = Array.from(logits.keys());
    idx.sort((a, b) => logits[b]! - logits[a]! || a - b);
    idx = idx.slice(0, k);
  }
  const m = logits[idx[0]!]! / temp;
  let probs = idx.map((i) => Math.exp(logits[i]! / temp - m));
  let z = probs.reduce((s, p) => s + p, 0);
  probs = probs.map((p) => p / z);
  const topP = o.topP ?? 1;
  if (topP < 1) {
    // keep the smallest prefix whose mass reaches top_p (always at least one token)
    let cum = 0, keep = 0;
    while (keep < probs.length) {
      cum += probs[keep]!;
      keep++;
      if (cum >= topP) break;
    }
    idx = idx.slice(0, keep);
    probs = probs.slice(0, keep);
    z = probs.reduce((s, p) => s + p, 0);
    probs = probs.map((p) => p / z);
  }
  let u = rng.uniform();
  for (let i = 0; i < idx.length; i++) {
    u -= probs[i]!;
    if (u < 0) return idx[i]!;
  }
  return idx[idx.length - 1]!;
}
