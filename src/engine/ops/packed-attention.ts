// Self-attention straight from a W_pack projection, for training and
// cache-free forwards: qkv [B, T, 3C] (per position: q | k | v, each H heads
// of D) -> [B, T, C]. RoPE, when given, is applied to q and k inside; q, k
// and v are read in place through strides, and the backward writes a single
// [B, T, 3C] gradient, so no head split, permute or narrow is ever copied.
// Numerically identical to rope() + attention() on views (same kernels).
// With `segments` (packed fine-tuning rows), attention stays inside each
// [start, start + len) span of a row: a block-diagonal causal mask, computed
// as one kernel call per span on sub-views (B = 1, T = len), so a packed row
// gives exactly the numbers of its conversations run one by one. Positions
// outside every span (row padding) get a zero output and zero gradient.
// Where the backend lacks the fused attention (or RoPE) kernel, the same
// computation runs composed: views of q, k, v, rope(), and the composed
// attention with the block-diagonal mask (packedSelfAttentionComposed).
import { Tensor, shapeStr } from '../tensor.js';
import { record } from '../autograd.js';
import { backend } from '../backend.js';
import type { NativeAttnOptions } from '../native.js';
import { rope, tablesForBatch } from './position.js';
import { f32Buffer } from './util.js';
import { narrow, permute, reshape } from './shape.js';
import { attentionFromMask, attentionMask } from './attention.js';

export interface PackedAttentionOptions {
  rope?: { cos: Float32Array; sin: Float32Array };  // [B*T, D] or [T, D] tables (fp32)
  alibiSlopes?: Float32Array;
  keyMask?: Int32Array;    // [B, T]
  queryMask?: Int32Array;  // [B, T] (see AttentionOptions.queryMask)
  /** Packed rows: (b, start, len) triples, spans disjoint within a row; excludes the masks. */
  segments?: Int32Array;
}

function checkPacked(qkv: Tensor, heads: number, o: PackedAttentionOptions): { B: number; T: number; C: number; H: number; D: number } {
  if (qkv.ndim !== 3 || qkv.shape[2]! % 3 !== 0) throw new RangeError(`packedSelfAttention: expected qkv [B, T, 3C], got ${shapeStr(qkv.shape)}`);
  const [B, T, C3] = qkv.shape as [number, number, number];
  const C = C3 / 3, H = heads, D = C / H;
  if (!Number.isInteger(D) || D % 2) throw new RangeError(`packedSelfAttention: hidden ${C} does not split into ${H} heads of even size`);
  if (o.alibiSlopes && o.alibiSlopes.length !== H) throw new RangeError(`packedSelfAttention: ${o.alibiSlopes.length} ALiBi slopes for ${H} heads`);
  for (const [n, m] of [['keyMask', o.keyMask], ['queryMask', o.queryMask]] as const)
    if (m && m.length !== B * T) throw new RangeError(`packedSelfAttention: ${n} has ${m.length} entries, expected B*T = ${B * T}`);
  const seg = o.segments;
  if (seg) {
    if (o.keyMask || o.queryMask) throw new RangeError('packedSelfAttention: segments exclude keyMask / queryMask');
    if (seg.length % 3) throw new RangeError('packedSelfAttention: segments must be (b, start, len) triples');
    for (let i = 0; i < seg.length; i += 3)
      if (!(seg[i]! >= 0 && seg[i]! < B && seg[i + 1]! >= 0 && seg[i + 2]! > 0 && seg[i + 1]! + seg[i + 2]! <= T))
        throw new RangeError(`packedSelfAttention: segment (${seg[i]}, ${seg[i + 1]}, ${seg[i + 2]}) lies outside [${B}, ${T}]`);
  }
  return { B, T, C, H, D };
}

export function packedSelfAttention(qkv: Tensor, heads: number, o: PackedAttentionOptions = {}): Tensor {
  const { B, T, C, H, D } = checkPacked(qkv, heads, o);
  if (!backend().supportsOp('attention') || (o.rope && !backend().supportsOp('rope'))) return packedSelfAttentionComposed(qkv, heads, o);
  const C3 = 3 * C;
  const seg = o.segments;
  const x = qkv.f32();
  let cos: Float32Array | undefined, sin: Float32Array | undefined;
  if (o.rope) ({ cos, sin } = tablesForBatch(o.rope.cos, o.rope.sin, B, T, D, 'packedSelfAttention'));
  const packed = [T * C3, D, C3];  // (b, h, t) strides inside qkv
  const dense = [T * C, D, C];     // (b, h, t) strides of a [B, T, H, D] buffer
  const dims = { B, T, H, D, sb: T * C3, st: C3, sh: D };
  let qData = x, kData = x.subarray(C), qStr = packed, kStr = packed;
  if (cos && sin) {
    qData = f32Buffer(B * T * C);
    kData = f32Buffer(B * T * C);
    backend().rope(x, qData, dims, cos, sin, false);
    backend().rope(x.subarray(C), kData, dims, cos, sin, false);
    qStr = dense; kStr = dense;
  }
  const vData = x.subarray(2 * C);
  const out = f32Buffer(B * T * C), lse = f32Buffer(B * H * T);
  const kopts: NativeAttnOptions = { B, H, Tq: T, Tk: T, D, q: qStr, k: kStr, v: packed, o: dense, past: 0, causal: true, scale: 1 / Math.sqrt(D), ...(o.queryMask ? { queryMask: o.queryMask } : {}) };
  const args = { opts: kopts, slopes: o.alibiSlopes ?? null, keyMask: o.keyMask ?? null };
  // the element offset of row b, time t in a buffer of `width` per position
  const at = (b: number, t: number, width: number) => (b * T + t) * width;
  const qW = cos ? C : C3;  // width of q / k rows (dense after RoPE, else inside qkv)
  const segLse: Float32Array[] = [];
  if (seg) {
    for (let i = 0; i < seg.length; i += 3) {
      const b = seg[i]!, s0 = seg[i + 1]!, n = seg[i + 2]!;
      const l = f32Buffer(H * n);
      segLse.push(l);
      backend().attnFwd({ ...args, opts: { ...kopts, B: 1, Tq: n, Tk: n } }, qData.subarray(at(b, s0, qW)), kData.subarray(at(b, s0, qW)), vData.subarray(at(b, s0, C3)), out.subarray(at(b, s0, C)), l);
    }
  } else backend().attnFwd(args, qData, kData, vData, out, lse);
  /** The backward kernel over the whole batch, or span by span. */
  const bwd = (bo: NativeAttnOptions, gO: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array, dqW: number, dvW: number) => {
    if (!seg) { backend().attnBwd({ ...args, opts: bo }, qData, kData, vData, out, lse, gO, dq, dk, dv); return; }
    for (let i = 0, j = 0; i < seg.length; i += 3, j++) {
      const b = seg[i]!, s0 = seg[i + 1]!, n = seg[i + 2]!;
      backend().attnBwd({ ...args, opts: { ...bo, B: 1, Tq: n, Tk: n } }, qData.subarray(at(b, s0, qW)), kData.subarray(at(b, s0, qW)), vData.subarray(at(b, s0, C3)),
        out.subarray(at(b, s0, C)), segLse[j]!, gO.subarray(at(b, s0, C)), dq.subarray(at(b, s0, dqW)), dk.subarray(at(b, s0, dqW)), dv.subarray(at(b, s0, dvW)));
    }
  };
  const result = Tensor.from(out, [B, T, C]);
  return record(result, 'packedSelfAttention', [qkv], (g) => {
    const dqkv = f32Buffer(B * T * C3);
    const rows = B * T;
    if (cos && sin) {
      const dq = f32Buffer(B * T * C), dk = f32Buffer(B * T * C);
      bwd({ ...kopts, dq: dense, dk: dense, dv: packed }, g.f32(), dq, dk, dqkv.subarray(2 * C), C, C3);
      // undo the rotation, then place the rows into the q and k slots of dqkv
      const tmp = f32Buffer(B * T * C);
      const contiguous = { B, T, H, D, sb: T * C, st: C, sh: D };
      backend().rope(dq, tmp, contiguous, cos, sin, true);
      for (let r = 0; r < rows; r++) dqkv.set(tmp.subarray(r * C, (r + 1) * C), r * C3);
      backend().rope(dk, tmp, contiguous, cos, sin, true);
      for (let r = 0; r < rows; r++) dqkv.set(tmp.subarray(r * C, (r + 1) * C), r * C3 + C);
      for (const scratch of [dq, dk, tmp]) backend().free(scratch);
    } else {
      bwd({ ...kopts, dq: packed, dk: packed, dv: packed }, g.f32(), dqkv, dqkv.subarray(C), dqkv.subarray(2 * C), C3, C3);
    }
    return [Tensor.from(dqkv, [B, T, C3])];
  });
}

/** packedSelfAttention from views, rope() and the composed attention (its specification). */
export function packedSelfAttentionComposed(qkv: Tensor, heads: number, o: PackedAttentionOptions = {}): Tensor {
  const { B, T, C, H, D } = checkPacked(qkv, heads, o);
  const part = (i: number): Tensor => {
    const t = reshape(narrow(qkv, 2, i * C, C), [B, T, H, D]);
    return permute(o.rope && i < 2 ? rope(t, o.rope.cos, o.rope.sin) : t, [0, 2, 1, 3]);
  };
  const mask = attentionMask({ B, H, Tq: T, Tk: T, causal: true, past: 0, ...(o.alibiSlopes ? { alibiSlopes: o.alibiSlopes } : {}),
    ...(o.keyMask ? { keyMask: o.keyMask } : {}), ...(o.queryMask ? { queryMask: o.queryMask } : {}), ...(o.segments ? { segments: o.segments } : {}) });
  const y = attentionFromMask(part(0), part(1), part(2), 1 / Math.sqrt(D), mask);  // [B, H, T, D]
  return reshape(permute(y, [0, 2, 1, 3]), [B, T, C]);
}
