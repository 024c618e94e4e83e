// Norms, activations, softmax, cross-entropy and embedding at the op layer:
// each op's autograd wiring (forward against the float64 reference, input
// gradients against finite differences of it, on the active build), the
// bf16 cast order, ignore-index and loss statistics, broadcasting and
// reductions. The kernels behind them, at odd and long rows on every build,
// are rows of the kernel table (bench/kernels/norm.ts, elementwise.ts,
// loss.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { rmsnorm, l2normRows } from '../../src/engine/ops/norm.js';
import { silu, swiglu, add, mul } from '../../src/engine/ops/elementwise.js';
import { softmax, logSoftmax } from '../../src/engine/ops/softmax.js';
import { crossEntropy, type CrossEntropyStats } from '../../src/engine/ops/loss.js';
import { embedding } from '../../src/engine/ops/embedding.js';
import { sum, mean, max } from '../../src/engine/ops/reduce.js';
import { backward } from '../../src/engine/autograd.js';
import { rmsnormRef, l2normRowsRef, siluRef, swigluRef, softmaxRef, crossEntropyRef, embeddingRef } from '../../src/engine/ref/index.js';
import { roundBf16 } from '../../src/engine/dtype.js';
import { BOUNDS, bf16Bound, f32Reduction, fd } from '../../bench/kernels/index.js';
import { assertNmse, gradsOf, randArray, dotWith, maxAbsDiff } from '../helpers.js';

const FWD = BOUNDS.f32, BWD = BOUNDS.fd;

test('rmsnorm forward and backward', () => {
  const rows = 3, cols = 5;
  const x = randArray(rows * cols, 1), w = randArray(cols, 2), R = randArray(rows * cols, 3);
  assertNmse(rmsnorm(Tensor.from(x, [rows, cols]), Tensor.from(w), 1e-6).f32(), rmsnormRef(x, w, rows, cols, 1e-6), FWD, 'rmsnorm');
  const [gx, gw] = gradsOf((a, b) => rmsnorm(a!, b!, 1e-6), [Tensor.from(x, [rows, cols]), Tensor.from(w)], R);
  assertNmse(gx!, fd((v) => dotWith(rmsnormRef(v, w, rows, cols, 1e-6), R), x), BWD, 'rmsnorm dx');
  assertNmse(gw!, fd((v) => dotWith(rmsnormRef(x, v, rows, cols, 1e-6), R), w), BWD, 'rmsnorm dw');
});

test('rmsnorm with bf16 weight follows the official cast order', () => {
  const rows = 2, cols = 8;
  const x = randArray(rows * cols, 4), w = randArray(cols, 5);
  const y = rmsnorm(Tensor.from(x, [rows, cols]), Tensor.from(w).astype('bf16'), 1e-6);
  assert.equal(y.dtype, 'bf16');
  const wr = w.map(roundBf16);
  const expect = rmsnormRef(x, new Float32Array(cols).fill(1), rows, cols, 1e-6).map((v, i) => roundBf16(roundBf16(v) * wr[i % cols]!));
  // both round twice (the normalised value, then the product); where the f32 and the float64 normalised
  // values straddle a rounding boundary the results differ by one bf16 step, 2^-7 = (2 x 2^-8) relative
  assertNmse(y.f32(), expect, bf16Bound(2), 'bf16 rmsnorm');
});

test('l2normRows forward and backward (NormHead)', () => {
  const rows = 4, cols = 9;
  const x = randArray(rows * cols, 6), R = randArray(rows * cols, 7);
  assertNmse(l2normRows(Tensor.from(x, [rows, cols])).f32(), l2normRowsRef(x, rows, cols), FWD, 'l2norm');
  const [g] = gradsOf((a) => l2normRows(a!), [Tensor.from(x, [rows, cols])], R);
  assertNmse(g!, fd((v) => dotWith(l2normRowsRef(v, rows, cols), R), x), BWD, 'l2norm dx');
});

test('silu and fused swiglu', () => {
  const n = 37;
  const g = randArray(n, 8, 3), u = randArray(n, 9), R = randArray(n, 10);
  assertNmse(silu(Tensor.from(g)).f32(), Array.from(g, siluRef), FWD, 'silu');
  assertNmse(swiglu(Tensor.from(g), Tensor.from(u)).f32(), Array.from(g, (v, i) => swigluRef(v, u[i]!)), FWD, 'swiglu');
  const [dg, du] = gradsOf((a, b) => swiglu(a!, b!), [Tensor.from(g), Tensor.from(u)], R);
  assertNmse(dg!, fd((v) => dotWith(Array.from(v, (x, i) => swigluRef(x, u[i]!)), R), g), BWD, 'swiglu dgate');
  assertNmse(du!, fd((v) => dotWith(Array.from(v, (x, i) => swigluRef(g[i]!, x)), R), u), BWD, 'swiglu dup');
  const [ds] = gradsOf((a) => silu(a!), [Tensor.from(g)], R);
  assertNmse(ds!, fd((v) => dotWith(Array.from(v, siluRef), R), g), BWD, 'silu dx');
});

test('softmax and log-softmax', () => {
  const rows = 3, cols = 11;
  const x = randArray(rows * cols, 11, 4), R = randArray(rows * cols, 12);
  assertNmse(softmax(Tensor.from(x, [rows, cols])).f32(), softmaxRef(x, rows, cols), FWD, 'softmax');
  assertNmse(logSoftmax(Tensor.from(x, [rows, cols])).f32(), softmaxRef(x, rows, cols, true), FWD, 'logSoftmax');
  const [g1] = gradsOf((a) => softmax(a!), [Tensor.from(x, [rows, cols])], R);
  assertNmse(g1!, fd((v) => dotWith(softmaxRef(v, rows, cols), R), x), BWD, 'softmax dx');
  const [g2] = gradsOf((a) => logSoftmax(a!), [Tensor.from(x, [rows, cols])], R);
  assertNmse(g2!, fd((v) => dotWith(softmaxRef(v, rows, cols, true), R), x), BWD, 'logSoftmax dx');
});

test('cross-entropy with ignore-index and max-z matches the reference', () => {
  const rows = 6, V = 13, zw = 2e-4;
  const x = randArray(rows * V, 13, 5);
  const t = Int32Array.from([3, -100, 0, 12, -100, 7]);
  const stats = {} as CrossEntropyStats;
  const loss = crossEntropy(Tensor.from(x, [rows, V]), Tensor.from(t, [rows], 'i32'), { zLossWeight: zw }, stats);
  // a log-sum-exp over V logits, then a mean over the rows
  assertNmse([loss.item()], [crossEntropyRef(x, t, rows, V, -100, zw)], f32Reduction(V + rows), 'loss');
  assert.equal(stats.tokens, 4);
  const xt = Tensor.from(x, [rows, V]).requiresGrad_();
  backward(crossEntropy(xt, Tensor.from(t, [rows], 'i32'), { zLossWeight: 0.5 }));
  assertNmse(xt.grad!.f32(), fd((v) => crossEntropyRef(v, t, rows, V, -100, 0.5), x), BWD, 'xent dlogits');
});

test('cross-entropy rejects out-of-range targets', () => {
  assert.throws(() => crossEntropy(Tensor.zeros([2, 4]), Tensor.from([1, 4], [2], 'i32')), /target 4 at row 1 is outside \[0, 4\)/);
  assert.throws(() => crossEntropy(Tensor.zeros([2, 4]), Tensor.from([1, 2, 3], [3], 'i32')), /targets \[3\] do not match logits \[2, 4\]/);
});

test('embedding forward, scatter-add backward with repeated ids, and range errors', () => {
  const V = 7, C = 5;
  const W = randArray(V * C, 15);
  const ids = Int32Array.from([3, 0, 3, 6]);
  const out = embedding(Tensor.from(ids, [2, 2], 'i32'), Tensor.from(W, [V, C]));
  assert.deepEqual(out.shape, [2, 2, C]);
  assert.deepEqual(Array.from(out.f32()), Array.from(embeddingRef(ids, W, C), Math.fround));
  const R = randArray(ids.length * C, 16);
  const [gw] = gradsOf((w) => embedding(Tensor.from(ids, [4], 'i32'), w!), [Tensor.from(W, [V, C])], R);
  assertNmse(gw!, fd((v) => dotWith(embeddingRef(ids, v, C), R), W), BWD, 'embedding dW');
  assert.throws(() => embedding(Tensor.from([7], [1], 'i32'), Tensor.from(W, [V, C])), /id 7 at position 0 is outside the vocabulary \[0, 7\)/);
});

test('broadcasting add/mul and reductions with gradients', () => {
  const a = Tensor.from(randArray(6, 17), [2, 3]).requiresGrad_();
  const b = Tensor.from(randArray(3, 18), [3]).requiresGrad_();
  const y = sum(mul(add(a, b), b));
  backward(y);
  const av = a.f32(), bv = b.f32();
  // d/da = b (broadcast), d/db = sum_rows(a + 2b)
  assertNmse(a.grad!.f32(), [0, 1].flatMap(() => Array.from(bv)), FWD, 'd add/mul / da');
  assertNmse(b.grad!.f32(), [0, 1, 2].map((j) => av[j]! + av[3 + j]! + 4 * bv[j]!), FWD, 'd add/mul / db');
  const x = Tensor.from([1, 5, 2, 7, 3, 0], [2, 3]).requiresGrad_();
  const m = max(x, 1);
  assert.deepEqual(m.values.toArray(), [5, 7]);
  assert.deepEqual(m.indices.toArray(), [1, 0]);
  backward(sum(m.values));
  assert.deepEqual(x.grad!.toArray(), [0, 1, 0, 1, 0, 0]);
  const mm = mean(Tensor.from([1, 2, 3, 4], [2, 2]), 0);
  assert.deepEqual(mm.toArray(), [2, 3]);
  assert.ok(maxAbsDiff(mean(Tensor.from([1, 2, 3, 4], [2, 2])).toArray(), [2.5]) === 0);
});
