// Test helpers: seeded data, error measures, finite differences in float64.
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';

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

/** Normalised MSE: sum (a-b)^2 / sum b^2 (ggml's test-backend-ops measure). */
export function nmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return den === 0 ? num : num / den;
}

/** Assert max |a - b| <= atol + rtol * max|b|. */
export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what: string, atol = 0): void {
  const d = maxAbsDiff(a, b), s = maxAbs(b);
  assert.ok(d <= atol + rtol * s, `${what}: max |diff| ${d.toExponential(3)} > ${atol} + ${rtol} * ${s.toExponential(3)}`);
}

/**
 * Central-difference gradient of the scalar f at x (float64, step h):
 * the oracle for every backward pass, applied to the float64 reference.
 */
export function numericGrad(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-5): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    x[i] = v + h;
    const fp = f(x);
    x[i] = v - h;
    const fm = f(x);
    x[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
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
