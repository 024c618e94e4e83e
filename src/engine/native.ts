// Loads the native addon (C++ kernels behind N-API, built by `npm ci`).
// Kept in one place so the error for a missing build says what to run.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

/**
 * The kernel builds, best first (native/binding.gyp); one is active. `amxemu` is
 * test-only: the amx build's kernels on emulated tiles, ranked last so the
 * dispatcher never picks it (the harness runs it where the CPU lacks AMX).
 */
export const KERNEL_BUILDS = ['amx', 'avx512bf16', 'avx512vnni', 'avx512', 'avx2vnni', 'avx2', 'generic', 'amxemu'] as const;
export type KernelBuild = typeof KERNEL_BUILDS[number];

/** The bf16 x bf16 GEMM variants; 'auto' (setBf16Gemm only) decides again. */
export const BF16_GEMM_VARIANTS = ['widen', 'dot', 'amx'] as const;
export type Bf16GemmVariant = typeof BF16_GEMM_VARIANTS[number];

export interface NativeInfo {
  /** The active build. */
  arch: KernelBuild;
  /** The build chosen at load time from the CPU and OS (before BAICHUAN2_KERNELS or setArch). */
  best: KernelBuild;
  threads: number;
  /** What the active build computes differently: bf16 GEMM with bf16 products; int8 prefill for quantised weights. */
  caps: { bf16Dot: boolean; int8Gemm: boolean };
  /**
   * The bf16 x bf16 GEMM the active build runs and why: widen (to f32, FMAs), dot
   * (vdpbf16ps, chosen by a ~1 ms calibration on AVX512-BF16 builds) or amx (tiles).
   * BAICHUAN2_BF16_GEMM=auto|widen|dot|amx or setBf16Gemm forces one.
   */
  bf16Gemm: { variant: Bf16GemmVariant; why: string };
  builds: KernelBuild[];
  /** Builds this CPU and OS can run, best first. */
  supported: KernelBuild[];
  /** CPUID feature bits, the OS-enabled register state from XCR0 (osYmm, osZmm, osAmx), and amxPerm: Linux granted tile data (arch_prctl). */
  features: Record<'avx' | 'avx2' | 'fma' | 'f16c' | 'avx512f' | 'avx512bw' | 'avx512vl' | 'avx512dq' | 'avx512cd' | 'avx512vnni' |
    'avx512bf16' | 'avx512fp16' | 'avxvnni' | 'amxTile' | 'amxBf16' | 'amxInt8' | 'osYmm' | 'osZmm' | 'osAmx' | 'amxPerm', boolean>;
}

/** Options of the attention kernels; strides are [batch, head, time] in elements (last dim contiguous). */
export interface NativeAttnOptions {
  B: number; H: number; Tq: number; Tk: number; D: number;
  q: number[]; k: number[]; v: number[]; o: number[];
  /** backward only: the gradients' strides, and dO's (default: o's) */
  dq?: number[]; dk?: number[]; dv?: number[]; dO?: number[];
  past: number; causal: boolean; scale: number;
  queryMask?: Int32Array;
}

type F32 = Float32Array;
type U16 = Uint16Array;
type I32 = Int32Array;

export interface NativeAddon {
  info(): NativeInfo;
  setThreads(n: number): void;
  setArch(name: string): void;
  /** Forces the active build's bf16 GEMM variant, or 'auto' to decide again; throws if the build lacks it. */
  setBf16Gemm(variant: Bf16GemmVariant | 'auto'): void;
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: F32 | U16, lda: number, strideA: number, B: F32 | U16, ldb: number, strideB: number,
    beta: number, C: F32, ldc: number, strideC: number, batch: number): void;
  rmsnormFwd(x: F32, w: F32, y: F32, rstd: F32, rows: number, cols: number, eps: number): void;
  rmsnormBwd(x: F32, w: F32, rstd: F32, dy: F32, dx: F32, dw: F32, rows: number, cols: number): void;
  l2normFwd(x: F32, y: F32, norm: F32, rows: number, cols: number, eps: number): void;
  l2normBwd(y: F32, norm: F32, dy: F32, dx: F32, rows: number, cols: number, eps: number): void;
  swigluFwd(gate: F32, up: F32, out: F32, n: number): void;
  swigluBwd(gate: F32, up: F32, dout: F32, dgate: F32, dup: F32, n: number): void;
  siluFwd(x: F32, y: F32, n: number): void;
  siluBwd(x: F32, dy: F32, dx: F32, n: number): void;
  rope(x: F32, y: F32, B: number, T: number, H: number, D: number, sb: number, st: number, sh: number,
    cos: F32, sin: F32, inverse: boolean): void;
  softmaxFwd(x: F32, y: F32, rows: number, cols: number, log: boolean): void;
  softmaxBwd(y: F32, dy: F32, dx: F32, rows: number, cols: number, log: boolean): void;
  xentFwd(logits: F32, targets: I32, rows: number, cols: number, ignore: number,
    loss: F32, lse: F32, maxv: F32, argmax: I32): void;
  xentBwd(logits: F32, targets: I32, lse: F32, argmax: I32, gCe: F32, gZ: F32 | null, dlogits: F32,
    rows: number, cols: number, ignore: number): void;
  attnFwd(o: NativeAttnOptions, slopes: F32 | null, keyMask: I32 | null, q: F32, k: F32, v: F32, out: F32, lse: F32): void;
  attnBwd(o: NativeAttnOptions, slopes: F32 | null, keyMask: I32 | null, q: F32, k: F32, v: F32, out: F32, lse: F32,
    dO: F32, dq: F32, dk: F32, dv: F32): void;
  adamw(p: F32, g: F32, m: F32, v: F32, n: number, lr: number, beta1: number, beta2: number, eps: number,
    wd: number, bc1: number, bc2: number, pBf16: U16 | null): void;
  sumsq(x: F32, n: number): number;
  bf16ToF32(x: U16, y: F32, n: number): void;
  f32ToBf16(x: F32, y: U16, n: number): void;
  /** out = a op b; op 0 add, 1 sub, 2 mul, 3 div, 4 maximum (the bits of cpu-kernels.ts binaryF32). */
  binary(op: number, a: F32, b: F32, out: F32, n: number): void;
  /** out = x * a + b in double, rounded once (the bits of cpu-kernels.ts affineF32); out may be x. */
  affine(x: F32, a: number, b: number, out: F32, n: number): void;
  randomFill(out: F32, seed: number, normal: boolean, a: number, b: number): void;
  /** The view (offset, element strides >= 0, up to 16 dims) of src into the view of dst, raw bits; one element size (4: f32/i32, 2: u16); no overlap. */
  copyStrided(src: F32 | I32 | U16, srcOffset: number, shape: readonly number[], srcStrides: readonly number[],
    dst: F32 | I32 | U16, dstOffset: number, dstStrides: readonly number[]): void;
  quantize(w: F32 | Uint16Array, N: number, K: number, G: number, bits: number, q: Uint8Array, scales: Uint16Array): void;
  dequantize(q: Uint8Array, scales: Uint16Array, N: number, K: number, G: number, bits: number, out: F32): void;
  qmatmul(x: F32, M: number, K: number, q: Uint8Array, scales: Uint16Array, N: number, G: number, bits: number, y: F32): void;
  readBytes(buffer: ArrayBufferView): number;
  decodeLayer(h: F32, norm1: F32, norm2: F32, wpackQ: Uint8Array, wpackS: U16, oprojQ: Uint8Array, oprojS: U16,
    gateQ: Uint8Array, gateS: U16, upQ: Uint8Array, upS: U16, downQ: Uint8Array, downS: U16,
    cos: F32 | null, sin: F32 | null, slopes: F32 | null, kCache: F32, vCache: F32,
    C: number, H: number, F: number, Tk: number, capacity: number, G: number, bits: number, eps: number, bf16: boolean): void;
}

function findAddon(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/src/engine -> repo root, or src/engine when run from sources.
  for (const up of ['../../..', '../..']) {
    const p = path.resolve(here, up, 'native/build/Release/baichuan2_native.node');
    if (fs.existsSync(p)) return p;
  }
  throw new Error('native addon not built: run `npm ci` (or `npm run build:native`) in the package folder');
}

// The addon selects its build at load time; BAICHUAN2_KERNELS=<build> forces one (it must be supported).

const require = createRequire(import.meta.url);
export const native: NativeAddon = require(findAddon()) as NativeAddon;
