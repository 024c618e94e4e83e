// GEMM rows: C = alpha op(A) op(B) + beta C in f32, bf16 and mixed (f32 x bf16)
// at odd sizes, every layout, blocking edges (K around KC = 256, M beyond one
// A block, N = 1, the unpacked GEMV path at M <= 4), batches; and the
// backward: the GEMMs autograd runs for dA = dC op(B)^T and dB = op(A)^T dC,
// in the layouts the op layer passes, against finite differences.
// Reference: src/engine/ref/matmul.ts. Bound: BOUNDS.f32 (bf16 inputs are
// exact values; see ./bounds.ts), BOUNDS.fd for the backward.
import { native } from '../../src/engine/native.js';
import { matmulRef } from '../../src/engine/ref/index.js';
import { BOUNDS } from './bounds.js';
import { type KernelCase, randn, toBf16, dot, fd, memo } from './case.js';

export interface GemmShape { M: number; N: number; K: number; tA: boolean; tB: boolean; batch: number; alpha: number; beta: number }
type GemmDtype = 'f32' | 'bf16' | 'mixed';

const layout = (tA: boolean, tB: boolean) => `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}`;

/** Operands as the kernel takes them (f32 values or bf16 bits) and the values they stand for; mixed: f32 A (activations) x bf16 B (weights). */
function operands(dtype: GemmDtype, a32: Float32Array, b32: Float32Array) {
  const A = dtype === 'bf16' ? toBf16(a32) : { bits: a32, values: a32 };
  const B = dtype === 'f32' ? { bits: b32, values: b32 } : toBf16(b32);
  return { A, B };
}

/** Logical row-major A [M, K] and B [K, N] per batch from the stored layouts. */
function logical(A: ArrayLike<number>, B: ArrayLike<number>, s: Pick<GemmShape, 'M' | 'N' | 'K' | 'tA' | 'tB' | 'batch'>) {
  const { M, N, K, tA, tB, batch } = s;
  const Al = new Float64Array(batch * M * K), Bl = new Float64Array(batch * K * N);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) Al[b * M * K + i * K + k] = A[b * M * K + (tA ? k * M + i : i * K + k)]!;
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) Bl[b * K * N + k * N + j] = B[b * K * N + (tB ? j * K + k : k * N + j)]!;
  }
  return { Al, Bl };
}

export function gemmCase(dtype: GemmDtype, s: GemmShape, perf?: GemmShape, testOnly = false): KernelCase {
  const tag = layout(s.tA, s.tB);
  return {
    testOnly,
    name: `gemm ${dtype} ${tag} ${s.M}x${s.N}x${s.K}${s.batch > 1 ? ` batch ${s.batch}` : ''}${s.beta !== 0 ? ' beta' : ''}`,
    kernels: ['gemm'], kind: 'forward', bound: BOUNDS.f32, baselineBound: BOUNDS.f32,
    make(scale) {
      const g = scale === 'perf' && perf ? perf : s;
      const { M, N, K, tA, tB, batch, alpha, beta } = g;
      const { A, B } = operands(dtype, randn(batch * M * K, 1), randn(batch * K * N, 2));
      const c0 = randn(batch * M * N, 3), C = new Float32Array(batch * M * N);
      const lda = tA ? M : K, ldb = tB ? K : N;
      return {
        run() {
          C.set(c0);
          native.gemm(tA, tB, M, N, K, alpha, A.bits, lda, M * K, B.bits, ldb, K * N, beta, C, N, M * N, batch);
          return [C];
        },
        ref: memo(() => {
          const { Al, Bl } = logical(A.values, B.values, g);
          const r = matmulRef(Al, Bl, M, N, K, batch);
          for (let i = 0; i < r.length; i++) r[i] = alpha * r[i]! + beta * c0[i]!;
          return [r];
        }),
        flops: 2 * M * N * K * batch,
        label: `gemm ${dtype} ${tag} ${M}x${N}x${K}${batch > 1 ? ` batch ${batch}` : ''}`,
      };
    },
  };
}

/**
 * The backward of C = op(A) op(B) (batched): with dC = R, the logical
 * gradients dA = R op(B)^T [M, K] and dB = op(A)^T R [K, N], computed by the
 * kernel on the *stored* operands with flipped transpose flags (what
 * matmul's and linear's backward pass: no copies), against central
 * differences of sum(ref(A, B) * R). bf16: A, B and R are bf16 (a bf16
 * model's gradients are bf16 tensors); mixed: f32 R and A, bf16 B (a Linear
 * with bf16 weights).
 */
export function gemmBackwardCase(dtype: GemmDtype, s: Pick<GemmShape, 'M' | 'N' | 'K' | 'tA' | 'tB' | 'batch'>): KernelCase {
  const { M, N, K, tA, tB, batch } = s;
  return {
    name: `gemm backward ${dtype} ${layout(tA, tB)} ${M}x${N}x${K}${batch > 1 ? ` batch ${batch}` : ''} (finite differences)`,
    kernels: ['gemm'], kind: 'backward', bound: BOUNDS.fd, baselineBound: BOUNDS.f32, testOnly: true,
    make() {
      const a32 = randn(batch * M * K, 31), b32 = randn(batch * K * N, 32), r32 = randn(batch * M * N, 33);
      const { A, B } = operands(dtype, a32, b32);
      const R = dtype === 'bf16' ? toBf16(r32) : { bits: r32, values: r32 };
      const lda = tA ? M : K, ldb = tB ? K : N;
      const dA = new Float32Array(batch * M * K), dB = new Float32Array(batch * K * N);
      return {
        run() {
          // dA [M, K] = R [M, N] . op(B)^T: op(B)^T is the stored B with the flag flipped
          native.gemm(false, !tB, M, K, N, 1, R.bits, N, M * N, B.bits, ldb, K * N, 0, dA, K, M * K, batch);
          // dB [K, N] = op(A)^T [K, M] . R [M, N]
          native.gemm(!tA, false, K, N, M, 1, A.bits, lda, M * K, R.bits, N, M * N, 0, dB, N, K * N, batch);
          return [dA, dB];
        },
        ref: memo(() => {
          const { Al, Bl } = logical(A.values, B.values, s);
          const f = (a: ArrayLike<number>, b: ArrayLike<number>) => dot(matmulRef(a, b, M, N, K, batch), R.values);
          return [fd((x) => f(x, Bl), Al), fd((x) => f(Al, x), Bl)];
        }),
      };
    },
  };
}

const base = { batch: 1, alpha: 1, beta: 0 };
const nt = (M: number, N: number, K: number) => ({ ...base, M, N, K, tA: false, tB: true });
const nn = (M: number, N: number, K: number) => ({ ...base, M, N, K, tA: false, tB: false });

export const GEMM_CASES: KernelCase[] = [
  gemmCase('f32', nt(37, 45, 300), nt(1024, 1024, 1024)),
  gemmCase('f32', nn(29, 67, 33), nt(512, 11008, 4096)),
  gemmCase('f32', { M: 19, N: 35, K: 41, tA: true, tB: false, batch: 2, alpha: 0.5, beta: 0.25 }, { ...base, M: 4096, N: 1024, K: 512, tA: true, tB: false }),
  gemmCase('f32', { ...base, M: 200, N: 70, K: 40, tA: true, tB: true }),
  gemmCase('f32', nt(3, 77, 300), nt(1, 11008, 4096)),
  // the op tests' awkward shapes: 1x1x1, N = 1, K = KC = 256 and KC + 1, K = 600 (three K slices), M = 1 with N > NR
  ...[nn(1, 1, 1), nn(5, 1, 9), nn(6, 16, 256), nn(121, 33, 257), nn(130, 70, 600), nn(1, 300, 64)].map((s) => gemmCase('f32', s, undefined, true)),
  // decode-sized linears (M <= 4: the unpacked GEMV path; 5: the first packed size) with f32 and bf16 weights
  ...[4, 5].map((M) => gemmCase('f32', nt(M, 45, 77), undefined, true)),
  ...[1, 4, 5].map((M) => gemmCase('mixed', nt(M, 45, 77), undefined, true)),
  gemmCase('bf16', nt(37, 45, 301), nt(1024, 1024, 1024)),
  gemmCase('bf16', nn(29, 67, 33), nt(512, 11008, 4096)),
  gemmCase('bf16', { M: 19, N: 35, K: 41, tA: true, tB: false, batch: 2, alpha: 0.5, beta: 0.25 }, { ...base, M: 4096, N: 1024, K: 512, tA: true, tB: false }),
  gemmCase('bf16', { ...base, M: 200, N: 70, K: 41, tA: true, tB: true }),
  gemmCase('bf16', nt(2, 77, 300), nt(1, 11008, 4096)),
  gemmCase('bf16', nn(33, 47, 129), undefined, true),
  gemmCase('mixed', nt(23, 40, 77)),
  // M above one A block (MC rows): the shared-B-block path, several K slices; perf: a layer's dX and dW (7B, T = 512)
  gemmCase('f32', { ...base, M: 531, N: 70, K: 300, tA: false, tB: true }, { ...base, M: 512, N: 4096, K: 12288, tA: false, tB: false }),
  gemmCase('bf16', { ...base, M: 533, N: 45, K: 290, tA: true, tB: false }, { ...base, M: 12288, N: 4096, K: 512, tA: true, tB: false }),
  // four A blocks or more per build: a thread reuses its packed B slice across its blocks
  gemmCase('f32', { ...base, M: 1560, N: 20, K: 260, tA: true, tB: false }),
  // AMX edges (gemm_amx.h; run here by the amxemu build): K over one 512-deep slice (C combined across
  // slices, with beta), M over one 256-row block and not a multiple of 32, N not a multiple of 32
  gemmCase('bf16', { ...base, M: 45, N: 50, K: 1100, tA: false, tB: true, beta: 0.5 }),
  gemmCase('bf16', { ...base, M: 300, N: 33, K: 530, tA: false, tB: false }),
  // backward, every forward layout, f32 and bf16, and a Linear with bf16 weights; batched once
  ...(['f32', 'bf16'] as const).flatMap((d) => [[false, false], [false, true], [true, false], [true, true]].map(([tA, tB]) =>
    gemmBackwardCase(d, { M: 13, N: 11, K: 17, tA: tA!, tB: tB!, batch: 1 }))),
  gemmBackwardCase('mixed', { M: 6, N: 9, K: 21, tA: false, tB: true, batch: 1 }),
  gemmBackwardCase('f32', { M: 7, N: 5, K: 9, tA: false, tB: false, batch: 3 }),
];
