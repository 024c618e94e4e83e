// Fused scaled-dot-product attention (flash style, see native/src/impl/attention.h):
// causal with a KV-cache offset, optional ALiBi slopes (bias slope * (j - i)),
// optional key padding mask. Never builds a T x T matrix; keeps the per-query
// log-sum-exp for the backward. Reference: src/engine/ref/attention.ts.
import { Tensor, shapeStr } from '../tensor.js';
import { record } from '../autograd.js';
import { backend } from '../backend.js';
import { contiguous, permute } from './shape.js';
import { fromF32 } from './util.js';
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
  return t.dtype === 'f32' && t.strides[3] === 1 ? t : contiguous(t.to('f32').detach()).detach();
}

const stridesOf = (t: Tensor): number[] => [t.strides[0]!, t.strides[1]!, t.strides[2]!];
const dataOf = (t: Tensor): Float32Array => (t.data as Float32Array).subarray(t.offset);

/** q [B, H, Tq, D], k and v [B, H, Tk, D] -> [B, H, Tq, D] (stored as [B, Tq, H, D], so merging heads is free). */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
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
  const qi = kernelInput(q), ki = kernelInput(k), vi = kernelInput(v);
  const oStrides = [Tq * H * D, D, H * D];
  const o = new Float32Array(B * Tq * H * D), lse = new Float32Array(B * H * Tq);
  const kopts: NativeAttnOptions = {
    B, H, Tq, Tk, D, q: stridesOf(qi), k: stridesOf(ki), v: stridesOf(vi), o: oStrides,
    past, causal, scale: opts.scale ?? 1 / Math.sqrt(D),
    ...(opts.queryMask ? { queryMask: opts.queryMask } : {}),
  };
  const args = { opts: kopts, slopes: opts.alibiSlopes ?? null, keyMask: opts.keyMask ?? null };
  backend().attnFwd(args, dataOf(qi), dataOf(ki), dataOf(vi), o, lse);
  const stored = fromF32(o, [B, Tq, H, D], q.dtype === k.dtype && k.dtype === v.dtype ? q.dtype : 'f32');
  const out = permute(stored, [0, 2, 1, 3]);
  return record(out, 'attention', [q, k, v], (g) => {
    const gO = contiguous(permute(g, [0, 2, 1, 3]));  // [B, Tq, H, D]: the layout of o
    const dq = new Float32Array(B * Tq * H * D), dk = new Float32Array(B * Tk * H * D), dv = new Float32Array(B * Tk * H * D);
    const kvStrides = [Tk * H * D, D, H * D];
    backend().attnBwd({ ...args, opts: { ...kopts, dq: oStrides, dk: kvStrides, dv: kvStrides } },
      dataOf(qi), dataOf(ki), dataOf(vi), o, lse, gO.f32(), dq, dk, dv);
    const view = (buf: Float32Array, T: number, st: number[]): Tensor => new Tensor(buf, [B, H, T, D], 'f32', [st[0]!, st[1]!, st[2]!, 1]);
    return [view(dq, Tq, oStrides), view(dk, Tk, kvStrides), view(dv, Tk, kvStrides)];
  });
}
