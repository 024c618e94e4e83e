// Test helpers: seeded data, error measures, finite differences in float64.
// The engine tests measure with assertNmse and the bounds of
// bench/kernels/bounds.ts; assertClose (max-abs) is for the model, align and
// I/O tests that compare with external goldens.
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { nmse, fd } from '../bench/kernels/case.js';

export function randArray(n: number, seed: number, scale = 1): Float32Array {
  const r = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * r.normal();
  return a;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return Infinity;
    m = Math.max(m, d);
  }
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** Normalised MSE, sum (a-b)^2 / sum b^2 (ggml's measure): the kernel table's, bench/kernels/case.ts. */
export { nmse };

/** Assert nmse(a, ref) <= bound; bound is one of bench/kernels/bounds.ts (BOUNDS, bf16Bound), the engine tests' only tolerances. */
export function assertNmse(a: ArrayLike<number>, ref: ArrayLike<number>, bound: number, what: string): void {
  assert.equal(a.length, ref.length, `${what}: length ${a.length} vs ${ref.length}`);
  const e = nmse(a, ref);
  assert.ok(e <= bound, `${what}: NMSE ${e.toExponential(2)} > ${bound.toExponential(2)}`);
}

/** Assert max |a - b| <= atol + rtol * max|b|. */
export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what: string, atol = 0): void {
  const d = maxAbsDiff(a, b), s = maxAbs(b);
  assert.ok(d <= atol + rtol * s, `${what}: max |diff| ${d.toExponential(3)} > ${atol} + ${rtol} * ${s.toExponential(3)}`);
}

/**
 * Central-difference gradient of the scalar f at x (float64, step h): the
 * kernel table's fd (bench/kernels/case.ts). The engine tests use its step
 * (FD_STEP); this default of 1e-5 is kept for the callers outside test/engine.
 */
export function numericGrad(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-5): Float64Array {
  return fd(f, x0, h);
}

/** sum(y * r) for a fixed random r: turns a tensor output into a scalar loss. */
export function dotWith(y: ArrayLike<number>, r: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!;
  return s;
}

import { Tensor } from '../src/engine/tensor.js';
import { backward } from '../src/engine/autograd.js';
import { mul } from '../src/engine/ops/elementwise.js';
import { sum } from '../src/engine/ops/reduce.js';

/** Gradients of sum(build(inputs) * R) with respect to each input, through our autograd. */
export function gradsOf(build: (...ts: Tensor[]) => Tensor, inputs: Tensor[], R: Float32Array): Float32Array[] {
  for (const t of inputs) { t.requiresGrad_(true); t.grad = null; }
  const y = build(...inputs);
  const loss = sum(mul(y, Tensor.from(R, y.shape)));
  backward(loss);
  return inputs.map((t) => t.grad!.f32());
}
