// Quantised weights: weight-only, per-group, 8-bit or 4-bit (layout in
// native/src/impl/quant.h and docs/QUANTIZATION.md). A QuantizedWeight is
// not a Tensor: it only ever enters `qlinear`, an inference-time product
// (no autograd) whose activations are quantised to int8 per 32-element block
// inside the kernel, as llama.cpp does for Q8_0/Q4_0.
import { Tensor, shapeStr } from './tensor.js';
import { backend } from './backend.js';

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

/** y = x W^T for x [..., K] (any float dtype; computed in f32) and a quantised W [N, K]; inference only. */
export function qlinear(x: Tensor, w: QuantizedWeight): Tensor {
  if (x.ndim < 1 || x.dim(-1) !== w.K) throw new RangeError(`qlinear: input ${shapeStr(x.shape)} does not match quantised weight [${w.N}, ${w.K}]`);
  const M = x.size / w.K;
  const y = new Float32Array(M * w.N);
  backend().qmatmul(x.f32(), M, w.K, w.q, w.scales, w.N, w.groupSize, w.bits, y);
  const out = Tensor.fromStorage(y, [...x.shape.slice(0, -1), w.N], 'f32');
  return x.dtype === 'f32' ? out : out.to(x.dtype).detach();  // keep the activation dtype, as linear() does
}
