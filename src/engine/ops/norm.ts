// Fused RMSNorm (SPEC §4.4) and L2 row normalisation (NormHead, SPEC §4.7),
// each beside its composed fallback: the specification from primitive ops,
// run where the backend lacks the kernel (supportsOp false).
// RMSNorm numeric policy, as the official code: statistics in fp32; the
// normalised value is cast to the weight dtype (bf16/f16) before the weight
// multiply. References: src/engine/ref/norm.ts.
import { Tensor, shapeStr } from '../tensor.js';
import { record, ownedGrad } from '../autograd.js';
import { backend } from '../backend.js';
import { f32Buffer, fromF32 } from './util.js';
import { cast } from './shape.js';
import { add, maximum, mul, rsqrt, sqrt, div } from './elementwise.js';
import { mean, sum } from './reduce.js';

function checkRmsnorm(x: Tensor, weight: Tensor): void {
  const C = x.dim(-1);
  if (weight.ndim !== 1 || weight.shape[0] !== C) throw new RangeError(`rmsnorm: weight ${shapeStr(weight.shape)} does not match input ${shapeStr(x.shape)}`);
  if (x.dtype === 'i32') throw new TypeError('rmsnorm: input must be a float tensor');
}

export function rmsnorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  checkRmsnorm(x, weight);
  if (!backend().supportsOp('rmsnorm')) return rmsnormComposed(x, weight, eps);
  const C = x.dim(-1);
  const rows = x.size / C;
  const xv = x.f32(), wv = weight.f32();
  const y = f32Buffer(xv.length), rstd = f32Buffer(rows);
  const lowPrecision = weight.dtype === 'bf16';
  if (lowPrecision) {
    // y = bf16(bf16(x * rstd) * w): the official cast order, each product rounded once
    const ones = f32Buffer(C).fill(1);
    backend().rmsnormFwd(xv, ones, y, rstd, rows, C, eps);
    backend().free(ones);
    const bits = new Uint16Array(y.length);
    backend().f32ToBf16(y, bits);
    backend().bf16ToF32(bits, y);
    const wRows = f32Buffer(y.length);
    for (let r = 0; r < rows; r++) wRows.set(wv, r * C);
    backend().binary('mul', y, wRows, y);
    backend().free(wRows);
  } else {
    backend().rmsnormFwd(xv, wv, y, rstd, rows, C, eps);
  }
  return record(fromF32(y, x.shape, weight.dtype, true), 'rmsnorm', [x, weight], (g) => {
    const dx = f32Buffer(xv.length), dw = f32Buffer(C);
    backend().rmsnormBwd(xv, wv, rstd, g.f32(), dx, dw, rows, C);
    return [Tensor.from(dx, x.shape), ownedGrad(Tensor.from(dw, weight.shape))];
  });
}

/** rmsnorm from primitives: x * rsqrt(mean(x^2) + eps), in f32, cast to the weight dtype, times the weight. */
export function rmsnormComposed(x: Tensor, weight: Tensor, eps: number): Tensor {
  checkRmsnorm(x, weight);
  const x32 = cast(x, 'f32');
  const r = rsqrt(add(mean(mul(x32, x32), -1, true), Tensor.from([eps], [1])));
  return mul(cast(mul(x32, r), weight.dtype), weight);
}

function checkL2(w: Tensor): [number, number] {
  if (w.ndim !== 2) throw new RangeError(`l2normRows: expected a 2-D tensor, got ${shapeStr(w.shape)}`);
  return w.shape as [number, number];
}

/** Each row of a 2-D tensor divided by max(||row||_2, eps) (torch.nn.functional.normalize, dim=1). */
export function l2normRows(w: Tensor, eps = 1e-12): Tensor {
  const [rows, cols] = checkL2(w);
  if (!backend().supportsOp('l2norm')) return l2normRowsComposed(w, eps);
  const x = w.f32();
  const y = f32Buffer(x.length), norm = f32Buffer(rows);
  backend().l2normFwd(x, y, norm, rows, cols, eps);
  return record(fromF32(y, w.shape, w.dtype), 'l2normRows', [w], (g) => {
    const dx = f32Buffer(x.length);
    backend().l2normBwd(y, norm, g.f32(), dx, rows, cols, eps);
    return [ownedGrad(Tensor.from(dx, w.shape))];
  });
}

/** l2normRows from primitives: w / max(sqrt(sum(w^2)), eps), in f32, rounded to w's dtype. */
export function l2normRowsComposed(w: Tensor, eps = 1e-12): Tensor {
  checkL2(w);
  const w32 = cast(w, 'f32');
  const n = maximum(sqrt(sum(mul(w32, w32), -1, true)), Tensor.from([eps], [1]));
  return cast(div(w32, n), w.dtype);
}
