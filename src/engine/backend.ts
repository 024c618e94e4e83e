// The backend seam (docs/ENGINE.md): every op reaches memory and compute
// through this interface and never imports the addon directly, so another
// backend can be swapped in with setBackend() without touching op or model
// code. What it is, honestly: a table of kernels over flat storages of one
// device, plus that device's allocator (ggml's ggml_backend_i with its buffer
// type; tinygrad's Allocator plus runner). The op layer (src/engine/ops)
// owns shapes, strides, broadcasting, dtype rules and autograd; a backend
// sees contiguous f32 arrays (bf16 bits where named; gemm, attention and rope
// take strides). Storages are host-addressable typed arrays: the CPU's own
// memory here, unified or mirrored memory for a device backend.
// Kernels come in two kinds: primitives, which every backend implements, and
// the fused kernels named by FusedOp, which a backend may lack: then
// supportsOp() says false and the op runs its composed fallback (MLX's `fast`
// contract: the fallback, built from primitives, is the specification).
// The CPU backend is the reference; its reduction and indexing kernels are
// TypeScript (cpu-kernels.ts), binary, affine and strided copies native from a few
// thousand elements (TypeScript below, the same bits), the rest native C++.
import { native, KERNEL_BUILDS, type Bf16GemmVariant, type KernelBuild, type NativeAttnOptions, type NativeInfo } from './native.js';
import type { DType, Storage } from './dtype.js';
import { poolAlloc, poolFree } from './pool.js';
import { binaryF32, unaryF32, affineF32, sumRowsF32, maxRowsF32, gatherRows, scatterAddRows, copyStridedTS, type BinaryOp, type UnaryOp } from './cpu-kernels.js';

export type { BinaryOp, UnaryOp } from './cpu-kernels.js';

/** Where a tensor's storage lives. Only the CPU exists today; a device backend adds its name. */
export type Device = 'cpu';

/** The fused ops: each has a composed fallback in its op file, used when supportsOp(op) is false. */
export const FUSED_OPS = ['rmsnorm', 'l2norm', 'rope', 'attention', 'crossEntropy', 'swiglu', 'decodeLayer'] as const;
export type FusedOp = typeof FUSED_OPS[number];

type F32 = Float32Array;

export interface GemmArgs {
  transA: boolean; transB: boolean;
  M: number; N: number; K: number;
  alpha: number; beta: number;
  A: F32 | Uint16Array; lda: number; strideA: number;  // Uint16Array = bf16 bits
  B: F32 | Uint16Array; ldb: number; strideB: number;
  C: F32; ldc: number; strideC: number;
  batch: number;
}

export interface AttnKernelArgs {
  opts: NativeAttnOptions;
  slopes: F32 | null;
  keyMask: Int32Array | null;
}

export interface Backend {
  readonly name: string;
  readonly device: Device;
  threads(): number;
  setThreads(n: number): void;
  /** True when the fused kernels of `op` exist here; false routes the op to its composed fallback. */
  supportsOp(op: FusedOp): boolean;

  // ---- memory (the allocator) ----
  /** A zero-filled storage of n elements of `dtype` on this device. */
  alloc(dtype: DType, n: number): Storage;
  /** Give back a storage the op layer knows is dead (kernel scratch, an f32 result once rounded, a consumed gradient); never touched again. The CPU pools it for the next alloc of its size (pool.ts). */
  free(s: Storage): void;
  /** Copy host values into a storage of this device (same length and element type). */
  upload(dst: Storage, src: Storage): void;
  /** Copy a storage of this device into host memory (same length and element type). */
  download(dst: Storage, src: Storage): void;
  /**
   * The view of src (offset, element strides >= 0, 0 for a broadcast dim) into the view of dst of
   * the same shape, raw bits (contiguous(), permuted and broadcast copies, Tensor.copyStorage).
   * Storages of one element type; the views must not overlap.
   */
  copyStrided(src: Storage, srcOffset: number, shape: readonly number[], srcStrides: readonly number[], dst: Storage, dstOffset: number, dstStrides: readonly number[]): void;

  // ---- primitive kernels (every backend) ----
  /** out = a op b, element-wise over arrays of one length. */
  binary(op: BinaryOp, a: F32, b: F32, out: F32): void;
  unary(op: UnaryOp, x: F32, out: F32): void;
  /** out = a * x + b; out may be x (in place). */
  affine(x: F32, a: number, b: number, out: F32): void;
  /** out[r] = sum of row r of x [rows, cols], float64 accumulation in index order. */
  sumRows(x: F32, rows: number, cols: number, out: F32): void;
  /** Row maxima and their first positions. */
  maxRows(x: F32, rows: number, cols: number, vals: F32, idx: Int32Array): void;
  /** out[i, :] = src[ids[i], :] for rows of C elements. */
  gatherRows(src: F32 | Uint16Array, ids: Int32Array, C: number, out: F32 | Uint16Array): void;
  /** out[ids[i], :] += g[i, :] in index order, skipping rows whose id is `skip`. */
  scatterAddRows(g: F32, ids: Int32Array, C: number, skip: number | null, out: F32): void;
  gemm(a: GemmArgs): void;
  softmaxFwd(x: F32, y: F32, rows: number, cols: number, log: boolean): void;
  softmaxBwd(y: F32, dy: F32, dx: F32, rows: number, cols: number, log: boolean): void;
  siluFwd(x: F32, y: F32): void;
  siluBwd(x: F32, dy: F32, dx: F32): void;
  adamw(p: F32, g: F32, m: F32, v: F32, hp: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; bc1: number; bc2: number }, pBf16: Uint16Array | null): void;
  sumsq(x: F32): number;
  bf16ToF32(x: Uint16Array, y: F32): void;
  f32ToBf16(x: F32, y: Uint16Array): void;
  /** Counter-based fill: element i depends only on (seed, i). Normal(a, b) or uniform [a, b). */
  randomFill(out: F32, seed: number, normal: boolean, a: number, b: number): void;
  /** Weight-only quantisation (see engine/quant.ts for the layout). */
  quantize(w: F32 | Uint16Array, N: number, K: number, G: number, bits: number, q: Uint8Array, scales: Uint16Array): void;
  dequantize(q: Uint8Array, scales: Uint16Array, N: number, K: number, G: number, bits: number, out: F32): void;
  /** y [M, N] = x [M, K] W^T, W quantised. */
  qmatmul(x: F32, M: number, K: number, q: Uint8Array, scales: Uint16Array, N: number, G: number, bits: number, y: F32): void;

  // ---- fused kernels (called only where supportsOp says so) ----
  rmsnormFwd(x: F32, w: F32, y: F32, rstd: F32, rows: number, cols: number, eps: number): void;
  rmsnormBwd(x: F32, w: F32, rstd: F32, dy: F32, dx: F32, dw: F32, rows: number, cols: number): void;
  l2normFwd(x: F32, y: F32, norm: F32, rows: number, cols: number, eps: number): void;
  l2normBwd(y: F32, norm: F32, dy: F32, dx: F32, rows: number, cols: number, eps: number): void;
  swigluFwd(gate: F32, up: F32, out: F32): void;
  swigluBwd(gate: F32, up: F32, dout: F32, dgate: F32, dup: F32): void;
  rope(x: F32, y: F32, dims: { B: number; T: number; H: number; D: number; sb: number; st: number; sh: number }, cos: F32, sin: F32, inverse: boolean): void;
  xentFwd(logits: F32, targets: Int32Array, rows: number, cols: number, ignore: number, loss: F32, lse: F32, maxv: F32, argmax: Int32Array): void;
  xentBwd(logits: F32, targets: Int32Array, lse: F32, argmax: Int32Array, gCe: F32, gZ: F32 | null, dlogits: F32, rows: number, cols: number, ignore: number): void;
  attnFwd(a: AttnKernelArgs, q: F32, k: F32, v: F32, o: F32, lse: F32): void;
  attnBwd(a: AttnKernelArgs, q: F32, k: F32, v: F32, o: F32, lse: F32, dO: F32, dq: F32, dk: F32, dv: F32): void;
  /** One decoder layer of a batch-1 decode step, quantised Linears (engine/quant.ts qdecodeLayer has the contract). */
  decodeLayer(a: DecodeLayerKernelArgs): void;
}

/** A quantised Linear as the decode-layer kernel takes it. */
export interface QLinearArgs { q: Uint8Array; scales: Uint16Array }

export interface DecodeLayerKernelArgs {
  h: F32; norm1: F32; norm2: F32;
  wpack: QLinearArgs; oproj: QLinearArgs; gate: QLinearArgs; up: QLinearArgs; down: QLinearArgs;
  cos: F32 | null; sin: F32 | null; slopes: F32 | null;
  kCache: F32; vCache: F32;
  C: number; H: number; F: number; Tk: number; capacity: number; G: number; bits: number; eps: number; bf16: boolean;
}

/** Below this length the TypeScript loop beats the call into the addon. */
const NATIVE_ELEMENTWISE_MIN = 2048;
const BINARY_CODE: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4 };

export const cpuBackend: Backend = {
  name: 'cpu',
  device: 'cpu',
  threads: () => native.info().threads,
  setThreads: (n) => native.setThreads(n),
  supportsOp: () => true,
  alloc: poolAlloc,
  free: poolFree,
  upload: (dst, src) => dst.set(src as never),
  download: (dst, src) => dst.set(src as never),
  // strided copies: native (all threads) from NATIVE_ELEMENTWISE_MIN elements, the TypeScript loop below (the same bits)
  copyStrided: (src, so, shape, ss, dst, dso, ds) => shape.reduce((a, b) => a * b, 1) >= NATIVE_ELEMENTWISE_MIN
    ? native.copyStrided(src, so, shape, ss, dst, dso, ds) : copyStridedTS(src, so, shape, ss, dst, dso, ds),
  // element-wise arithmetic: native (vectorised, all threads) from NATIVE_ELEMENTWISE_MIN elements, same bits as the TypeScript
  binary: (op, a, b, out) => out.length >= NATIVE_ELEMENTWISE_MIN ? native.binary(BINARY_CODE[op], a, b, out, out.length) : binaryF32(op, a, b, out),
  unary: unaryF32,
  affine: (x, a, b, out) => out.length >= NATIVE_ELEMENTWISE_MIN ? native.affine(x, a, b, out, out.length) : affineF32(x, a, b, out),
  sumRows: sumRowsF32,
  maxRows: maxRowsF32,
  gatherRows: (src, ids, C, out) => gatherRows(src, ids, C, out),
  scatterAddRows,
  gemm: (a) => native.gemm(a.transA, a.transB, a.M, a.N, a.K, a.alpha, a.A, a.lda, a.strideA, a.B, a.ldb, a.strideB, a.beta, a.C, a.ldc, a.strideC, a.batch),
  rmsnormFwd: (x, w, y, rstd, rows, cols, eps) => native.rmsnormFwd(x, w, y, rstd, rows, cols, eps),
  rmsnormBwd: (x, w, rstd, dy, dx, dw, rows, cols) => native.rmsnormBwd(x, w, rstd, dy, dx, dw, rows, cols),
  l2normFwd: (x, y, norm, rows, cols, eps) => native.l2normFwd(x, y, norm, rows, cols, eps),
  l2normBwd: (y, norm, dy, dx, rows, cols, eps) => native.l2normBwd(y, norm, dy, dx, rows, cols, eps),
  siluFwd: (x, y) => native.siluFwd(x, y, x.length),
  siluBwd: (x, dy, dx) => native.siluBwd(x, dy, dx, x.length),
  swigluFwd: (g, u, o) => native.swigluFwd(g, u, o, g.length),
  swigluBwd: (g, u, d, dg, du) => native.swigluBwd(g, u, d, dg, du, g.length),
  rope: (x, y, d, cos, sin, inverse) => native.rope(x, y, d.B, d.T, d.H, d.D, d.sb, d.st, d.sh, cos, sin, inverse),
  softmaxFwd: (x, y, rows, cols, log) => native.softmaxFwd(x, y, rows, cols, log),
  softmaxBwd: (y, dy, dx, rows, cols, log) => native.softmaxBwd(y, dy, dx, rows, cols, log),
  xentFwd: (l, t, rows, cols, ig, loss, lse, mx, am) => native.xentFwd(l, t, rows, cols, ig, loss, lse, mx, am),
  xentBwd: (l, t, lse, am, gCe, gZ, dl, rows, cols, ig) => native.xentBwd(l, t, lse, am, gCe, gZ, dl, rows, cols, ig),
  attnFwd: (a, q, k, v, o, lse) => native.attnFwd(a.opts, a.slopes, a.keyMask, q, k, v, o, lse),
  attnBwd: (a, q, k, v, o, lse, dO, dq, dk, dv) => native.attnBwd(a.opts, a.slopes, a.keyMask, q, k, v, o, lse, dO, dq, dk, dv),
  adamw: (p, g, m, v, hp, pb) => native.adamw(p, g, m, v, p.length, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay, hp.bc1, hp.bc2, pb),
  sumsq: (x) => native.sumsq(x, x.length),
  bf16ToF32: (x, y) => native.bf16ToF32(x, y, x.length),
  f32ToBf16: (x, y) => native.f32ToBf16(x, y, x.length),
  randomFill: (out, seed, normal, a, b) => native.randomFill(out, seed, normal, a, b),
  quantize: (w, N, K, G, bits, q, scales) => native.quantize(w, N, K, G, bits, q, scales),
  dequantize: (q, scales, N, K, G, bits, out) => native.dequantize(q, scales, N, K, G, bits, out),
  qmatmul: (x, M, K, q, scales, N, G, bits, y) => native.qmatmul(x, M, K, q, scales, N, G, bits, y),
  decodeLayer: (a) => native.decodeLayer(a.h, a.norm1, a.norm2, a.wpack.q, a.wpack.scales, a.oproj.q, a.oproj.scales, a.gate.q, a.gate.scales,
    a.up.q, a.up.scales, a.down.q, a.down.scales, a.cos, a.sin, a.slopes, a.kCache, a.vCache, a.C, a.H, a.F, a.Tk, a.capacity, a.G, a.bits, a.eps, a.bf16),
};

let current: Backend = cpuBackend;

export function backend(): Backend {
  return current;
}

export function setBackend(b: Backend): void {
  current = b;
}

/** Threads used by the kernels (default: all cores). */
export function setThreads(n: number): void {
  current.setThreads(n);
}

/** Which kernel build runs, what the CPU offers, and the threads (see native/binding.gyp for the builds). */
export function kernelInfo(): NativeInfo {
  return native.info();
}

/**
 * Select a kernel build by name (e.g. 'avx2' to compare with or fall back from
 * 'avx512bf16'); it must be one the CPU and OS support. The environment
 * variable BAICHUAN2_KERNELS does the same at load time.
 */
export function setKernels(name: KernelBuild): void {
  if (!(KERNEL_BUILDS as readonly string[]).includes(name)) throw new RangeError(`setKernels: unknown kernel build '${name}' (builds: ${KERNEL_BUILDS.join(', ')})`);
  native.setArch(name);
}

/**
 * Force the active build's bf16 x bf16 GEMM variant ('widen' to f32 + FMA, 'dot' =
 * vdpbf16ps, 'amx' = tiles) or 'auto' to decide again (calibration / AMX); the
 * environment variable BAICHUAN2_BF16_GEMM does the same at load time.
 */
export function setBf16Gemm(variant: Bf16GemmVariant | 'auto'): void {
  native.setBf16Gemm(variant);
}

/** One line for reports: the active build, its capabilities, the bf16 GEMM variant and the threads. */
export function kernelLine(): string {
  const i = native.info();
  const caps = [i.caps.int8Gemm ? 'int8 prefill' : '', `bf16 GEMM ${i.bf16Gemm.variant}: ${i.bf16Gemm.why}`].filter(Boolean).join('; ');
  return `kernels ${i.arch}${caps ? ` (${caps})` : ''}${i.arch !== i.best ? ` [forced; best here ${i.best}]` : ''}, ${i.threads} threads`;
}
