// Quantised-weight rows: quantisation codes and scales (exact, f32 and bf16
// weights), and the quantised product (GEMV at M <= 8, the prefill GEMM
// above) for 8- and 4-bit weights against refQMatmul, the float64
// specification of the int8 arithmetic (src/engine/ref/quant.ts).
// Builds without int8 prefill (caps.int8Gemm false) compute M > 8 as f32
// activations x dequantised weights: their reference is that product, and
// against a build with int8 prefill they differ by the activation rounding
// (BOUNDS.q8).
import { native } from '../../src/engine/native.js';
import { refQuantize, refQMatmul } from '../../src/engine/ref/quant.js';
import { BOUNDS } from './bounds.js';
import { type KernelCase, randn, toBf16, memo } from './case.js';

/** M > 8 takes the prefill path, which has two arithmetics (see the file header). */
const prefill = (M: number) => M > 8;

export function qmatmulCase(bits: 4 | 8, M: number, N: number, K: number, G: number, perf?: { M: number; N: number; K: number }): KernelCase {
  return {
    name: `qmatmul q${bits} g${G} M=${M} ${N}x${K}`,
    kernels: ['quantize', 'qmatmul'], kind: 'forward', bound: BOUNDS.qdot,
    baselineBound: (caps, baseCaps) => (prefill(M) && caps.int8Gemm !== baseCaps.int8Gemm ? BOUNDS.q8 : BOUNDS.qdot),
    make(scale) {
      const d = scale === 'perf' && perf ? perf : { M, N, K };
      const w = randn(d.N * d.K, 5, 0.05), x = randn(d.M * d.K, 6);
      const q = new Uint8Array(d.N * (bits === 8 ? d.K : d.K / 2)), sc = new Uint16Array((d.N * d.K) / G);
      native.quantize(w, d.N, d.K, G, bits, q, sc);
      const y = new Float32Array(d.M * d.N);
      const rq = memo(() => refQuantize(w, d.N, d.K, G, bits));
      return {
        run() { native.qmatmul(x, d.M, d.K, q, sc, d.N, G, bits, y); return [y]; },
        ref(caps) {
          const { codes, scales } = rq();
          if (!prefill(d.M) || caps.int8Gemm) return [refQMatmul(x, d.M, d.K, codes, scales, d.N, G)];
          const dq = new Float64Array(d.N * d.K);
          for (let i = 0; i < dq.length; i++) dq[i] = codes[i]! * scales[Math.floor(i / G)]!;
          const out = new Float64Array(d.M * d.N);
          for (let m = 0; m < d.M; m++)
            for (let n = 0; n < d.N; n++) {
              let s = 0;
              for (let k = 0; k < d.K; k++) s += x[m * d.K + k]! * dq[n * d.K + k]!;
              out[m * d.N + n] = s;
            }
          return [out];
        },
        flops: 2 * d.M * d.N * d.K,
        bytes: q.byteLength + sc.byteLength,
        label: `qmatmul q${bits} g${G} M=${d.M} ${d.N}x${d.K}`,
      };
    },
  };
}

/** quantize then dequantize: codes x scales equal the reference's exactly (outliers owning their groups, an all-zero group); bf16 weights too. */
export function quantizeCase(bits: 4 | 8, G: number, dtype: 'f32' | 'bf16' = 'f32'): KernelCase {
  return {
    name: `quantize + dequantize q${bits} g${G}${dtype === 'bf16' ? ' bf16 weights' : ''}`, kernels: ['quantize', 'dequantize'], kind: 'exact', bound: BOUNDS.exact, baselineBound: BOUNDS.exact,
    make() {
      const N = 9, K = 256;
      const w32 = randn(N * K, 11 + G + bits, 0.05);
      w32[3] = 0.9; w32[K + 5] = -1.3;
      for (let i = 0; i < G; i++) w32[2 * K + i] = 0;
      const w = dtype === 'bf16' ? toBf16(w32) : { bits: w32, values: w32 };
      const q = new Uint8Array(N * (bits === 8 ? K : K / 2)), sc = new Uint16Array((N * K) / G), dq = new Float32Array(N * K);
      return {
        run() {
          native.quantize(w.bits, N, K, G, bits, q, sc);
          native.dequantize(q, sc, N, K, G, bits, dq);
          return [dq];
        },
        ref: memo(() => {
          const { codes, scales } = refQuantize(w.values, N, K, G, bits);
          return [Float64Array.from(codes, (c, i) => c * scales[Math.floor(i / G)]!)];
        }),
      };
    },
  };
}

export const QUANT_CASES: KernelCase[] = ([8, 4] as const).flatMap((bits) => [
  quantizeCase(bits, 32), quantizeCase(bits, 128), quantizeCase(bits, 64, 'bf16'),
  qmatmulCase(bits, 1, 37, 352, 32, { M: 1, N: 11008, K: 4096 }),
  qmatmulCase(bits, 3, 37, 384, 64),
  qmatmulCase(bits, 8, 33, 384, 128),
  qmatmulCase(bits, 13, 37, 352, 32, { M: 128, N: 11008, K: 4096 }),
  qmatmulCase(bits, 20, 70, 384, 64),
]).concat([
  // AMX int8 prefill edges (quant_amx.h; run here by the amxemu build): two 32-row activation steps and a
  // partial 32-row weight panel, and one big enough (M N K >= 2^22) to run on several threads
  qmatmulCase(8, 40, 45, 640, 128), qmatmulCase(4, 40, 45, 640, 32), qmatmulCase(4, 64, 96, 1024, 64),
]);
