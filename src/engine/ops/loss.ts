// Fused cross-entropy with ignore-index and the max-z term (SPEC §4.8):
//   loss = mean_{r: t_r != ignore} (lse_r - x_r[t_r]) + zLossWeight * mean_r (max_v x_r)^2
// The z term averages over all rows, ignored or not, as the official code.
// Probabilities are never stored: the backward recomputes exp(x - lse).
// With every target ignored the CE term is NaN (0/0), as in PyTorch.
// Reference: src/engine/ref/loss.ts.
import { Tensor, shapeStr } from '../tensor.js';
import { record } from '../autograd.js';
import { backend } from '../backend.js';

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  zLossWeight?: number;
}

export interface CrossEntropyStats {
  ce: number;
  z: number;
  tokens: number;
}

/** logits [..., V], targets i32 [...] -> scalar loss. `stats` (if given) receives the parts. */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}, stats?: CrossEntropyStats): Tensor {
  const ignore = opts.ignoreIndex ?? -100;
  const zw = opts.zLossWeight ?? 0;
  if (targets.dtype !== 'i32') throw new TypeError(`crossEntropy: targets must be i32, got ${targets.dtype}`);
  const V = logits.dim(-1);
  const rows = logits.size / V;
  if (targets.size !== rows || targets.shape.some((d, i) => d !== logits.shape[i]))
    throw new RangeError(`crossEntropy: targets ${shapeStr(targets.shape)} do not match logits ${shapeStr(logits.shape)}`);
  const x = logits.f32();
  const t = targets.copyStorage() as Int32Array;
  const loss = new Float32Array(rows), lse = new Float32Array(rows), mx = new Float32Array(rows), am = new Int32Array(rows);
  backend().xentFwd(x, t, rows, V, ignore, loss, lse, mx, am);
  let ceSum = 0, count = 0, zSum = 0;
  for (let r = 0; r < rows; r++) {
    if (t[r] !== ignore) { ceSum += loss[r]!; count++; }
    zSum += mx[r]! * mx[r]!;
  }
  const ce = ceSum / count;
  const z = rows > 0 ? (zw * zSum) / rows : 0;
  if (stats) Object.assign(stats, { ce, z, tokens: count });
  const out = Tensor.from(new Float32Array([ce + z]), []);
  return record(out, 'crossEntropy', [logits, null], (g) => {
    const go = g.item();
    const gCe = new Float32Array(rows).fill(count > 0 ? go / count : 0);
    let gZ: Float32Array | null = null;
    if (zw !== 0) {
      gZ = new Float32Array(rows);
      for (let r = 0; r < rows; r++) gZ[r] = (go * zw * 2 * mx[r]!) / rows;
    }
    const dx = new Float32Array(x.length);
    backend().xentBwd(x, t, lse, am, gCe, gZ, dx, rows, V, ignore);
    return [Tensor.from(dx, logits.shape), null];
  });
}
