// Fused cross-entropy with ignore-index and the max-z term (SPEC §4.8):
//   loss = mean_{r: t_r != ignore} (lse_r - x_r[t_r]) + zLossWeight * mean_r (max_v x_r)^2
// The z term averages over all rows, ignored or not, as the official code.
// Probabilities are never stored: the backward recomputes exp(x - lse).
// With every target ignored the CE term is NaN (0/0), as in PyTorch.
// crossEntropyComposed() is the specification from primitive ops (log-softmax,
// a one-hot pick, row max), run where the backend lacks the fused kernel.
// Reference: src/engine/ref/loss.ts.
import { Tensor, shapeStr } from '../tensor.js';
import { record } from '../autograd.js';
import { backend } from '../backend.js';
import { f32Buffer, i32Buffer } from './util.js';
import { cast, reshape } from './shape.js';
import { add, mul, scale } from './elementwise.js';
import { max, sum } from './reduce.js';
import { logSoftmax } from './softmax.js';

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  zLossWeight?: number;
}

export interface CrossEntropyStats {
  ce: number;
  z: number;
  tokens: number;
}

function checkXent(logits: Tensor, targets: Tensor): { V: number; rows: number } {
  if (targets.dtype !== 'i32') throw new TypeError(`crossEntropy: targets must be i32, got ${targets.dtype}`);
  const V = logits.dim(-1);
  const rows = logits.size / V;
  if (targets.size !== rows || targets.shape.some((d, i) => d !== logits.shape[i]))
    throw new RangeError(`crossEntropy: targets ${shapeStr(targets.shape)} do not match logits ${shapeStr(logits.shape)}`);
  return { V, rows };
}

/** logits [..., V], targets i32 [...] -> scalar loss. `stats` (if given) receives the parts. */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}, stats?: CrossEntropyStats): Tensor {
  const ignore = opts.ignoreIndex ?? -100;
  const zw = opts.zLossWeight ?? 0;
  const { V, rows } = checkXent(logits, targets);
  if (!backend().supportsOp('crossEntropy')) return crossEntropyComposed(logits, targets, opts, stats);
  const x = logits.f32();
  const t = targets.copyStorage() as Int32Array;
  const loss = f32Buffer(rows), lse = f32Buffer(rows), mx = f32Buffer(rows), am = i32Buffer(rows);
  backend().xentFwd(x, t, rows, V, ignore, loss, lse, mx, am);
  let ceSum = 0, count = 0, zSum = 0;
  for (let r = 0; r < rows; r++) {
    if (t[r] !== ignore) { ceSum += loss[r]!; count++; }
    zSum += mx[r]! * mx[r]!;
  }
  const ce = ceSum / count;
  const z = rows > 0 ? (zw * zSum) / rows : 0;
  if (stats) Object.assign(stats, { ce, z, tokens: count });
  const out = Tensor.from([ce + z], []);
  return record(out, 'crossEntropy', [logits, null], (g) => {
    const go = g.item();
    const gCe = f32Buffer(rows).fill(count > 0 ? go / count : 0);
    let gZ: Float32Array | null = null;
    if (zw !== 0) {
      gZ = f32Buffer(rows);
      for (let r = 0; r < rows; r++) gZ[r] = (go * zw * 2 * mx[r]!) / rows;
    }
    const dx = f32Buffer(x.length);
    backend().xentBwd(x, t, lse, am, gCe, gZ, dx, rows, V, ignore);
    return [Tensor.from(dx, logits.shape), null];
  });
}

/** crossEntropy from primitives: -mean of the targets' log-softmax (one-hot pick) + zw * mean(max^2). */
export function crossEntropyComposed(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}, stats?: CrossEntropyStats): Tensor {
  const ignore = opts.ignoreIndex ?? -100;
  const zw = opts.zLossWeight ?? 0;
  const { V, rows } = checkXent(logits, targets);
  const x = cast(reshape(logits, [rows, V]), 'f32');
  const t = targets.copyStorage() as Int32Array;
  const hot = f32Buffer(rows * V);
  let count = 0;
  for (let r = 0; r < rows; r++) if (t[r] !== ignore) { hot[r * V + t[r]!] = 1; count++; }
  // no target left: the CE term is NaN (0/0, as PyTorch) and passes no gradient, as the kernel
  const ceT = count > 0 ? scale(sum(mul(logSoftmax(x), Tensor.from(hot, [rows, V]))), -1 / count) : Tensor.from([NaN], []);
  let loss = ceT;
  let z = 0;
  if (zw !== 0 && rows > 0) {
    const m = max(x, -1).values;
    const zT = scale(sum(mul(m, m)), zw / rows);
    z = zT.item();
    loss = add(ceT, zT);
  }
  if (stats) Object.assign(stats, { ce: ceT.item(), z, tokens: count });
  return loss;
}

/**
 * log p(target_r) for each row r of logits [..., V], 0 where the target is
 * ignoreIndex; the result has the targets' shape and is on the tape (the
 * preference trainers' per-token log-probs). Fused: the cross-entropy kernels
 * (the same log-sum-exp as training), whose backward is g_r (onehot - softmax)
 * recomputed from the saved log-sum-exp, so probabilities are never stored.
 */
export function targetLogProbs(logits: Tensor, targets: Tensor, opts: { ignoreIndex?: number } = {}): Tensor {
  const ignore = opts.ignoreIndex ?? -100;
  const { V, rows } = checkXent(logits, targets);
  if (!backend().supportsOp('crossEntropy')) return targetLogProbsComposed(logits, targets, opts);
  const x = logits.f32();
  const t = targets.copyStorage() as Int32Array;
  const loss = f32Buffer(rows), lse = f32Buffer(rows), mx = f32Buffer(rows), am = i32Buffer(rows);
  backend().xentFwd(x, t, rows, V, ignore, loss, lse, mx, am);
  const out = f32Buffer(rows);
  for (let r = 0; r < rows; r++) out[r] = t[r] === ignore ? 0 : -loss[r]!;
  return record(Tensor.from(out, targets.shape), 'targetLogProbs', [logits, null], (g) => {
    const gv = g.f32();
    const gCe = f32Buffer(rows);
    for (let r = 0; r < rows; r++) gCe[r] = -gv[r]!;
    const dx = f32Buffer(x.length);
    backend().xentBwd(x, t, lse, am, gCe, null, dx, rows, V, ignore);
    return [Tensor.from(dx, logits.shape), null];
  });
}

/** targetLogProbs from primitives: the one-hot pick of log-softmax per row. */
export function targetLogProbsComposed(logits: Tensor, targets: Tensor, opts: { ignoreIndex?: number } = {}): Tensor {
  const ignore = opts.ignoreIndex ?? -100;
  const { V, rows } = checkXent(logits, targets);
  const x = cast(reshape(logits, [rows, V]), 'f32');
  const t = targets.copyStorage() as Int32Array;
  const hot = f32Buffer(rows * V);
  for (let r = 0; r < rows; r++) if (t[r] !== ignore) hot[r * V + t[r]!] = 1;
  return reshape(sum(mul(logSoftmax(x), Tensor.from(hot, [rows, V])), -1), targets.shape);
}
