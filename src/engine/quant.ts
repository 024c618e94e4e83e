// Quantised weights: weight-only, per-group, 8-bit or 4-bit (layout in
// native/src/impl/quant.h and docs/QUANTIZATION.md). A QuantizedWeight is
// not a Tensor: it only ever enters `qlinear`, a product whose activations
// are quantised to int8 per 32-element block inside the kernel, as llama.cpp
// does for Q8_0/Q4_0. The weight is frozen: qlinear's backward computes only
// the input gradient dx = g W (LoRA on a quantised base), dequantising a block
// of rows at a time into a small f32 buffer and accumulating with the GEMM, so
// a full f32 copy of the weight never exists.
import { Tensor, shapeStr } from './tensor.js';
import { backend } from './backend.js';
import { record } from './autograd.js';
import { cast } from './ops/shape.js';

export type QuantBits = 4 | 8;
export const GROUP_SIZES = [32, 64, 128] as const;

export class QuantizedWeight {
  constructor(
    readonly N: number,            // output features (rows)
    readonly K: number,            // input features
    readonly bits: QuantBits,
    readonly groupSize: number,
    readonly q: Uint8Array,        // 8-bit: int8 [N, K]; 4-bit: [N, K / 2] packed nibbles
    readonly scales: Uint16Array,  // f16 [N, K / groupSize]
  ) {
    QuantizedWeight.check(N, K, bits, groupSize);
    if (q.length !== N * (bits === 8 ? K : K / 2)) throw new RangeError(`QuantizedWeight: q has ${q.length} bytes, [${N}, ${K}] at ${bits} bits needs ${N * (bits === 8 ? K : K / 2)}`);
    if (scales.length !== (N * K) / groupSize) throw new RangeError(`QuantizedWeight: ${scales.length} scales, needs ${(N * K) / groupSize}`);
  }

  static check(N: number, K: number, bits: number, groupSize: number): void {
    if (bits !== 4 && bits !== 8) throw new RangeError(`quantisation: bits must be 4 or 8, got ${bits}`);
    if (!(GROUP_SIZES as readonly number[]).includes(groupSize)) throw new RangeError(`quantisation: group size must be 32, 64 or 128, got ${groupSize}`);
    if (!(N > 0 && K > 0 && K % groupSize === 0)) throw new RangeError(`quantisation: a [${N}, ${K}] weight cannot be cut into groups of ${groupSize} along its rows`);
  }

  /** Quantise an f32 or bf16 weight [N, K]. */
  static quantize(w: Tensor, bits: QuantBits, groupSize: number): QuantizedWeight {
    if (w.ndim !== 2) throw new RangeError(`quantize: weight must be 2-D [out, in], got ${shapeStr(w.shape)}`);
    const [N, K] = w.shape as [number, number];
    QuantizedWeight.check(N, K, bits, groupSize);
    const src = w.dtype === 'bf16' && w.isContiguous() ? (w.data as Uint16Array).subarray(w.offset, w.offset + w.size) : w.f32();
    const q = new Uint8Array(N * (bits === 8 ? K : K / 2));
    const scales = new Uint16Array((N * K) / groupSize);
    backend().quantize(src, N, K, groupSize, bits, q, scales);
    return new QuantizedWeight(N, K, bits, groupSize, q, scales);
  }

  dequantize(): Tensor {
    const out = new Float32Array(this.N * this.K);
    backend().dequantize(this.q, this.scales, this.N, this.K, this.groupSize, this.bits, out);
    return Tensor.fromStorage(out, [this.N, this.K], 'f32');
  }

  get bytes(): number {
    return this.q.byteLength + this.scales.byteLength;
  }
}

/** Rows of W dequantised per block in the backward pass (a [rows, K] f32 buffer). */
export const QLINEAR_BWD_ROWS = 256;

/** y = x W^T for x [..., K] (any float dtype; computed in f32) and a frozen quantised W [N, K]. */
export function qlinear(x: Tensor, w: QuantizedWeight): Tensor {
  if (x.ndim < 1 || x.dim(-1) !== w.K) throw new RangeError(`qlinear: input ${shapeStr(x.shape)} does not match quantised weight [${w.N}, ${w.K}]`);
  const M = x.size / w.K;
  const y = new Float32Array(M * w.N);
  backend().qmatmul(x.f32(), M, w.K, w.q, w.scales, w.N, w.groupSize, w.bits, y);
  const out = record(Tensor.fromStorage(y, [...x.shape.slice(0, -1), w.N], 'f32'), 'qlinear', [x], (g) => [Tensor.from(qlinearInputGrad(g.f32(), M, w), x.shape)]);
  return x.dtype === 'f32' ? out : cast(out, x.dtype);  // keep the activation dtype, as linear() does
}

/** dx [M, K] = g [M, N] W [N, K], W dequantised QLINEAR_BWD_ROWS rows at a time. */
export function qlinearInputGrad(g: Float32Array, M: number, w: QuantizedWeight, rowsPerBlock = QLINEAR_BWD_ROWS): Float32Array {
  const { N, K, groupSize: G, bits } = w;
  const dx = new Float32Array(M * K);
  const rowBytes = bits === 8 ? K : K / 2, rowScales = K / G;
  const block = new Float32Array(Math.min(rowsPerBlock, N) * K);
  for (let n0 = 0; n0 < N; n0 += rowsPerBlock) {
    const n = Math.min(rowsPerBlock, N - n0);
    const wb = block.subarray(0, n * K);
    backend().dequantize(w.q.subarray(n0 * rowBytes, (n0 + n) * rowBytes), w.scales.subarray(n0 * rowScales, (n0 + n) * rowScales), n, K, G, bits, wb);
    // dx += g[:, n0:n0+n] @ wb
    backend().gemm({ transA: false, transB: false, M, N: K, K: n, alpha: 1, beta: n0 === 0 ? 0 : 1, A: g.subarray(n0), lda: N, strideA: 0, B: wb, ldb: K, strideB: 0, C: dx, ldc: K, strideC: 0, batch: 1 });
  }
  return dx;
}

/** One decoder layer's weights as qdecodeLayer takes them (names as in src/model/layers.ts). */
export interface QDecodeLayerWeights {
  norm1: Tensor;  // [C] input_layernorm, f32 or bf16
  norm2: Tensor;  // [C] post_attention_layernorm, the same dtype
  eps: number;
  wpack: QuantizedWeight;  // [3C, C], rows q | k | v
  oproj: QuantizedWeight;  // [C, C]
  gate: QuantizedWeight;   // [F, C]
  up: QuantizedWeight;     // [F, C]
  down: QuantizedWeight;   // [C, F]
}

/** The layer's KV cache of one batch row: [H, capacity, D] f32 keys and values; the token goes to row Tk - 1. */
export interface QDecodeCache { keys: Float32Array; values: Float32Array; H: number; capacity: number; Tk: number }

/**
 * Whether qdecodeLayer can run a layer with these weights: the backend has the
 * kernel, the five Linears share one bit width and group size, and the norms are
 * both f32 or both bf16 (the dtypes whose rounding the kernel reproduces).
 */
export function canDecodeLayer(w: QDecodeLayerWeights): boolean {
  if (!backend().supportsOp('decodeLayer')) return false;
  const { wpack, oproj, gate, up, down, norm1, norm2 } = w;
  const all = [wpack, oproj, gate, up, down];
  if (!all.every((q) => q.bits === wpack.bits && q.groupSize === wpack.groupSize)) return false;
  const C = wpack.K, F = gate.N;
  if (wpack.N !== 3 * C || oproj.N !== C || oproj.K !== C || gate.K !== C || up.N !== F || up.K !== C || down.N !== C || down.K !== F) return false;
  return norm1.dtype === norm2.dtype && (norm1.dtype === 'f32' || norm1.dtype === 'bf16') && norm1.size === C && norm2.size === C;
}

/**
 * One decoder layer of a batch-1, one-token decode step in one backend call:
 * h [C] (f32, the residual stream) is updated in place and the token's k and v
 * are written to the cache. The result is bit-identical to the composed layer
 * (DecoderLayer.forward with a KvCache; test/model/fused-decode.test.ts), which
 * stays the specification and the path for everything else (prefill, batches,
 * padding, LoRA, gradients). `rope` is the position's table row [D] (RoPE) or
 * null (ALiBi, with `slopes` [H]).
 */
export function qdecodeLayer(h: Float32Array, w: QDecodeLayerWeights, cache: QDecodeCache, rope: { cos: Float32Array; sin: Float32Array } | null, slopes: Float32Array | null): void {
  const C = w.wpack.K;
  if (h.length !== C) throw new RangeError(`qdecodeLayer: h has ${h.length} entries, the layer's hidden size is ${C}`);
  const lin = (q: QuantizedWeight) => ({ q: q.q, scales: q.scales });
  backend().decodeLayer({
    h, norm1: w.norm1.f32(), norm2: w.norm2.f32(),
    wpack: lin(w.wpack), oproj: lin(w.oproj), gate: lin(w.gate), up: lin(w.up), down: lin(w.down),
    cos: rope?.cos ?? null, sin: rope?.sin ?? null, slopes,
    kCache: cache.keys, vCache: cache.values,
    C, H: cache.H, F: w.gate.N, Tk: cache.Tk, capacity: cache.capacity, G: w.wpack.groupSize, bits: w.wpack.bits, eps: w.eps, bf16: w.norm1.dtype === 'bf16',
  });
}
