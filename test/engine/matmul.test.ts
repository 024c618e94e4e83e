// GEMM / matmul against the float64 reference: odd sizes, blocking edges
// (K > KC = 256, N > NR; M beyond one A block: the harness), batches, transposed views, bf16,
// thread-count independence and the backward, through the op (the kernel
// builds one by one are held to the reference by test/engine/harness.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { narrow, permute, reshape, transpose } from '../../src/engine/ops/shape.js';
import { matmul, linear } from '../../src/engine/ops/matmul.js';
import { native } from '../../src/engine/native.js';
import { matmulRef } from '../../src/engine/ref/matmul.js';
import { roundBf16 } from '../../src/engine/dtype.js';
import { assertClose, gradsOf, numericGrad, randArray, dotWith } from '../helpers.js';

import { OP_BOUNDS } from './bounds.js';

const F32_RTOL = OP_BOUNDS.gemmF32;

test('matmul matches the float64 reference on awkward shapes', () => {
  for (const [M, N, K] of [[1, 1, 1], [7, 13, 37], [6, 16, 256], [121, 33, 257], [130, 70, 600], [1, 300, 64], [5, 1, 9]] as const) {
    const a = randArray(M * K, M * 1000 + K), b = randArray(K * N, N * 7 + 1);
    const out = matmul(Tensor.from(a, [M, K]), Tensor.from(b, [K, N]));
    assert.deepEqual(out.shape, [M, N]);
    assertClose(out.f32(), matmulRef(a, b, M, N, K), F32_RTOL, `matmul ${M}x${N}x${K}`);
  }
});

test('matmul with transposed views uses no copy and gives the same result', () => {
  const M = 19, N = 23, K = 41;
  const a = randArray(M * K, 1), b = randArray(K * N, 2);
  const ref = matmulRef(a, b, M, N, K);
  // store A^T and B^T, then view them transposed
  const at = new Float32Array(K * M), bt = new Float32Array(N * K);
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) at[k * M + i] = a[i * K + k]!;
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) bt[j * K + k] = b[k * N + j]!;
  const A = transpose(Tensor.from(at, [K, M]), 0, 1), B = transpose(Tensor.from(bt, [N, K]), 0, 1);
  assert.equal(A.isContiguous(), false);
  assertClose(matmul(A, B).f32(), ref, F32_RTOL, 'transposed operands');
  assertClose(linear(Tensor.from(a, [M, K]), Tensor.from(bt, [N, K])).f32(), ref, F32_RTOL, 'linear');
});

test('decode-sized linear (M <= 4, the unpacked GEMV path) with f32 and bf16 weights', () => {
  for (const M of [1, 2, 3, 4, 5]) {
    const K = 77, N = 45;
    const x = randArray(M * K, 50 + M), w = randArray(N * K, 60);
    const wt = new Float32Array(K * N);
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) wt[k * N + j] = w[j * K + k]!;
    assertClose(linear(Tensor.from(x, [M, K]), Tensor.from(w, [N, K])).f32(), matmulRef(x, wt, M, N, K), F32_RTOL, `gemv f32 M=${M}`);
    const wr = wt.map(roundBf16);
    assertClose(linear(Tensor.from(x, [M, K]), Tensor.from(w, [N, K]).astype('bf16')).f32(), matmulRef(x, wr, M, N, K), F32_RTOL, `gemv bf16 M=${M}`);
  }
});

test('batched matmul, shared 2-D right operand, and a non-contiguous batch', () => {
  const Bt = 3, M = 9, N = 11, K = 17;
  const a = randArray(Bt * M * K, 3), b = randArray(Bt * K * N, 4), w = randArray(K * N, 5);
  assertClose(matmul(Tensor.from(a, [Bt, M, K]), Tensor.from(b, [Bt, K, N])).f32(), matmulRef(a, b, M, N, K, Bt), F32_RTOL, 'batched');
  assertClose(matmul(Tensor.from(a, [Bt, M, K]), Tensor.from(w, [K, N])).f32(), matmulRef(a, w, M, N, K, Bt, true), F32_RTOL, 'shared b');
  // a [M, Bt, K] permuted to [Bt, M, K]: rows of a batch are not adjacent
  const perm = new Float32Array(Bt * M * K);
  for (let bb = 0; bb < Bt; bb++) for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) perm[(i * Bt + bb) * K + k] = a[(bb * M + i) * K + k]!;
  const view = permute(Tensor.from(perm, [M, Bt, K]), [1, 0, 2]);
  assertClose(matmul(view, Tensor.from(w, [K, N])).f32(), matmulRef(a, w, M, N, K, Bt, true), F32_RTOL, 'permuted batch');
  // views with a size-1 dim, whose stride means nothing: q of a decode step, [Bt, 1, M, K] cut from
  // [Bt, 1, 3, M, K] (regression: the batch was once folded into rows with that stride)
  const packed = randArray(Bt * 3 * M * K, 8);
  const slot = reshape(narrow(Tensor.from(packed, [Bt, 1, 3, M, K]), 2, 1, 1), [Bt, 1, M, K]);
  const dense = slot.f32();
  assertClose(matmul(slot, Tensor.from(w, [K, N])).f32(), matmulRef(dense, w, M, N, K, Bt, true), F32_RTOL, 'size-1 dim view, shared b');
  const bb = randArray(Bt * K * N, 9);
  assertClose(matmul(slot, Tensor.from(bb, [Bt, 1, K, N])).f32(), matmulRef(dense, bb, M, N, K, Bt), F32_RTOL, 'size-1 dim view, batched b');
});

test('bf16 operands: exact f32 math on bf16-rounded inputs', () => {
  const M = 33, N = 47, K = 129;
  const a = randArray(M * K, 6), b = randArray(K * N, 7);
  const ar = a.map(roundBf16), br = b.map(roundBf16);
  const out = matmul(Tensor.from(a, [M, K]).astype('bf16'), Tensor.from(b, [K, N]).astype('bf16'));
  assert.equal(out.dtype, 'bf16');
  // inputs are exact after rounding; only the bf16 rounding of the output remains (2^-8 relative)
  assertClose(out.f32(), matmulRef(ar, br, M, N, K), 2 ** -8, 'bf16 x bf16');
  const mixed = matmul(Tensor.from(a, [M, K]), Tensor.from(b, [K, N]).astype('bf16'));
  assert.equal(mixed.dtype, 'f32');
  assertClose(mixed.f32(), matmulRef(a, br, M, N, K), F32_RTOL, 'f32 x bf16');
});

test('results do not depend on the thread count or on repeated calls', () => {
  const M = 250, N = 200, K = 300;
  const A = Tensor.from(randArray(M * K, 8), [M, K]), B = Tensor.from(randArray(K * N, 9), [K, N]);
  const threads = native.info().threads;
  try {
    native.setThreads(1);
    const one = matmul(A, B).f32();
    native.setThreads(3);
    const three = matmul(A, B).f32();
    assert.deepEqual(one, three);
  } finally {
    native.setThreads(threads);
  }
});

// Every kernel build against the reference and the baseline: test/engine/harness.test.ts.

test('matmul backward matches finite differences of the reference', () => {
  const M = 4, N = 5, K = 6;
  const a = randArray(M * K, 12), b = randArray(K * N, 13), R = randArray(M * N, 14);
  const [ga, gb] = gradsOf((x, y) => matmul(x!, y!), [Tensor.from(a, [M, K]), Tensor.from(b, [K, N])], R);
  assertClose(ga!, numericGrad((x) => dotWith(matmulRef(x, b, M, N, K), R), a), OP_BOUNDS.backwardFd, 'dA');
  assertClose(gb!, numericGrad((x) => dotWith(matmulRef(a, x, M, N, K), R), b), OP_BOUNDS.backwardFd, 'dB');
  // batched a with shared weight (the Linear case) folds the batch in dW
  const Bt = 2;
  const a3 = randArray(Bt * M * K, 15), R3 = randArray(Bt * M * N, 16);
  const [, gw] = gradsOf((x, y) => matmul(x!, y!), [Tensor.from(a3, [Bt, M, K]), Tensor.from(b, [K, N])], R3);
  assertClose(gw!, numericGrad((x) => dotWith(matmulRef(a3, x, M, N, K, Bt, true), R3), b), OP_BOUNDS.backwardFd, 'dW shared');
});

test('matmul rejects mismatched shapes with a clear message', () => {
  assert.throws(() => matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5])), /matmul: inner dims differ: \[2, 3\] @ \[4, 5\]/);
  assert.throws(() => linear(Tensor.zeros([2, 3]), Tensor.zeros([5, 4])), /linear: input \[2, 3\] does not match weight \[5, 4\]/);
  assert.throws(() => matmul(Tensor.zeros([3]), Tensor.zeros([3, 1])), /at least 2 dims/);
  assert.throws(() => matmul(Tensor.zeros([2, 2], 'i32'), Tensor.zeros([2, 2])), /expected a float tensor/);
});
