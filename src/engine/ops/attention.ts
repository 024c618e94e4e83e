// Fused scaled-dot-product attention (flash style, see native/src/impl/attention.h):
// causal with a KV-cache offset, optional ALiBi slopes (bias slope * (j - i)),
// optional key padding mask. Never builds a T x T matrix; keeps the per-query
// log-sum-exp for the backward. attentionComposed() is its specification from
// primitive ops (scores, additive mask, softmax, product), run where the
// backend lacks the kernel. Reference: src/engine/ref/attention.ts.
import { Tensor, shapeStr } from '../tensor.js';
import { record, ownedGrad } from '../autograd.js';
import { backend } from '../backend.js';
import { cast, permute, transpose } from './shape.js';
import { f32Buffer, fromF32 } from './util.js';
import { add, mul, scale } from './elementwise.js';
import { matmul } from './matmul.js';
import { softmax } from './softmax.js';
import type { NativeAttnOptions } from '../native.js';

export interface AttentionOptions {
  /** Key j is visible to query i iff j <= past + i (default true). */
  causal?: boolean;
  /** Absolute position of query 0 = number of cached keys before it (default Tk - Tq when causal, else 0). */
  past?: number;
  /** Per-head ALiBi slopes [H]. */
  alibiSlopes?: Float32Array;
  /** [B, Tk] with 0 for padding keys. */
  keyMask?: Int32Array;
  /** Score scale (default 1/sqrt(D)). */
  scale?: number;
  /**
   * [B, Tq] with 0 for padding queries, which then attend uniformly to all Tk
   * keys (future ones too). This reproduces the official 13B (ALiBi) code, whose
   * 2-D mask sets a padding query's whole row to dtype-min (and clamps -inf up
   * to dtype-min); it only matters where such rows are used, i.e. the max-z
   * term that averages over them.
   */
  queryMask?: Int32Array;
}

function kernelInput(t: Tensor): Tensor {
  return t.dtype === 'f32' && t.strides[3] === 1 ? t : t.astype('f32');
}

const stridesOf = (t: Tensor): number[] => [t.strides[0]!, t.strides[1]!, t.strides[2]!];
const dataOf = (t: Tensor): Float32Array => (t.data as Float32Array).subarray(t.offset);

interface Checked { B: number; H: number; Tq: number; Tk: number; D: number; causal: boolean; past: number; scale: number }

function checkAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Checked {
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) throw new RangeError(`attention: expected 4-D q, k, v, got ${shapeStr(q.shape)}, ${shapeStr(k.shape)}, ${shapeStr(v.shape)}`);
  const [B, H, Tq, D] = q.shape as [number, number, number, number];
  const Tk = k.shape[2]!;
  const kvShape = [B, H, Tk, D];
  for (const [name, t] of [['k', k], ['v', v]] as const)
    if (t.shape.some((d, i) => d !== kvShape[i])) throw new RangeError(`attention: ${name} ${shapeStr(t.shape)} does not match q ${shapeStr(q.shape)} (expected ${shapeStr(kvShape)})`);
  const causal = opts.causal ?? true;
  const past = opts.past ?? (causal ? Tk - Tq : 0);
  if (causal && (past < 0 || past + Tq > Tk)) throw new RangeError(`attention: past=${past} with Tq=${Tq} exceeds the ${Tk} keys`);
  if (opts.alibiSlopes && opts.alibiSlopes.length !== H) throw new RangeError(`attention: ${opts.alibiSlopes.length} ALiBi slopes for ${H} heads`);
  if (opts.keyMask && opts.keyMask.length !== B * Tk) throw new RangeError(`attention: keyMask has ${opts.keyMask.length} entries, expected B*Tk = ${B * Tk}`);
  if (opts.queryMask && opts.queryMask.length !== B * Tq) throw new RangeError(`attention: queryMask has ${opts.queryMask.length} entries, expected B*Tq = ${B * Tq}`);
  return { B, H, Tq, Tk, D, causal, past, scale: opts.scale ?? 1 / Math.sqrt(D) };
}

/** q [B, H, Tq, D], k and v [B, H, Tk, D] -> [B, H, Tq, D] (stored as [B, Tq, H, D], so merging heads is free). */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const { B, H, Tq, Tk, D, causal, past, scale: sc } = checkAttention(q, k, v, opts);
  if (!backend().supportsOp('attention')) return attentionComposed(q, k, v, opts);
  const qi = kernelInput(q), ki = kernelInput(k), vi = kernelInput(v);
  const oStrides = [Tq * H * D, D, H * D];
  const o = f32Buffer(B * Tq * H * D), lse = f32Buffer(B * H * Tq);
  const kopts: NativeAttnOptions = {
    B, H, Tq, Tk, D, q: stridesOf(qi), k: stridesOf(ki), v: stridesOf(vi), o: oStrides,
    past, causal, scale: sc,
    ...(opts.queryMask ? { queryMask: opts.queryMask } : {}),
  };
  const args = { opts: kopts, slopes: opts.alibiSlopes ?? null, keyMask: opts.keyMask ?? null };
  backend().attnFwd(args, dataOf(qi), dataOf(ki), dataOf(vi), o, lse);
  const stored = fromF32(o, [B, Tq, H, D], q.dtype === k.dtype && k.dtype === v.dtype ? q.dtype : 'f32');
  const out = permute(stored, [0, 2, 1, 3]);
  return record(out, 'attention', [q, k, v], (g) => {
    // dO in its own layout (the kernel takes its strides: no copy into o's), and
    // the gradients written contiguous [B, H, T, D], the inputs' shape, so the
    // tape takes them as they are
    const gO = kernelInput(g);
    const dq = f32Buffer(B * H * Tq * D), dk = f32Buffer(B * H * Tk * D), dv = f32Buffer(B * H * Tk * D);
    const qStrides = [H * Tq * D, Tq * D, D], kvStrides = [H * Tk * D, Tk * D, D];
    backend().attnBwd({ ...args, opts: { ...kopts, dO: stridesOf(gO), dq: qStrides, dk: kvStrides, dv: kvStrides } },
      dataOf(qi), dataOf(ki), dataOf(vi), o, lse, dataOf(gO), dq, dk, dv);
    return [dq, dk, dv].map((buf, i) => ownedGrad(new Tensor(buf, [B, H, i === 0 ? Tq : Tk, D], 'f32')));  // fresh, shared with nobody
  });
}

/** Which keys each query sees, as the composed attention needs it. */
export interface MaskSpec {
  B: number; H: number; Tq: number; Tk: number;
  causal: boolean; past: number;
  alibiSlopes?: Float32Array; keyMask?: Int32Array; queryMask?: Int32Array;
  /** (b, start, len) spans of packed rows (Tq = Tk): keys visible only inside the query's span; queries outside every span give zeros. */
  segments?: Int32Array;
}

/**
 * The additive bias (ALiBi slope * (j - i_abs) where visible, -inf where not)
 * and the multiplicative masks of the composed attention: `keep` zeroes the
 * probabilities of hidden keys (and whole rows with no visible key, which the
 * kernel and the reference give as zeros), `rows` zeroes the scores of padding
 * queries so they attend uniformly to every key (AttentionOptions.queryMask).
 */
export function attentionMask(m: MaskSpec): { bias: Tensor; keep: Tensor; rows: Tensor | null } {
  const { B, H, Tq, Tk } = m;
  const bias = f32Buffer(B * H * Tq * Tk), keep = f32Buffer(B * H * Tq * Tk);
  let seg: Int32Array | null = null;
  if (m.segments) {
    seg = new Int32Array(B * Tk).fill(-1);
    for (let i = 0, n = 0; i < m.segments.length; i += 3, n++)
      seg.fill(n, m.segments[i]! * Tk + m.segments[i + 1]!, m.segments[i]! * Tk + m.segments[i + 1]! + m.segments[i + 2]!);
  }
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Tq; i++) {
        const row = ((b * H + h) * Tq + i) * Tk;
        if (m.queryMask && m.queryMask[b * Tq + i] === 0) { keep.fill(1, row, row + Tk); continue; }
        const qi = m.past + i;
        let any = false;
        for (let j = 0; j < Tk; j++) {
          const visible = (!m.causal || j <= qi) && (!m.keyMask || m.keyMask[b * Tk + j] !== 0) && (!seg || (seg[b * Tk + i] !== -1 && seg[b * Tk + j] === seg[b * Tk + i]));
          bias[row + j] = visible ? (m.alibiSlopes ? Math.fround(m.alibiSlopes[h]! * (j - qi)) : 0) : -Infinity;
          keep[row + j] = visible ? 1 : 0;
          any ||= visible;
        }
        if (!any) bias.fill(0, row, row + Tk);
      }
  let rows: Tensor | null = null;
  if (m.queryMask) rows = Tensor.from(Array.from(m.queryMask, (x) => (x === 0 ? 0 : 1)), [B, 1, Tq, 1]);
  return { bias: Tensor.from(bias, [B, H, Tq, Tk]), keep: Tensor.from(keep, [B, H, Tq, Tk]), rows };
}

/** softmax(q k^T * scale [* rows] + bias) * keep @ v, in f32, rounded to the inputs' dtype. */
export function attentionFromMask(q: Tensor, k: Tensor, v: Tensor, sc: number, mask: ReturnType<typeof attentionMask>): Tensor {
  const dtype = q.dtype === k.dtype && k.dtype === v.dtype ? q.dtype : 'f32';
  let scores = scale(matmul(cast(q, 'f32'), transpose(cast(k, 'f32'), -1, -2)), sc);
  if (mask.rows) scores = mul(scores, mask.rows);
  const p = mul(softmax(add(scores, mask.bias)), mask.keep);
  return cast(matmul(p, cast(v, 'f32')), dtype);
}

/** attention from primitives (materialises the [B, H, Tq, Tk] scores): the specification of the fused kernel. */
export function attentionComposed(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const { B, H, Tq, Tk, causal, past, scale: sc } = checkAttention(q, k, v, opts);
  const mask = attentionMask({ B, H, Tq, Tk, causal, past, ...(opts.alibiSlopes ? { alibiSlopes: opts.alibiSlopes } : {}),
    ...(opts.keyMask ? { keyMask: opts.keyMask } : {}), ...(opts.queryMask ? { queryMask: opts.queryMask } : {}) });
  return attentionFromMask(q, k, v, sc, mask);
}
