// Fused RMSNorm (SPEC §4.4) and L2 row normalisation (NormHead, SPEC §4.7).
// RMSNorm numeric policy, as the official code: statistics in fp32; the
// normalised value is cast to the weight dtype (bf16/f16) before the weight
// multiply. References: src/engine/ref/norm.ts.
import { Tensor, shapeStr } from '../tensor.js';
import { record } from '../autograd.js';
import { backend } from '../backend.js';
import { fromF32 } from './util.js';
import { roundBf16 } from '../dtype.js';

export function rmsnorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const C = x.dim(-1);
  if (weight.ndim !== 1 || weight.shape[0] !== C) throw new RangeError(`rmsnorm: weight ${shapeStr(weight.shape)} does not match input ${shapeStr(x.shape)}`);
  if (x.dtype === 'i32') throw new TypeError('rmsnorm: input must be a float tensor');
  const rows = x.size / C;
  const xv = x.f32(), wv = weight.f32();
  const y = new Float32Array(xv.length), rstd = new Float32Array(rows);
  const lowPrecision = weight.dtype === 'bf16';
  if (lowPrecision) {
    // y = bf16(x * rstd) * w, rounded again: the official cast order.
    backend().rmsnormFwd(xv, new Float32Array(C).fill(1), y, rstd, rows, C, eps);
    for (let i = 0; i < y.length; i++) y[i] = roundBf16(roundBf16(y[i]!) * wv[i % C]!);
  } else {
    backend().rmsnormFwd(xv, wv, y, rstd, rows, C, eps);
  }
  const outDtype = weight.dtype === 'f32' ? 'f32' : weight.dtype;
  return record(fromF32(y, x.shape, outDtype), 'rmsnorm', [x, weight], (g) => {
    const dx = new Float32Array(xv.length), dw = new Float32Array(C);
    backend().rmsnormBwd(xv, wv, rstd, g.f32(), dx, dw, rows, C);
    return [Tensor.from(dx, x.shape), Tensor.from(dw, weight.shape)];
  });
}

/** Each row of a 2-D tensor divided by max(||row||_2, eps) (torch.nn.functional.normalize, dim=1). */
export function l2normRows(w: Tensor, eps = 1e-12): Tensor {
  if (w.ndim !== 2) throw new RangeError(`l2normRows: expected a 2-D tensor, got ${shapeStr(w.shape)}`);
  const [rows, cols] = w.shape as [number, number];
  const x = w.f32();
  const y = new Float32Array(x.length), norm = new Float32Array(rows);
  backend().l2normFwd(x, y, norm, rows, cols, eps);
  return record(fromF32(y, w.shape, w.dtype), 'l2normRows', [w], (g) => {
    const dx = new Float32Array(x.length);
    backend().l2normBwd(y, norm, g.f32(), dx, rows, cols, eps);
    return [Tensor.from(dx, w.shape)];
  });
}
