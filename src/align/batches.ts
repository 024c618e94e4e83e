// Batches of SFT examples: length-bucketed padded rows, or packed rows.
// Both keep each example's own next-token targets (labels shifted per
// example, labels.ts), so the mean loss over a batch's loss tokens is the same
// however its examples are arranged.
//   padded   examples of similar length share a batch (shuffle, then sort
//            each window of 8 batches by length, then shuffle the batches),
//            right-padded to the batch's longest with pad id and target -100;
//            causal attention never looks right, so padding changes nothing
//            for real tokens (no mask needed, identical to ids != pad).
//   packed   first-fit-decreasing of several examples into rows of maxLength;
//            segments (b, start, len) keep attention inside each example and
//            positions restart at 0 per example (BaichuanForCausalLM segments).
// A plan is a pure function of (lengths, seed, epoch), so a resumed run
// rebuilds the same batches from its loader state {epoch, position}.
import { Rng } from '../engine/rng.js';
import { IGNORE_INDEX, shiftedTargets, lossTokens, type SftExample } from './labels.js';

export interface BatchPlanOptions {
  batchSize: number;
  pack: boolean;
  /** Row capacity when packing (the examples are already cut to it). */
  maxLength: number;
  seed: number;
}

export interface SftBatch {
  B: number;
  T: number;
  inputs: Int32Array;            // [B, T]
  targets: Int32Array;           // [B, T], aligned with the inputs (already shifted), -100 ignored
  positions: Int32Array | null;  // [B, T] RoPE positions, packed rows only
  segments: Int32Array | null;   // (b, start, len) triples, packed rows only
  /** Real (non-padding) tokens and tokens with a loss. */
  tokens: number;
  lossTokens: number;
}

const WINDOW = 8;

function shuffle<T>(a: T[], rng: Rng): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** One epoch's batches: each batch a list of rows, each row the example indices it holds. */
export function planEpoch(lengths: readonly number[], epoch: number, o: BatchPlanOptions): number[][][] {
  const rng = new Rng(((o.seed * 1000003) ^ (epoch * 7919 + 17)) >>> 0);
  const order = shuffle(Array.from(lengths, (_, i) => i), rng);
  let rows: number[][];
  if (!o.pack) {
    rows = [];
    const w = o.batchSize * WINDOW;
    for (let s = 0; s < order.length; s += w) {
      const win = order.slice(s, s + w).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
      for (const i of win) rows.push([i]);
    }
  } else {
    // first-fit decreasing, window by window (a global sort would put all long examples in the first batches)
    rows = [];
    const w = o.batchSize * WINDOW * 4;
    for (let s = 0; s < order.length; s += w) {
      const win = order.slice(s, s + w).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
      const bins: { fill: number; items: number[] }[] = [];
      for (const i of win) {
        const n = lengths[i]!;
        const bin = bins.find((b) => b.fill + n <= o.maxLength);
        if (bin) { bin.items.push(i); bin.fill += n; } else bins.push({ fill: n, items: [i] });
      }
      rows.push(...bins.map((b) => b.items));
    }
  }
  const batches: number[][][] = [];
  for (let s = 0; s < rows.length; s += o.batchSize) batches.push(rows.slice(s, s + o.batchSize));
  return shuffle(batches, rng);
}

/** Materialise a planned batch. */
export function buildBatch(examples: readonly SftExample[], rows: readonly number[][], pack: boolean, padId = 0): SftBatch {
  const B = rows.length;
  const rowLen = rows.map((r) => r.reduce((s, i) => s + examples[i]!.inputIds.length, 0));
  const T = Math.max(2, ...rowLen);
  const inputs = new Int32Array(B * T).fill(padId);
  const targets = new Int32Array(B * T).fill(IGNORE_INDEX);
  const positions = pack ? new Int32Array(B * T) : null;
  const segs: number[] = [];
  let tokens = 0, loss = 0;
  rows.forEach((row, b) => {
    let t = 0;
    for (const i of row) {
      const ex = examples[i]!;
      const n = ex.inputIds.length;
      inputs.set(ex.inputIds, b * T + t);
      targets.set(shiftedTargets(ex.labels), b * T + t);
      if (positions) for (let k = 0; k < n; k++) positions[b * T + t + k] = k;
      if (pack) segs.push(b, t, n);
      tokens += n;
      loss += lossTokens(ex.labels);
      t += n;
    }
  });
  return { B, T, inputs, targets, positions, segments: pack ? Int32Array.from(segs) : null, tokens, lossTokens: loss };
}

/** Seeded split: the last `count` of a shuffled order are held out (indices into `n`). */
export function splitHeldOut(n: number, count: number, seed: number): { train: number[]; val: number[] } {
  const order = shuffle(Array.from({ length: n }, (_, i) => i), new Rng((seed ^ 0x5eed) >>> 0));
  const k = Math.min(Math.max(0, count), Math.max(0, n - 1));
  return { train: order.slice(0, n - k).sort((a, b) => a - b), val: order.slice(n - k).sort((a, b) => a - b) };
}
