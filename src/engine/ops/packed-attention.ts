// Self-attention straight from a W_pack projection, for training and
// cache-free forwards: qkv [B, T, 3C] (per position: q | k | v, each H heads
// of D) -> [B, T, C]. RoPE, when given, is applied to q and k inside; q, k
// and v are read in place through strides, and the backward writes a single
// [B, T, 3C] gradient, so no head split, permute or narrow is ever copied.
// Numerically identical to rope() + attention() on views (same kernels).
import { Tensor, shapeStr } from '../tensor.js';
import { record } from '../autograd.js';
import { backend } from '../backend.js';
import type { NativeAttnOptions } from '../native.js';
import { tablesForBatch } from './position.js';

export interface PackedAttentionOptions {
  rope?: { cos: Float32Array; sin: Float32Array };  // [B*T, D] or [T, D] tables (fp32)
  alibiSlopes?: Float32Array;
  keyMask?: Int32Array;    // [B, T]
  queryMask?: Int32Array;  // [B, T] (see AttentionOptions.queryMask)
}

export function packedSelfAttention(qkv: Tensor, heads: number, o: PackedAttentionOptions = {}): Tensor {
  if (qkv.ndim !== 3 || qkv.shape[2]! % 3 !== 0) throw new RangeError(`packedSelfAttention: expected qkv [B, T, 3C], got ${shapeStr(qkv.shape)}`);
  const [B, T, C3] = qkv.shape as [number, number, number];
  const C = C3 / 3, H = heads, D = C / H;
  if (!Number.isInteger(D) || D % 2) throw new RangeError(`packedSelfAttention: hidden ${C} does not split into ${H} heads of even size`);
  if (o.alibiSlopes && o.alibiSlopes.length !== H) throw new RangeError(`packedSelfAttention: ${o.alibiSlopes.length} ALiBi slopes for ${H} heads`);
  for (const [n, m] of [['keyMask', o.keyMask], ['queryMask', o.queryMask]] as const)
    if (m && m.length !== B * T) throw new RangeError(`packedSelfAttention: ${n} has ${m.length} entries, expected B*T = ${B * T}`);
  const x = qkv.f32();
  let cos: Float32Array | undefined, sin: Float32Array | undefined;
  if (o.rope) ({ cos, sin } = tablesForBatch(o.rope.cos, o.rope.sin, B, T, D, 'packedSelfAttention'));
  const packed = [T * C3, D, C3];  // (b, h, t) strides inside qkv
  const dense = [T * C, D, C];     // (b, h, t) strides of a [B, T, H, D] buffer
  const dims = { B, T, H, D, sb: T * C3, st: C3, sh: D };
  let qData = x, kData = x.subarray(C), qStr = packed, kStr = packed;
  if (cos && sin) {
    qData = new Float32Array(B * T * C);
    kData = new Float32Array(B * T * C);
    backend().rope(x, qData, dims, cos, sin, false);
    backend().rope(x.subarray(C), kData, dims, cos, sin, false);
    qStr = dense; kStr = dense;
  }
  const vData = x.subarray(2 * C);
  const out = new Float32Array(B * T * C), lse = new Float32Array(B * H * T);
  const kopts: NativeAttnOptions = { B, H, Tq: T, Tk: T, D, q: qStr, k: kStr, v: packed, o: dense, past: 0, causal: true, scale: 1 / Math.sqrt(D), ...(o.queryMask ? { queryMask: o.queryMask } : {}) };
  const args = { opts: kopts, slopes: o.alibiSlopes ?? null, keyMask: o.keyMask ?? null };
  backend().attnFwd(args, qData, kData, vData, out, lse);
  const result = Tensor.from(out, [B, T, C]);
  return record(result, 'packedSelfAttention', [qkv], (g) => {
    const dqkv = new Float32Array(B * T * C3);
    const rows = B * T;
    if (cos && sin) {
      const dq = new Float32Array(B * T * C), dk = new Float32Array(B * T * C);
      backend().attnBwd({ ...args, opts: { ...kopts, dq: dense, dk: dense, dv: packed } }, qData, kData, vData, out, lse, g.f32(), dq, dk, dqkv.subarray(2 * C));
      // undo the rotation, then place the rows into the q and k slots of dqkv
      const tmp = new Float32Array(B * T * C);
      const contiguous = { B, T, H, D, sb: T * C, st: C, sh: D };
      backend().rope(dq, tmp, contiguous, cos, sin, true);
      for (let r = 0; r < rows; r++) dqkv.set(tmp.subarray(r * C, (r + 1) * C), r * C3);
      backend().rope(dk, tmp, contiguous, cos, sin, true);
      for (let r = 0; r < rows; r++) dqkv.set(tmp.subarray(r * C, (r + 1) * C), r * C3 + C);
    } else {
      backend().attnBwd({ ...args, opts: { ...kopts, dq: packed, dk: packed, dv: packed } }, qData, kData, vData, out, lse, g.f32(), dqkv, dqkv.subarray(C), dqkv.subarray(2 * C));
    }
    return [Tensor.from(dqkv, [B, T, C3])];
  });
}
