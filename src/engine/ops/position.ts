// Position encodings of Baichuan 2: RoPE for 7B (SPEC §4.5), ALiBi slopes for
// 13B (SPEC §4.6; the bias itself is applied inside attention).
// RoPE: GPT-NeoX rotate-half layout; tables and the rotation in fp32 as the
// official code (inv_freq, t * inv_freq and cos/sin each rounded to f32).
// rope() is the fused kernel; ropeComposed() its specification from primitive
// ops, run where the backend lacks the kernel. References: src/engine/ref/rope.ts.
import { Tensor, shapeStr } from '../tensor.js';
import { record } from '../autograd.js';
import { backend } from '../backend.js';
import { f32Buffer, fromF32 } from './util.js';
import { cast } from './shape.js';
import { add, mul } from './elementwise.js';
import { matmul } from './matmul.js';

const f = Math.fround;

/** ALiBi slopes for any head count (powers of two, and e.g. 40 or 6 heads via the interleave rule). */
export function alibiSlopes(heads: number): Float32Array {
  if (!Number.isInteger(heads) || heads < 1) throw new RangeError(`alibiSlopes: heads must be a positive integer, got ${heads}`);
  const pow2 = (n: number): number[] => {
    const start = 2 ** -(2 ** -(Math.log2(n) - 3));
    return Array.from({ length: n }, (_, i) => start * start ** i);
  };
  const interleave = (n: number): number[] => {
    if (Number.isInteger(Math.log2(n))) return pow2(n);
    const closest = 2 ** Math.floor(Math.log2(n));
    return pow2(closest).concat(interleave(2 * closest).filter((_, i) => i % 2 === 0).slice(0, n - closest));
  };
  return Float32Array.from(interleave(heads));
}

/** inv_freq[i] = 1 / base^(2i/D), computed in f32 steps like torch. */
export function ropeInvFreq(D: number, base = 10000): Float32Array {
  if (D % 2 !== 0) throw new RangeError(`rope: head dim ${D} must be even`);
  const inv = new Float32Array(D / 2);
  for (let i = 0; i < D / 2; i++) inv[i] = f(1 / f(Math.pow(base, f((2 * i) / D))));
  return inv;
}

/** cos/sin tables [positions.length, D] for the given absolute positions (fp32). */
export function ropeTables(positions: ArrayLike<number>, D: number, base = 10000): { cos: Float32Array; sin: Float32Array } {
  const inv = ropeInvFreq(D, base);
  const half = D / 2;
  const n = positions.length;
  const cos = new Float32Array(n * D), sin = new Float32Array(n * D);
  for (let p = 0; p < n; p++) {
    const t = f(positions[p]!);
    for (let i = 0; i < half; i++) {
      const fr = f(t * inv[i]!);
      const c = Math.cos(fr), s = Math.sin(fr);
      cos[p * D + i] = c; cos[p * D + half + i] = c;
      sin[p * D + i] = s; sin[p * D + half + i] = s;
    }
  }
  return { cos, sin };
}

/** Tables of T rows shared by every batch row, repeated to B*T rows; B*T-row tables are returned as they are. */
export function tablesForBatch(cos: Float32Array, sin: Float32Array, B: number, T: number, D: number, op: string): { cos: Float32Array; sin: Float32Array } {
  let c = cos, s = sin;
  if (c.length === T * D && B > 1) {
    c = new Float32Array(B * T * D); s = new Float32Array(B * T * D);
    for (let b = 0; b < B; b++) { c.set(cos, b * T * D); s.set(sin, b * T * D); }
  }
  if (c.length !== B * T * D || s.length !== B * T * D)
    throw new RangeError(`${op}: RoPE tables hold ${cos.length / D} rows of width ${D}, need ${T} or ${B * T}`);
  return { cos: c, sin: s };
}

function checkRope(x: Tensor): [number, number, number, number] {
  if (x.ndim !== 4) throw new RangeError(`rope: expected x [B, T, H, D], got ${shapeStr(x.shape)}`);
  return x.shape as [number, number, number, number];
}

/**
 * Rotate x [B, T, H, D] (any strides, last dim contiguous) by per-(b, t) tables
 * cos/sin of B*T rows (or T rows shared by every batch). Output is contiguous.
 */
export function rope(x: Tensor, cos: Float32Array, sin: Float32Array): Tensor {
  const [B, T, H, D] = checkRope(x);
  if (!backend().supportsOp('rope')) return ropeComposed(x, cos, sin);
  const src = x.strides[3] !== 1 || x.dtype !== 'f32' ? x.astype('f32') : x;
  const { cos: c, sin: s } = tablesForBatch(cos, sin, B, T, D, 'rope');
  const y = f32Buffer(B * T * H * D);
  const data = (src.data as Float32Array).subarray(src.offset);
  backend().rope(data, y, { B, T, H, D, sb: src.strides[0]!, st: src.strides[1]!, sh: src.strides[2]! }, c, s, false);
  if (src !== x) backend().free(src.data);
  return record(fromF32(y, x.shape, x.dtype), 'rope', [x], (g) => {
    const dx = f32Buffer(y.length);
    backend().rope(g.f32(), dx, { B, T, H, D, sb: T * H * D, st: H * D, sh: D }, c, s, true);
    return [Tensor.from(dx, x.shape)];
  });
}

/** rotate_half as a [D, D] matrix R (x R = [-x2, x1]): entries 0 and +-1, so the product is exact. */
function rotateHalfMatrix(D: number): Tensor {
  const half = D / 2;
  const r = f32Buffer(D * D);
  for (let j = 0; j < half; j++) { r[(j + half) * D + j] = -1; r[j * D + j + half] = 1; }
  return Tensor.from(r, [D, D]);
}

/** rope from primitives: x cos + rotate_half(x) sin in f32 (GPT-NeoX layout), rounded to x's dtype. */
export function ropeComposed(x: Tensor, cos: Float32Array, sin: Float32Array): Tensor {
  const [B, T, , D] = checkRope(x);
  const { cos: c, sin: s } = tablesForBatch(cos, sin, B, T, D, 'rope');
  const x32 = cast(x, 'f32');
  const y = add(mul(x32, Tensor.from(c, [B, T, 1, D])), mul(matmul(x32, rotateHalfMatrix(D)), Tensor.from(s, [B, T, 1, D])));
  return cast(y, x.dtype);
}
