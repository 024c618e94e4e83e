// AdamW at the op layer (adamwStep with its slot: step count, bias
// correction, f32 and bf16 parameters with fp32 masters) against the float64
// reference over several steps, and global-norm clipping. The fused kernel on
// every build is a row of the kernel table (bench/kernels/optim.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { adamwStep, newAdamWSlot, clipGradNorm, gradNorm } from '../../src/engine/ops/optim.js';
import { adamwRef } from '../../src/engine/ref/optim.js';
import { roundBf16 } from '../../src/engine/dtype.js';
import { BOUNDS, f32Reduction } from '../../bench/kernels/index.js';
import { assertNmse, randArray } from '../helpers.js';

const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

test('AdamW matches the reference for 5 steps', () => {
  const n = 1001;
  const p0 = randArray(n, 1);
  const p = Tensor.from(p0.slice(), [n]).requiresGrad_();
  const slot = newAdamWSlot(p);
  const ref = { p: Float64Array.from(p0), m: new Float64Array(n), v: new Float64Array(n) };
  for (let step = 1; step <= 5; step++) {
    const g = randArray(n, 10 + step);
    p.grad = Tensor.from(g, [n]);
    adamwStep(p, slot, step, hp);
    adamwRef(ref, g, step, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay);
  }
  // f32 state vs float64: a few roundings per step
  assertNmse(p.f32(), ref.p, BOUNDS.f32, 'adamw params');
  assertNmse(slot.m, ref.m, BOUNDS.f32, 'adamw m');
  assertNmse(slot.v, ref.v, BOUNDS.f32, 'adamw v');
});

test('AdamW on a bf16 parameter updates the fp32 master and rounds the working copy', () => {
  const n = 64;
  const p0 = randArray(n, 2).map(roundBf16);
  const p = Tensor.from(p0, [n]).astype('bf16').requiresGrad_();
  const slot = newAdamWSlot(p);
  const ref = { p: Float64Array.from(p0), m: new Float64Array(n), v: new Float64Array(n) };
  for (let step = 1; step <= 3; step++) {
    const g = randArray(n, 20 + step);
    p.grad = Tensor.from(g, [n]);
    adamwStep(p, slot, step, hp);
    adamwRef(ref, g, step, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay);
  }
  assertNmse(slot.master!, ref.p, BOUNDS.f32, 'master');
  assert.deepEqual(p.toArray(), Array.from(slot.master!, roundBf16));
});

test('clipGradNorm scales only above the threshold and returns the pre-clip norm', () => {
  const a = Tensor.zeros([2]).requiresGrad_(), b = Tensor.zeros([1]).requiresGrad_();
  a.grad = Tensor.from([3, 0]);
  b.grad = Tensor.from([4]);
  assert.equal(gradNorm([a, b]), 5);
  assert.equal(clipGradNorm([a, b], 10), 5);
  assert.deepEqual(a.grad.toArray(), [3, 0]);
  assert.equal(clipGradNorm([a, b], 0.5), 5);
  // scaled by maxNorm / (norm + 1e-6), the coefficient and each product rounded to f32 (the norm is summed in float64)
  assertNmse([gradNorm([a, b])], [(0.5 * 5) / (5 + 1e-6)], f32Reduction(2), 'norm after clipping');
});
