// The shape of a row of the kernel table, and the tools every row uses:
// normalised MSE, seeded inputs, bf16 rounding through the kernel, and
// central finite differences in float64 (the oracle of every backward row).
// The bounds themselves live in ./bounds.ts; the rows in the family files
// (./gemm.ts, ./attention.ts, ...), collected by ./index.ts.
import { native, type NativeInfo } from '../../src/engine/native.js';
import { Rng } from '../../src/engine/rng.js';

export type Scale = 'test' | 'perf';
export type Caps = NativeInfo['caps'];

export interface Instance {
  /** Runs the kernel; returns its outputs (the same buffers and shapes each call). */
  run(): Float32Array[];
  /** The expected outputs (float64 reference, or finite differences of it), for a build with these caps. */
  ref(caps: Caps): ArrayLike<number>[];
  /** Work of one run, for --perf: floating-point (or int8 multiply-add x 2) operations, and bytes streamed. */
  flops?: number;
  bytes?: number;
  /** The case at this instance's size (perf sizes differ from the test's). */
  label?: string;
}

export interface KernelCase {
  name: string;
  /** The addon entry points it covers (the harness checks that every entry point has a row). */
  kernels: string[];
  /** forward: outputs vs the float64 reference; backward: gradients vs finite differences (forward outputs too); exact: bit equality. */
  kind: 'forward' | 'backward' | 'exact';
  /** NMSE bound of every output against the reference: one of BOUNDS (./bounds.ts); Infinity: no reference (baseline only). */
  bound: number;
  /** Per-output overrides of `bound` (e.g. a bf16 copy among f32 outputs). */
  outputBounds?: (number | undefined)[];
  /** NMSE bound against the baseline build: a number, or a function of the two builds' caps where they legitimately differ. */
  baselineBound: number | ((caps: Caps, baseCaps: Caps) => number);
  /** Perf-only cases are not run by the test (too large for it). */
  perfOnly?: boolean;
  /** Test-only cases are not timed by --perf (an edge shape of a kernel that another row times). */
  testOnly?: boolean;
  make(scale: Scale): Instance;
}

/** The bound for output i of c against the reference. */
export function outputBound(c: KernelCase, i: number): number {
  return c.outputBounds?.[i] ?? c.bound;
}

/** The bound of c against the baseline build. */
export function baselineBound(c: KernelCase, caps: Caps, baseCaps: Caps): number {
  return typeof c.baselineBound === 'number' ? c.baselineBound : c.baselineBound(caps, baseCaps);
}

/** Normalised MSE, sum (a - b)^2 / sum b^2 (ggml's test-backend-ops measure); b is the reference. Infinity on NaN or a length mismatch. */
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

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = new Rng(seed), a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * r.normal();
  return a;
}

/** x rounded to bf16 by the kernel: the bits, and their f32 values. */
export function toBf16(x: Float32Array): { bits: Uint16Array; values: Float32Array } {
  const bits = new Uint16Array(x.length), values = new Float32Array(x.length);
  native.f32ToBf16(x, bits, x.length);
  native.bf16ToF32(bits, values, x.length);
  return { bits, values };
}

export const dot = (y: ArrayLike<number>, r: ArrayLike<number>): number => { let s = 0; for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!; return s; };

/**
 * Central differences of the scalar f at x, in float64. Error: truncation
 * h^2 f'''/6 ~ 1e-8 relative for the smooth functions here, rounding
 * ~eps64 |f| / h ~ 1e-12 |f|; both far below the f32 error of a kernel.
 */
export function fd(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = FD_STEP): Float64Array {
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

/** The finite-difference step (see fd and BOUNDS.fd). */
export const FD_STEP = 1e-4;

/** Element-wise derivative by central differences. */
export function fdPointwise(f: (x: number) => number, x: ArrayLike<number>, h = FD_STEP): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) g[i] = (f(x[i]! + h) - f(x[i]! - h)) / (2 * h);
  return g;
}

export function memo<T>(f: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= f());
}
