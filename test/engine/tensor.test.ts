// Tensor basics: views share storage, contiguous() copies, dtype rounding,
// seeded RNG, autograd accumulation and noGrad, Module naming.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { contiguous, expand, narrow, permute, reshape, transpose, unsqueeze } from '../../src/engine/ops/shape.js';
import { Rng } from '../../src/engine/rng.js';
import { f32ToBf16, bf16ToF32, f32ToF16, f16ToF32 } from '../../src/engine/dtype.js';
import { backward, noGrad } from '../../src/engine/autograd.js';
import { add, mul, scale } from '../../src/engine/ops/elementwise.js';
import { sum } from '../../src/engine/ops/reduce.js';
import { Module } from '../../src/engine/module.js';

test('views share storage and contiguous() copies only when needed', () => {
  const t = Tensor.from([0, 1, 2, 3, 4, 5], [2, 3]);
  const tt = transpose(t, 0, 1);
  assert.deepEqual(tt.shape, [3, 2]);
  assert.equal(tt.data, t.data);
  assert.equal(tt.isContiguous(), false);
  assert.deepEqual(tt.toArray(), [0, 3, 1, 4, 2, 5]);
  const c = contiguous(tt);
  assert.notEqual(c.data, t.data);
  assert.equal(contiguous(t), t);
  const n = narrow(t, 1, 1, 2);
  assert.deepEqual(n.tolist(), [[1, 2], [4, 5]]);
  assert.equal(n.data, t.data);
  assert.deepEqual(reshape(t, [3, 2]).tolist(), [[0, 1], [2, 3], [4, 5]]);
  assert.equal(reshape(t, [-1]).data, t.data);
  assert.deepEqual(reshape(tt, [6]).toArray(), [0, 3, 1, 4, 2, 5]);  // needs a copy: values stay right
  const e = expand(Tensor.from([1, 2], [2, 1]), [2, 3]);
  assert.deepEqual(e.strides, [1, 0]);
  assert.deepEqual(e.toArray(), [1, 1, 1, 2, 2, 2]);
  assert.deepEqual(unsqueeze(permute(t, [1, 0]), 0).shape, [1, 3, 2]);
  assert.equal(t.get(1, 2), 5);
  assert.throws(() => t.get(2, 0), /index 2 out of range for dim 0/);
  assert.throws(() => reshape(t, [4, 2]), /\[2, 3\] \(6 elements\) cannot become \[4, 2\]/);
  assert.throws(() => narrow(t, 1, 2, 2), /narrow: \[2, 4\) out of range for dim 1/);
  assert.throws(() => Tensor.from([1, 2, 3], [2, 2]), /3 values do not fill shape \[2, 2\]/);
  assert.throws(() => expand(e, [3, 3]), /cannot expand \[2, 3\] to \[3, 3\]/);
});

test('strided copies give each element of the view, in every dtype, both sides of the native threshold', () => {
  // [2, 3, 37, 11] permuted (0, 2, 1, 3) and narrowed: 2442 elements (native) and a 1/8 slice of them (TypeScript)
  for (const dtype of ['f32', 'bf16', 'i32'] as const) {
    for (const T of [37, 5]) {
      const n = 2 * 3 * T * 11;
      const t = Tensor.from(Array.from({ length: n }, (_, i) => i % 251), [2, 3, T, 11], dtype);
      const v = narrow(permute(t, [0, 2, 1, 3]), 3, 2, 7);  // [2, T, 3, 7], strides [3 T 11, 11, T 11, 1], offset 2
      const c = contiguous(v);
      assert.ok(c.isContiguous() && c.dtype === dtype);
      const got = c.toArray();
      let k = 0;
      for (let b = 0; b < 2; b++) for (let i = 0; i < T; i++) for (let h = 0; h < 3; h++) for (let d = 2; d < 9; d++)
        assert.equal(got[k++], (((b * 3 + h) * T + i) * 11 + d) % 251, `${dtype} T=${T} at (${b}, ${i}, ${h}, ${d})`);
    }
  }
  // a broadcast (stride-0) view, and f32() of a strided f32 view is a fresh copy
  const e = contiguous(expand(Tensor.from([1, 2, 3], [3, 1]), [3, 1000]));
  assert.deepEqual([e.f32()[0], e.f32()[999], e.f32()[1000], e.f32()[2999]], [1, 1, 2, 3]);
  const base = Tensor.from(Array.from({ length: 4096 }, (_, i) => i), [64, 64]);
  const tf = transpose(base, 0, 1).f32();
  assert.notEqual(tf.buffer, base.data.buffer);
  assert.equal(tf[1], 64);
});

test('bf16 and f16 conversions round to nearest even and keep specials', () => {
  assert.equal(bf16ToF32(f32ToBf16(1)), 1);
  // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties go to even (1)
  assert.equal(bf16ToF32(f32ToBf16(1 + 2 ** -8)), 1);
  assert.equal(bf16ToF32(f32ToBf16(1 + 3 * 2 ** -8)), 1 + 2 ** -6);
  assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(NaN))));
  assert.equal(bf16ToF32(f32ToBf16(-Infinity)), -Infinity);
  assert.equal(f16ToF32(f32ToF16(65504)), 65504);
  assert.equal(f16ToF32(f32ToF16(70000)), Infinity);
  assert.equal(f16ToF32(f32ToF16(2 ** -24)), 2 ** -24);
  assert.equal(f16ToF32(f32ToF16(1 + 2 ** -11)), 1);
  const x = Tensor.from([0.1, -2.5, 3e-3], [3]);
  const b = x.astype('bf16');
  assert.equal(b.dtype, 'bf16');
  assert.deepEqual(b.toArray(), [0.10009765625, -2.5, 0.0030059814453125]);
  assert.deepEqual(x.astype('f16').astype('f32').toArray().map((v) => Math.abs(v - 0.1) < 1e-4 || Math.abs(v + 2.5) < 1e-3 || Math.abs(v - 3e-3) < 1e-5), [true, true, true]);
});

test('seeded RNG is reproducible and restorable', () => {
  const a = Tensor.randn([1000], { seed: 42 }).toArray();
  assert.deepEqual(Tensor.randn([1000], { seed: 42 }).toArray(), a);
  assert.notDeepEqual(Tensor.randn([1000], { seed: 43 }).toArray(), a);
  const m = a.reduce((s, v) => s + v, 0) / a.length;
  const sd = Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
  assert.ok(Math.abs(m) < 0.1 && Math.abs(sd - 1) < 0.1, `mean ${m}, sd ${sd}`);
  const r = new Rng(7);
  r.normal(); r.uniform();
  const saved = r.state();
  const next = [r.normal(), r.uniform(), r.nextU32()];
  const r2 = Rng.fromState(saved);
  assert.deepEqual([r2.normal(), r2.uniform(), r2.nextU32()], next);
});

test('autograd accumulates across backward calls, respects noGrad and shared inputs', () => {
  const x = Tensor.from([1, 2, 3]).requiresGrad_();
  backward(sum(mul(x, x)));
  assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
  backward(sum(scale(x, 3)));
  assert.deepEqual(x.grad!.toArray(), [5, 7, 9]);
  x.grad = null;
  const y = add(x, x);  // the same tensor twice: gradients add
  backward(sum(y));
  assert.deepEqual(x.grad!.toArray(), [2, 2, 2]);
  const z = noGrad(() => mul(x, x));
  assert.equal(z.requiresGrad, false);
  assert.throws(() => backward(sum(z)), /does not require grad/);
  assert.throws(() => backward(mul(x, x)), /pass a gradient for non-scalar outputs/);
  assert.throws(() => Tensor.zeros([2], 'i32').requiresGrad_(), /integer tensors cannot require gradients/);
});

test('Module names parameters by dotted path and switches train/eval', () => {
  class Inner extends Module {
    constructor() { super(); this.registerParameter('weight', Tensor.zeros([2])); }
  }
  class Outer extends Module {
    inner = this.registerModule('inner', new Inner());
    constructor() { super(); this.registerParameter('scale', Tensor.ones([1])); }
  }
  const m = new Outer();
  assert.deepEqual([...m.namedParameters()].map(([n]) => n), ['scale', 'inner.weight']);
  assert.equal(m.parameterCount(), 3);
  m.eval();
  assert.equal(m.inner.training, false);
  m.setParameter('inner.weight', Tensor.ones([2]));
  assert.deepEqual([...m.namedParameters()][1]![1].toArray(), [1, 1]);
  assert.throws(() => m.setParameter('inner.bias', Tensor.ones([2])), /no parameter named 'inner.bias'/);
});

test('counter-based fills: reproducible, thread-count independent, right moments', async () => {
  const { native } = await import('../../src/engine/native.js');
  const threads = native.info().threads;
  try {
    native.setThreads(1);
    const a = Tensor.randnFast([100003], 5, 2, 1).toArray();
    native.setThreads(3);
    assert.deepEqual(Tensor.randnFast([100003], 5, 2, 1).toArray(), a);
    const m = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
    assert.ok(Math.abs(m - 1) < 0.03 && Math.abs(sd - 2) < 0.03, `mean ${m} sd ${sd}`);
    const u = Tensor.randFast([10000], 6, -3, -1).toArray();
    assert.ok(u.every((v) => v >= -3 && v < -1));
    assert.notDeepEqual(Tensor.randnFast([10], 6).toArray(), Tensor.randnFast([10], 7).toArray());
  } finally {
    native.setThreads(threads);
  }
});
