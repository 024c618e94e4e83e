// The kernel table: every native kernel as a case that runs it on seeded
// inputs and says what it must equal. One table serves two masters, in the
// manner of ggml's test-backend-ops: the harness test (test/engine/harness.test.ts)
// runs each case on every kernel build the CPU supports and compares with the
// float64 reference (src/engine/ref/, or central finite differences of it for
// backward kernels) and with the baseline build, by normalised MSE; and
// `baichuan2 bench kernels` times the same cases at model sizes on each build.
//
// Bounds (NMSE = sum (out - ref)^2 / sum ref^2):
// - f32 kernels: 1e-7 (ggml's bound for f32; a few f32 roundings per output
//   give ~1e-13, so the bound has wide margin yet catches any indexing slip,
//   which gives ~1).
// - bf16 GEMM: inputs are bf16 values, products are exact in f32 (8-bit
//   significands) and sums are f32 on every path (widened FMAs or vdpbf16ps),
//   so the reference is the float64 product of the bf16 inputs and the bound
//   is the f32 one. The bf16 rounding of a *result* (ops level) is not part of
//   the kernel.
// - backward kernels vs finite differences of the float64 reference: 1e-7
//   (the central difference with h = 1e-4 in float64 is accurate to ~1e-9).
// - quantised products: the integer arithmetic is exact and identical to
//   refQMatmul, only the f32 accumulation of block terms differs: 1e-8.
//   Builds without int8 prefill (caps.int8Gemm false) compute M > 8 as
//   f32 x dequantised weights; for those the reference is that product: 1e-7.
// - exact kernels (bf16 conversion, quantisation codes and scales, the
//   counter-based random fill against the baseline): bound 0.
import { native, type NativeInfo } from '../src/engine/native.js';
import { Rng } from '../src/engine/rng.js';
import { matmulRef, rmsnormRef, l2normRowsRef, siluRef, swigluRef, softmaxRef, attentionRef, adamwRef } from '../src/engine/ref/index.js';
import { refQuantize, refQMatmul } from '../src/engine/ref/quant.js';

export type Scale = 'test' | 'perf';
export type Caps = NativeInfo['caps'];

export interface Instance {
  /** Runs the kernel; returns its outputs (the same shapes each call). */
  run(): Float32Array[];
  /** The expected outputs (float64 reference or finite differences), for a build with these caps. */
  ref(caps: Caps): ArrayLike<number>[];
  /** Work of one run, for --perf: floating-point (or int8 multiply-add x 2) operations, and bytes streamed. */
  flops?: number;
  bytes?: number;
  /** The case at this instance's size (perf sizes differ from the test's). */
  label?: string;
}

export interface KernelCase {
  name: string;
  /** the kernel(s) it covers (addon entry points) */
  kernels: string[];
  kind: 'forward' | 'backward' | 'exact';
  /** NMSE bound against the reference. */
  bound: number;
  /** NMSE bound against the baseline build; null when the builds legitimately differ more (see caseBaseline). */
  baselineBound: number;
  /** Perf-only cases are not run by the test (too large for it). */
  perfOnly?: boolean;
  make(scale: Scale): Instance;
}

// ---------------------------------------------------------------- helpers

export function nmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    if (Number.isNaN(d)) return Infinity;
    num += d * d;
    den += b[i]! * b[i]!;
  }
  return den === 0 ? num : num / den;
}

function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = new Rng(seed), a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * r.normal();
  return a;
}

function toBf16(x: Float32Array): { bits: Uint16Array; values: Float32Array } {
  const bits = new Uint16Array(x.length), values = new Float32Array(x.length);
  native.f32ToBf16(x, bits, x.length);
  native.bf16ToF32(bits, values, x.length);
  return { bits, values };
}

const dot = (y: ArrayLike<number>, r: ArrayLike<number>) => { let s = 0; for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!; return s; };

/** Central differences of the scalar f at x (float64). */
function fd(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-4): Float64Array {
  const x = Float64Array.from(x0), g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    x[i] = v + h; const fp = f(x);
    x[i] = v - h; const fm = f(x);
    x[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Element-wise derivative by central differences. */
function fdPointwise(f: (x: number) => number, x: ArrayLike<number>, h = 1e-4): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) g[i] = (f(x[i]! + h) - f(x[i]! - h)) / (2 * h);
  return g;
}

function memo<T>(f: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= f());
}

// ---------------------------------------------------------------- GEMM

interface GemmShape { M: number; N: number; K: number; tA: boolean; tB: boolean; batch: number; alpha: number; beta: number }

function gemmCase(dtype: 'f32' | 'bf16' | 'mixed', s: GemmShape, perf?: GemmShape): KernelCase {
  const tag = `${s.tA ? 'T' : 'N'}${s.tB ? 'T' : 'N'}`;
  return {
    name: `gemm ${dtype} ${tag} ${s.M}x${s.N}x${s.K}${s.batch > 1 ? ` batch ${s.batch}` : ''}${s.beta !== 0 ? ' beta' : ''}`,
    kernels: ['gemm'], kind: 'forward', bound: 1e-7, baselineBound: 1e-7,
    make(scale) {
      const g = scale === 'perf' && perf ? perf : s;
      const { M, N, K, tA, tB, batch, alpha, beta } = g;
      const a32 = randn(batch * M * K, 1), b32 = randn(batch * K * N, 2), c0 = randn(batch * M * N, 3);
      const A = dtype === 'f32' ? { bits: a32, values: a32 } : toBf16(a32);
      const B = dtype === 'bf16' || dtype === 'mixed' ? toBf16(b32) : { bits: b32, values: b32 };
      const C = new Float32Array(batch * M * N);
      const lda = tA ? M : K, ldb = tB ? K : N;
      return {
        run() {
          C.set(c0);
          native.gemm(tA, tB, M, N, K, alpha, A.bits, lda, M * K, B.bits, ldb, K * N, beta, C, N, M * N, batch);
          return [C];
        },
        ref: memo(() => {
          // logical row-major A [M, K] and B [K, N] per batch from the stored layouts
          const Al = new Float64Array(batch * M * K), Bl = new Float64Array(batch * K * N);
          for (let b = 0; b < batch; b++) {
            for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) Al[b * M * K + i * K + k] = A.values[b * M * K + (tA ? k * M + i : i * K + k)]!;
            for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) Bl[b * K * N + k * N + j] = B.values[b * K * N + (tB ? j * K + k : k * N + j)]!;
          }
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

// ---------------------------------------------------------------- quantised

function qmatmulCase(bits: 4 | 8, M: number, N: number, K: number, G: number, perf?: { M: number; N: number; K: number }): KernelCase {
  return {
    name: `qmatmul q${bits} g${G} M=${M} ${N}x${K}`,
    kernels: ['quantize', 'qmatmul'], kind: 'forward', bound: 1e-8,
    // M > 8 differs between builds by design (int8 activations or f32 x dequantised); see caseBaseline
    baselineBound: 1e-8,
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
          if (d.M <= 8 || caps.int8Gemm) return [refQMatmul(x, d.M, d.K, codes, scales, d.N, G)];
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

function quantizeCase(bits: 4 | 8, G: number): KernelCase {
  return {
    name: `quantize + dequantize q${bits} g${G}`, kernels: ['quantize', 'dequantize'], kind: 'exact', bound: 0, baselineBound: 0,
    make() {
      const N = 9, K = 256;
      const w = randn(N * K, 11 + G + bits, 0.05);
      w[3] = 0.9; w[K + 5] = -1.3;
      for (let i = 0; i < G; i++) w[2 * K + i] = 0;
      const q = new Uint8Array(N * (bits === 8 ? K : K / 2)), sc = new Uint16Array((N * K) / G), dq = new Float32Array(N * K);
      return {
        run() {
          native.quantize(w, N, K, G, bits, q, sc);
          native.dequantize(q, sc, N, K, G, bits, dq);
          return [dq];
        },
        ref: memo(() => {
          const { codes, scales } = refQuantize(w, N, K, G, bits);
          return [Float64Array.from(codes, (c, i) => c * scales[Math.floor(i / G)]!)];
        }),
      };
    },
  };
}

// ---------------------------------------------------------------- norms, pointwise, softmax, loss

const rmsnormCases: KernelCase[] = [
  {
    name: 'rmsnorm forward 5x67', kernels: ['rmsnormFwd'], kind: 'forward', bound: 1e-7, baselineBound: 1e-7,
    make(scale) {
      const rows = scale === 'perf' ? 512 : 5, cols = scale === 'perf' ? 4096 : 67, eps = 1e-6;
      const x = randn(rows * cols, 1), w = randn(cols, 2), y = new Float32Array(rows * cols), rs = new Float32Array(rows);
      return { run() { native.rmsnormFwd(x, w, y, rs, rows, cols, eps); return [y]; }, ref: memo(() => [rmsnormRef(x, w, rows, cols, eps)]), bytes: 8 * rows * cols };
    },
  },
  {
    name: 'rmsnorm backward 5x67 (finite differences)', kernels: ['rmsnormBwd'], kind: 'backward', bound: 1e-7, baselineBound: 1e-7,
    make(scale) {
      const rows = scale === 'perf' ? 512 : 5, cols = scale === 'perf' ? 4096 : 67, eps = 1e-6;
      const x = randn(rows * cols, 1), w = randn(cols, 2), R = randn(rows * cols, 3);
      const y = new Float32Array(rows * cols), rs = new Float32Array(rows), dx = new Float32Array(rows * cols), dw = new Float32Array(cols);
      native.rmsnormFwd(x, w, y, rs, rows, cols, eps);
      return {
        run() { dw.fill(0); native.rmsnormBwd(x, w, rs, R, dx, dw, rows, cols); return [dx, dw]; },
        ref: memo(() => [fd((v) => dot(rmsnormRef(v, w, rows, cols, eps), R), x), fd((v) => dot(rmsnormRef(x, v, rows, cols, eps), R), w)]),
        bytes: 16 * rows * cols,
      };
    },
  },
  {
    name: 'l2norm rows forward + backward 4x37', kernels: ['l2normFwd', 'l2normBwd'], kind: 'backward', bound: 1e-7, baselineBound: 1e-7,
    make(scale) {
      const rows = scale === 'perf' ? 4096 : 4, cols = scale === 'perf' ? 4096 : 37, eps = 1e-12;
      const x = randn(rows * cols, 4), R = randn(rows * cols, 5);
      const y = new Float32Array(rows * cols), n = new Float32Array(rows), dx = new Float32Array(rows * cols);
      return {
        run() { native.l2normFwd(x, y, n, rows, cols, eps); native.l2normBwd(y, n, R, dx, rows, cols, eps); return [y, dx]; },
        ref: memo(() => [l2normRowsRef(x, rows, cols, eps), fd((v) => dot(l2normRowsRef(v, rows, cols, eps), R), x)]),
        bytes: 20 * rows * cols,
      };
    },
  },
];

function pointwiseCase(name: 'silu' | 'swiglu'): KernelCase {
  return {
    name: `${name} forward + backward n=1001`, kernels: [`${name}Fwd`, `${name}Bwd`], kind: 'backward', bound: 1e-7, baselineBound: 1e-7,
    make(scale) {
      const n = scale === 'perf' ? 1 << 22 : 1001;
      const g = randn(n, 7, 3), u = randn(n, 8), dy = randn(n, 9);
      const y = new Float32Array(n), dg = new Float32Array(n), du = new Float32Array(n);
      if (name === 'silu')
        return {
          run() { native.siluFwd(g, y, n); native.siluBwd(g, dy, dg, n); return [y, dg]; },
          ref: memo(() => {
            const d = fdPointwise(siluRef, g);
            return [Float64Array.from(g, siluRef), d.map((v, i) => v * dy[i]!)];
          }),
          bytes: 20 * n,
        };
      return {
        run() { native.swigluFwd(g, u, y, n); native.swigluBwd(g, u, dy, dg, du, n); return [y, dg, du]; },
        ref: memo(() => {
          const d = fdPointwise(siluRef, g);
          return [Float64Array.from(g, (v, i) => swigluRef(v, u[i]!)), d.map((v, i) => v * u[i]! * dy[i]!), Float64Array.from(g, (v, i) => siluRef(v) * dy[i]!)];
        }),
        bytes: 32 * n,
      };
    },
  };
}

function ropeCase(): KernelCase {
  return {
    name: 'rope forward + inverse, strided x [2,5,3,16]', kernels: ['rope'], kind: 'backward', bound: 1e-7, baselineBound: 1e-7,
    make(scale) {
      const [B, T, H, D] = scale === 'perf' ? [1, 512, 32, 128] : [2, 5, 3, 16];
      // x lives inside a wider buffer: head stride D + 3, time stride H * (D + 3) + 1
      const sh = D + 3, st = H * sh + 1, sb = T * st + 2;
      const buf = randn(B * sb, 10), R = randn(B * T * H * D, 11);
      const cos = new Float32Array(B * T * D), sin = new Float32Array(B * T * D);
      for (let bt = 0; bt < B * T; bt++)
        for (let i = 0; i < D / 2; i++) {
          const ang = (bt % T + 3 * Math.floor(bt / T)) / 10000 ** ((2 * i) / D);
          cos[bt * D + i] = cos[bt * D + i + D / 2] = Math.cos(ang);
          sin[bt * D + i] = sin[bt * D + i + D / 2] = Math.sin(ang);
        }
      const y = new Float32Array(B * T * H * D), dx = new Float32Array(B * T * H * D);
      const gather = (v: ArrayLike<number>) => {
        const x = new Float64Array(B * T * H * D);
        for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++)
          x[((b * T + t) * H + h) * D + d] = v[b * sb + t * st + h * sh + d]!;
        return x;
      };
      const rot = (x: ArrayLike<number>) => {  // float64 rotation with the kernel's f32 tables
        const out = new Float64Array(x.length), half = D / 2;
        for (let bt = 0; bt < B * T; bt++) for (let h = 0; h < H; h++) {
          const o = (bt * H + h) * D;
          for (let i = 0; i < half; i++) {
            const x1 = x[o + i]!, x2 = x[o + half + i]!;
            out[o + i] = x1 * cos[bt * D + i]! - x2 * sin[bt * D + i]!;
            out[o + half + i] = x2 * cos[bt * D + half + i]! + x1 * sin[bt * D + half + i]!;
          }
        }
        return out;
      };
      return {
        run() {
          native.rope(buf, y, B, T, H, D, sb, st, sh, cos, sin, false);
          native.rope(R, dx, B, T, H, D, T * H * D, H * D, D, cos, sin, true);
          return [y, dx];
        },
        // the inverse is the backward: d/dx sum(rope(x) * R)
        ref: memo(() => [rot(gather(buf)), fd((v) => dot(rot(v), R), gather(buf))]),
        bytes: 16 * B * T * H * D,
      };
    },
  };
}

const softmaxCases: KernelCase[] = [false, true].map((log) => ({
  name: `${log ? 'log-' : ''}softmax forward + backward 3x29`, kernels: ['softmaxFwd', 'softmaxBwd'], kind: 'backward' as const, bound: 1e-7, baselineBound: 1e-7,
  make(scale: Scale) {
    const rows = scale === 'perf' ? 512 : 3, cols = scale === 'perf' ? 4096 : 29;
    const x = randn(rows * cols, 12, 2), R = randn(rows * cols, 13);
    const y = new Float32Array(rows * cols), dx = new Float32Array(rows * cols);
    return {
      run() { native.softmaxFwd(x, y, rows, cols, log); native.softmaxBwd(y, R, dx, rows, cols, log); return [y, dx]; },
      ref: memo(() => [softmaxRef(x, rows, cols, log), fd((v) => dot(softmaxRef(v, rows, cols, log), R), x)]),
      bytes: 16 * rows * cols,
    };
  },
}));

function xentCase(): KernelCase {
  return {
    name: 'cross-entropy forward + backward with max-z, 6x301, one ignored row', kernels: ['xentFwd', 'xentBwd'], kind: 'backward', bound: 1e-7, baselineBound: 1e-7,
    make(scale) {
      const rows = scale === 'perf' ? 512 : 6, cols = scale === 'perf' ? 125696 : 301, zw = 2e-4, ignore = -100;
      const x = randn(rows * cols, 14, 3);
      const r = new Rng(15);
      const t = Int32Array.from({ length: rows }, (_, i) => (i === 2 ? ignore : r.int(cols)));
      const loss = new Float32Array(rows), lse = new Float32Array(rows), mx = new Float32Array(rows), am = new Int32Array(rows);
      const dl = new Float32Array(rows * cols);
      const kept = Array.from(t).filter((v) => v !== ignore).length;
      const gCe = new Float32Array(rows).fill(1 / kept);
      return {
        run() {
          native.xentFwd(x, t, rows, cols, ignore, loss, lse, mx, am);
          const gZ = Float32Array.from(mx, (m) => (2 * zw * m) / rows);
          native.xentBwd(x, t, lse, am, gCe, gZ, dl, rows, cols, ignore);
          return [loss, lse, dl];
        },
        ref: memo(() => {
          const rl = new Float64Array(rows), rlse = new Float64Array(rows);
          for (let i = 0; i < rows; i++) {
            let m = -Infinity;
            for (let c = 0; c < cols; c++) m = Math.max(m, x[i * cols + c]!);
            let s = 0;
            for (let c = 0; c < cols; c++) s += Math.exp(x[i * cols + c]! - m);
            rlse[i] = m + Math.log(s);
            rl[i] = t[i] === ignore ? 0 : rlse[i]! - x[i * cols + t[i]!]!;
          }
          // d/dx of mean CE over kept rows + zw * mean(max^2): the loss the trainer uses
          const f = (v: Float64Array) => {
            let ce = 0, z = 0;
            for (let i = 0; i < rows; i++) {
              let m = -Infinity;
              for (let c = 0; c < cols; c++) m = Math.max(m, v[i * cols + c]!);
              z += m * m;
              if (t[i] === ignore) continue;
              let s = 0;
              for (let c = 0; c < cols; c++) s += Math.exp(v[i * cols + c]! - m);
              ce += m + Math.log(s) - v[i * cols + t[i]!]!;
            }
            return ce / kept + (zw * z) / rows;
          };
          return [rl, rlse, fd(f, x)];
        }),
        bytes: 8 * rows * cols,
      };
    },
  };
}

// ---------------------------------------------------------------- attention

/** `long`: 67 x 69 scores, so the blocked kernels (64 queries x 64 keys) see a partial second block both ways. */
function attentionCase(alibi: boolean, long = false): KernelCase {
  return {
    name: `attention forward + backward, causal, past 2, key mask${alibi ? ', ALiBi' : ''}${long ? ', 67 x 69' : ''}`, kernels: ['attnFwd', 'attnBwd'], kind: 'backward', bound: 1e-7, baselineBound: 1e-7,
    make(scale) {
      const perf = scale === 'perf';
      const B = perf ? 1 : long ? 1 : 2, H = perf ? 32 : long ? 1 : 2, Tq = perf ? 512 : long ? 67 : 7, Tk = perf ? 512 : long ? 69 : 9, D = perf ? 128 : long ? 4 : 8, past = perf ? 0 : 2;
      const q = randn(B * H * Tq * D, 16), k = randn(B * H * Tk * D, 17), v = randn(B * H * Tk * D, 18), R = randn(B * H * Tq * D, 19);
      const slopes = alibi ? Float32Array.from({ length: H }, (_, h) => 2 ** (-(h + 1))) : null;
      const keyMask = perf ? null : Int32Array.from({ length: B * Tk }, (_, i) => (i === (long ? 65 : Tk + 1) ? 0 : 1));
      const st = (T: number) => [H * T * D, T * D, D];
      const opts = { B, H, Tq, Tk, D, q: st(Tq), k: st(Tk), v: st(Tk), o: st(Tq), dq: st(Tq), dk: st(Tk), dv: st(Tk), past, causal: true, scale: 1 / Math.sqrt(D) };
      const o = new Float32Array(q.length), lse = new Float32Array(B * H * Tq);
      const dq = new Float32Array(q.length), dk = new Float32Array(k.length), dv = new Float32Array(v.length);
      const refOpts = { causal: true, past, scale: opts.scale, slopes: slopes ?? undefined, keyMask: keyMask ?? undefined };
      const f = (qq: ArrayLike<number>, kk: ArrayLike<number>, vv: ArrayLike<number>) => dot(attentionRef(qq, kk, vv, B, H, Tq, Tk, D, refOpts), R);
      return {
        run() {
          native.attnFwd(opts, slopes, keyMask, q, k, v, o, lse);
          if (perf) return [o];
          native.attnBwd(opts, slopes, keyMask, q, k, v, o, lse, R, dq, dk, dv);
          return [o, dq, dk, dv];
        },
        ref: memo(() => perf ? [attentionRef(q, k, v, B, H, Tq, Tk, D, refOpts)] : [attentionRef(q, k, v, B, H, Tq, Tk, D, refOpts),
          fd((x) => f(x, k, v), q), fd((x) => f(q, x, v), k), fd((x) => f(q, k, x), v)]),
        flops: 2 * B * H * Tq * Tk * D,  // causal: QK^T and PV over half the square
      };
    },
  };
}

// ---------------------------------------------------------------- optimiser, reductions, conversions, random

const miscCases: KernelCase[] = [
  {
    name: 'adamw 3 steps with bf16 copy, n=1003', kernels: ['adamw'], kind: 'forward', bound: 1e-7, baselineBound: 1e-7,
    make(scale) {
      const n = scale === 'perf' ? 1 << 22 : 1003;
      const p0 = randn(n, 20), grads = [randn(n, 21), randn(n, 22), randn(n, 23)];
      const p = new Float32Array(n), m = new Float32Array(n), v = new Float32Array(n), pb = new Uint16Array(n), pbf = new Float32Array(n);
      const hp = { lr: 1e-2, b1: 0.9, b2: 0.95, eps: 1e-8, wd: 0.1 };
      return {
        run() {
          p.set(p0); m.fill(0); v.fill(0);
          for (let s = 1; s <= (scale === 'perf' ? 1 : 3); s++)
            native.adamw(p, grads[s - 1]!, m, v, n, hp.lr, hp.b1, hp.b2, hp.eps, hp.wd, 1 - hp.b1 ** s, 1 - hp.b2 ** s, pb);
          native.bf16ToF32(pb, pbf, n);
          return [p, m, v, pbf];
        },
        ref: memo(() => {
          const st = { p: Float64Array.from(p0), m: new Float64Array(n), v: new Float64Array(n) };
          for (let s = 1; s <= 3; s++) adamwRef(st, grads[s - 1]!, s, hp.lr, hp.b1, hp.b2, hp.eps, hp.wd);
          return [st.p, st.m, st.v, st.p];  // the bf16 copy: within bf16 rounding (NMSE ~1e-6, see bound note below)
        }),
        bytes: 18 * n,
      };
    },
  },
  {
    name: 'sumsq n=100003', kernels: ['sumsq'], kind: 'forward', bound: 1e-14, baselineBound: 0,
    make(scale) {
      const n = scale === 'perf' ? 1 << 24 : 100003;
      const x = randn(n, 24);
      return {
        run() { return [Float32Array.of(native.sumsq(x, n))]; },
        ref: memo(() => { let s = 0; for (let i = 0; i < n; i++) s += x[i]! * x[i]!; return [[s]]; }),
        bytes: 4 * n,
      };
    },
  },
  {
    name: 'bf16 <-> f32 conversion (round to nearest even, NaN)', kernels: ['f32ToBf16', 'bf16ToF32'], kind: 'exact', bound: 0, baselineBound: 0,
    make(scale) {
      const n = scale === 'perf' ? 1 << 22 : 4099;
      const x = randn(n, 25, 10);
      x[0] = NaN; x[1] = Infinity; x[2] = -0; x[3] = 1 + 2 ** -8; x[4] = 1 + 3 * 2 ** -8; x[5] = 3.4e38;
      const bits = new Uint16Array(n), back = new Float32Array(n);
      return {
        run() { native.f32ToBf16(x, bits, n); native.bf16ToF32(bits, back, n); return [Float32Array.from(bits)]; },
        ref: memo(() => {
          const u = new Uint32Array(Float32Array.from(x).buffer);
          return [Float64Array.from(u, (w) => ((w & 0x7fffffff) > 0x7f800000 ? (w >>> 16) | 0x40 : ((w + 0x7fff + ((w >>> 16) & 1)) >>> 16) & 0xffff))];
        }),
        bytes: 6 * n,
      };
    },
  },
  {
    name: 'randomFill normal (baseline bits)', kernels: ['randomFill'], kind: 'exact', bound: Infinity, baselineBound: 0,
    make(scale) {
      const n = scale === 'perf' ? 1 << 22 : 1001;
      const out = new Float32Array(n);
      return { run() { native.randomFill(out, 42, true, 0, 1); return [out]; }, ref: () => [out.slice()], bytes: 4 * n };
    },
  },
];

// ---------------------------------------------------------------- element-wise arithmetic
// binary and affine must give exactly the bits of the TypeScript kernels
// (src/engine/cpu-kernels.ts), which the backend still runs below its native
// threshold: the reference is each operation in float64 rounded once to f32.
// Special values (NaN either side, infinities, signed zeros, subnormals) are
// planted; the perf size is a model activation ([B*T, C] = 1024 x 512).

const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'maximum'] as const;
function binaryRef(op: typeof BINARY_OPS[number], x: number, y: number): number {
  switch (op) {
    case 'add': return Math.fround(x + y);
    case 'sub': return Math.fround(x - y);
    case 'mul': return Math.fround(x * y);
    case 'div': return Math.fround(x / y);
    case 'maximum': return x >= y || Number.isNaN(x) ? x : y;
  }
}
function specials(x: Float32Array, y: Float32Array): void {
  const sx = [NaN, 1, Infinity, -0, 0, 1e-40, -3e38, 2.5, NaN, -Infinity];
  const sy = [1, NaN, Infinity, 0, -0, 1e-40, -3e38, 0, NaN, Infinity];
  sx.forEach((v, i) => { x[i] = v; y[i] = sy[i]!; });
}
/** f32 values as their bits, in two 16-bit halves (exact in f32), every NaN as one value (payloads are not compared). */
function bitHalves(x: ArrayLike<number>): Float32Array[] {
  const f = Float32Array.from(x), u = new Uint32Array(f.buffer);
  for (let i = 0; i < f.length; i++) if (Number.isNaN(f[i]!)) u[i] = 0x7fc00000;
  return [Float32Array.from(u, (w) => w >>> 16), Float32Array.from(u, (w) => w & 0xffff)];
}
const elementwiseCases: KernelCase[] = [
  ...BINARY_OPS.map((op, code): KernelCase => ({
    name: `binary ${op} n=100003 (bits of the TypeScript kernel)`, kernels: ['binary'], kind: 'exact', bound: 0, baselineBound: 0,
    make(scale) {
      const n = scale === 'perf' ? 1 << 19 : 100003;
      const a = randn(n, 40 + code, 3), b = randn(n, 50 + code, 3);
      specials(a, b);
      const out = new Float32Array(n);
      return {
        run() { native.binary(code, a, b, out, n); return scale === 'perf' ? [out] : bitHalves(out); },
        ref: memo(() => bitHalves(Float64Array.from(a, (v, i) => binaryRef(op, v, b[i]!)))),
        bytes: 12 * n,
      };
    },
  })),
  ...[[0.37, 0], [-1.0000001, 2.5e-3], [Math.fround(0.5 / 3), -7]].map(([sa, sb]): KernelCase => ({
    name: `affine x * ${sa} + ${sb} n=100003 (bits of the TypeScript kernel)`, kernels: ['affine'], kind: 'exact', bound: 0, baselineBound: 0,
    make(scale) {
      const n = scale === 'perf' ? 1 << 19 : 100003;
      const x = randn(n, 60, 5), y = new Float32Array(n);
      specials(x, new Float32Array(16));
      return {
        run() { native.affine(x, sa!, sb!, y, n); return scale === 'perf' ? [y] : bitHalves(y); },
        ref: memo(() => bitHalves(Float64Array.from(x, (v) => Math.fround(sb === 0 ? v * sa! : v * sa! + sb!)))),  // b = 0: x * a (keeps -0)
        bytes: 8 * n,
      };
    },
  })),
];

// ---------------------------------------------------------------- the table

const base = { batch: 1, alpha: 1, beta: 0 };
export const KERNEL_CASES: KernelCase[] = [
  gemmCase('f32', { ...base, M: 37, N: 45, K: 300, tA: false, tB: true }, { ...base, M: 1024, N: 1024, K: 1024, tA: false, tB: true }),
  gemmCase('f32', { ...base, M: 29, N: 67, K: 33, tA: false, tB: false }, { ...base, M: 512, N: 11008, K: 4096, tA: false, tB: true }),
  gemmCase('f32', { M: 19, N: 35, K: 41, tA: true, tB: false, batch: 2, alpha: 0.5, beta: 0.25 }, { ...base, M: 4096, N: 1024, K: 512, tA: true, tB: false }),
  gemmCase('f32', { ...base, M: 200, N: 70, K: 40, tA: true, tB: true }),
  gemmCase('f32', { ...base, M: 3, N: 77, K: 300, tA: false, tB: true }, { ...base, M: 1, N: 11008, K: 4096, tA: false, tB: true }),
  gemmCase('bf16', { ...base, M: 37, N: 45, K: 301, tA: false, tB: true }, { ...base, M: 1024, N: 1024, K: 1024, tA: false, tB: true }),
  gemmCase('bf16', { ...base, M: 29, N: 67, K: 33, tA: false, tB: false }, { ...base, M: 512, N: 11008, K: 4096, tA: false, tB: true }),
  gemmCase('bf16', { M: 19, N: 35, K: 41, tA: true, tB: false, batch: 2, alpha: 0.5, beta: 0.25 }, { ...base, M: 4096, N: 1024, K: 512, tA: true, tB: false }),
  gemmCase('bf16', { ...base, M: 200, N: 70, K: 41, tA: true, tB: true }),
  gemmCase('bf16', { ...base, M: 2, N: 77, K: 300, tA: false, tB: true }, { ...base, M: 1, N: 11008, K: 4096, tA: false, tB: true }),
  gemmCase('mixed', { ...base, M: 23, N: 40, K: 77, tA: false, tB: true }),
  // M above one A block (MC rows): the shared-B-block path, several K slices; perf: a layer's dX and dW (7B, T = 512)
  gemmCase('f32', { ...base, M: 531, N: 70, K: 300, tA: false, tB: true }, { ...base, M: 512, N: 4096, K: 12288, tA: false, tB: false }),
  gemmCase('bf16', { ...base, M: 533, N: 45, K: 290, tA: true, tB: false }, { ...base, M: 12288, N: 4096, K: 512, tA: true, tB: false }),
  // four A blocks or more per build: a thread reuses its packed B slice across its blocks
  gemmCase('f32', { ...base, M: 1560, N: 20, K: 260, tA: true, tB: false }),
  ...[8, 4].flatMap((bits) => [
    quantizeCase(bits as 4 | 8, 32), quantizeCase(bits as 4 | 8, 128),
    qmatmulCase(bits as 4 | 8, 1, 37, 352, 32, { M: 1, N: 11008, K: 4096 }),
    qmatmulCase(bits as 4 | 8, 3, 37, 384, 64),
    qmatmulCase(bits as 4 | 8, 8, 33, 384, 128),
    qmatmulCase(bits as 4 | 8, 13, 37, 352, 32, { M: 128, N: 11008, K: 4096 }),
    qmatmulCase(bits as 4 | 8, 20, 70, 384, 64),
  ]),
  ...rmsnormCases, pointwiseCase('silu'), pointwiseCase('swiglu'), ropeCase(), ...softmaxCases, xentCase(),
  attentionCase(false), attentionCase(true), attentionCase(true, true), ...miscCases,
  ...elementwiseCases,
];

/** Where a build legitimately differs from the baseline beyond baselineBound, the bound that applies and why. */
export function caseBaseline(c: KernelCase, caps: Caps, baseCaps: Caps): { bound: number; why?: string } {
  if (c.kernels.includes('qmatmul') && caps.int8Gemm !== baseCaps.int8Gemm && /M=(\d+)/.test(c.name) && Number(/M=(\d+)/.exec(c.name)![1]) > 8)
    // int8 activations vs f32 activations: the activation rounding, |dx| <= s/2 with s = absmax/127 per
    // 32-block. Rounding errors are ~uniform, variance s^2/12; for Gaussian x a block's absmax is ~2.1 sigma,
    // so the NMSE of x (and of y = W x, the errors being independent) is ~(2.1/127)^2/12 = 2.3e-5; a row of
    // outliers can raise one block's s, hence the 40x margin. An indexing slip gives NMSE ~1.
    return { bound: 1e-3, why: 'int8 prefill vs f32 x dequantised weights: activation rounding' };
  return { bound: c.baselineBound };
}

/** The bound against the reference for output i of a case (the adamw bf16 copy is rounded to bf16). */
export function outputBound(c: KernelCase, i: number): number {
  if (c.kernels.includes('adamw') && i === 3) return 2 ** -16;  // bf16 rounding: relative error <= 2^-9, NMSE <= 2^-18 average-case < 2^-16
  return c.bound;
}

// ---------------------------------------------------------------- --perf

export interface PerfRow { case: string; build: string; ms: number; gflops?: number; gbs?: number }

function timeIt(fn: () => void, minMs = 300): number {
  fn();
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < 3 || performance.now() - t0 < minMs) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
    if (times.length >= 30) break;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Times every case (perf sizes) on each given build; the kernel benchmark. */
export function runPerf(builds: string[], filter: RegExp | null, log: (s: string) => void = () => {}): PerfRow[] {
  const rows: PerfRow[] = [];
  const active = native.info().arch;
  try {
    for (const c of KERNEL_CASES) {
      if (filter && !filter.test(c.name)) continue;
      const inst = c.make('perf');
      for (const b of builds) {
        native.setArch(b);
        const ms = timeIt(() => inst.run());
        const row: PerfRow = { case: inst.label ?? `${c.name} (perf size)`, build: b, ms };
        if (inst.flops) row.gflops = inst.flops / ms / 1e6;
        if (inst.bytes) row.gbs = inst.bytes / ms / 1e6;
        rows.push(row);
        log(`${row.case} [${b}]: ${ms.toFixed(3)} ms${row.gflops ? `, ${row.gflops.toFixed(1)} GFLOP/s` : ''}${row.gbs ? `, ${row.gbs.toFixed(1)} GB/s` : ''}`);
      }
    }
  } finally {
    native.setArch(active);
  }
  return rows;
}

/** Markdown: one row per case, one column per build (GFLOP/s where the case counts FLOPs, else GB/s, else ms). */
export function perfReport(rows: PerfRow[], header: string): string {
  const builds = [...new Set(rows.map((r) => r.build))];
  const cases = [...new Set(rows.map((r) => r.case))];
  const lines = [header, '', `kernel table at model sizes (\`baichuan2 bench kernels\`); median ms and GFLOP/s (FLOP-counted cases) or GB/s; builds: ${builds.join(', ')}`, '',
    `| case | ${builds.join(' | ')} | ${builds[0]} ÷ ${builds[builds.length - 1]} |`, `|---|${builds.map(() => '---|').join('')}---|`];
  for (const c of cases) {
    const cells = builds.map((b) => rows.find((r) => r.case === c && r.build === b));
    const fmt = (r?: PerfRow) => !r ? 'n/a' : r.gflops ? `${r.gflops.toFixed(1)} GFLOP/s` : r.gbs ? `${r.gbs.toFixed(1)} GB/s` : `${r.ms.toFixed(2)} ms`;
    const first = cells[0], last = cells[cells.length - 1];
    lines.push(`| ${c} | ${cells.map(fmt).join(' | ')} | ${first && last ? (last.ms / first.ms).toFixed(2) : 'n/a'} |`);
  }
  return lines.join('\n') + '\n';
}
