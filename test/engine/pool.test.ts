// The CPU storage pool (src/engine/pool.ts) and what backward() gives back to
// it: a freed storage comes back zero-filled for the next alloc of its size;
// the backward pass frees the gradients it has consumed but never a buffer
// somebody else may hold (the caller's seed gradient, parameters, activations,
// a leaf's .grad, a gradient two inputs share). Each "never" is checked by
// allocating that size again many times: a wrongly freed buffer would be
// handed out and zeroed under its owner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { backward } from '../../src/engine/autograd.js';
import { backend } from '../../src/engine/backend.js';
import { add, mul, scale } from '../../src/engine/ops/elementwise.js';
import { linear } from '../../src/engine/ops/matmul.js';
import { clearPool, pooledBytes } from '../../src/engine/pool.js';
import { randArray } from '../helpers.js';

const N = 1 << 16;  // 256 KiB of f32: the smallest size the pool keeps

/** Drain the pool's buffers of n f32 elements (and zero them), as a later op would. */
function churn(n: number): Float32Array[] {
  return Array.from({ length: 16 }, () => backend().alloc('f32', n) as Float32Array);
}

test('a freed storage is handed out again, zero-filled; views, small storages and a second free are not kept', () => {
  clearPool();
  const a = backend().alloc('f32', N) as Float32Array;
  a.fill(7);
  backend().free(a);
  assert.equal(pooledBytes(), 4 * N);
  backend().free(a);  // twice: still one entry
  assert.equal(pooledBytes(), 4 * N);
  const b = backend().alloc('f32', N) as Float32Array;
  assert.equal(b, a);
  assert.ok(b.every((v) => v === 0));
  backend().free(b.subarray(1));
  backend().free(new Float32Array(100));
  assert.equal(pooledBytes(), 0);
  // bf16 and f32 of the same byte size are different storages
  backend().free(new Uint16Array(2 * N));
  assert.ok(!((backend().alloc('f32', N)) instanceof Uint16Array));
  assert.ok(backend().alloc('bf16', 2 * N) instanceof Uint16Array);
  clearPool();
});

test('backward frees consumed gradients but never the seed, parameters, activations, leaf grads or shared gradients', () => {
  clearPool();
  const x0 = randArray(N, 1), w0 = randArray(256 * 256, 2);
  const x = Tensor.from(x0.slice(), [256, 256]).requiresGrad_();
  const w = Tensor.from(w0.slice(), [256, 256]).requiresGrad_();
  // h feeds two paths (its gradient is a sum), and add hands one gradient tensor to both of its inputs
  const h = linear(x, w);
  const y = add(scale(h, 2), mul(h, h));
  const hv = h.f32().slice(), yv = y.f32().slice();
  const seed = Tensor.from(randArray(N, 3), [256, 256]);
  const seedv = seed.f32().slice();
  backward(y, seed);
  assert.ok(pooledBytes() > 0, 'the consumed gradients went back to the pool');
  const gx = x.grad!.f32().slice(), gw = w.grad!.f32().slice();
  churn(N);
  assert.deepEqual(seed.f32(), seedv, 'seed gradient untouched');
  assert.deepEqual(h.f32(), hv, 'activation untouched');
  assert.deepEqual(y.f32(), yv, 'output untouched');
  assert.deepEqual(x.f32(), Float32Array.from(x0), 'parameter untouched');
  assert.deepEqual(w.f32(), Float32Array.from(w0), 'parameter untouched');
  assert.deepEqual(x.grad!.f32(), gx, 'leaf grad untouched');
  assert.deepEqual(w.grad!.f32(), gw, 'leaf grad untouched');
  // and the gradients are right: dy/dh = seed * (2 + 2h), dx = dh w, dW = dh^T x
  const dh = Float64Array.from(seedv, (s, i) => Math.fround(Math.fround(s * 2) + Math.fround(Math.fround(s * hv[i]!) + Math.fround(s * hv[i]!))));
  let err = 0, ref = 0;
  for (let r = 0; r < 4; r++)
    for (let c = 0; c < 256; c++) {
      let s = 0;
      for (let k = 0; k < 256; k++) s += dh[r * 256 + k]! * w0[k * 256 + c]!;
      err = Math.max(err, Math.abs(s - gx[r * 256 + c]!));
      ref = Math.max(ref, Math.abs(s));
    }
  assert.ok(err <= 1e-5 * ref, `dx off by ${err} (scale ${ref})`);
  clearPool();
});
