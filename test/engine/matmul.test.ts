// matmul / linear at the op layer: how views, batches, size-1 dims and dtypes
// reach the GEMM kernel (transpose flags and leading dimensions, no copies),
// the result dtype rules, autograd through both ops, and shape errors. The
// kernel itself - every layout, blocking edge, bf16 and the backward GEMMs -
// is held to the reference on every build by the kernel table
// (bench/kernels/gemm.ts, test/engine/harness.test.ts), as is its
// thread-count independence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { narrow, permute, reshape, transpose } from '../../src/engine/ops/shape.js';
import { matmul, linear } from '../../src/engine/ops/matmul.js';
import { matmulRef } from '../../src/engine/ref/matmul.js';
import { roundBf16 } from '../../src/engine/dtype.js';
import { BOUNDS, bf16Bound, fd } from '../../bench/kernels/index.js';
import { assertNmse, gradsOf, randArray, dotWith } from '../helpers.js';

const F32 = BOUNDS.f32;

test('matmul with a size-1 dim on either side (row / column operands take their own leading-dimension rule)', () => {
  for (const [M, N, K] of [[1, 1, 1], [5, 1, 9], [1, 300, 64], [7, 13, 1]] as const) {
    const a = randArray(M * K, M * 1000 + K), b = randArray(K * N, N * 7 + 1);
    const out = matmul(Tensor.from(a, [M, K]), Tensor.from(b, [K, N]));
    assert.deepEqual(out.shape, [M, N]);
    assertNmse(out.f32(), matmulRef(a, b, M, N, K), F32, `matmul ${M}x${N}x${K}`);
    // and transposed views of them
    const at = transpose(Tensor.from(a, [M, K]), 0, 1), bt = transpose(Tensor.from(b, [K, N]), 0, 1);
    assertNmse(matmul(bt, at).f32(), transposeOf(matmulRef(a, b, M, N, K), M, N), F32, `B^T A^T ${M}x${N}x${K}`);
  }
});

function transposeOf(x: ArrayLike<number>, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j]!;
  return out;
}

test('matmul with transposed views uses no copy and gives the same result; linear', () => {
  const M = 19, N = 23, K = 41;
  const a = randArray(M * K, 1), b = randArray(K * N, 2);
  const ref = matmulRef(a, b, M, N, K);
  // store A^T and B^T, then view them transposed
  const at = transposeOf(a, M, K), bt = transposeOf(b, K, N);
  const A = transpose(Tensor.from(Float32Array.from(at), [K, M]), 0, 1), B = transpose(Tensor.from(Float32Array.from(bt), [N, K]), 0, 1);
  assert.equal(A.isContiguous(), false);
  assertNmse(matmul(A, B).f32(), ref, F32, 'transposed operands');
  assertNmse(linear(Tensor.from(a, [M, K]), Tensor.from(Float32Array.from(bt), [N, K])).f32(), ref, F32, 'linear');
});

test('batched matmul, shared 2-D right operand, and a non-contiguous batch', () => {
  const Bt = 3, M = 9, N = 11, K = 17;
  const a = randArray(Bt * M * K, 3), b = randArray(Bt * K * N, 4), w = randArray(K * N, 5);
  assertNmse(matmul(Tensor.from(a, [Bt, M, K]), Tensor.from(b, [Bt, K, N])).f32(), matmulRef(a, b, M, N, K, Bt), F32, 'batched');
  assertNmse(matmul(Tensor.from(a, [Bt, M, K]), Tensor.from(w, [K, N])).f32(), matmulRef(a, w, M, N, K, Bt, true), F32, 'shared b');
  // a [M, Bt, K] permuted to [Bt, M, K]: rows of a batch are not adjacent
  const perm = new Float32Array(Bt * M * K);
  for (let bb = 0; bb < Bt; bb++) for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) perm[(i * Bt + bb) * K + k] = a[(bb * M + i) * K + k]!;
  const view = permute(Tensor.from(perm, [M, Bt, K]), [1, 0, 2]);
  assertNmse(matmul(view, Tensor.from(w, [K, N])).f32(), matmulRef(a, w, M, N, K, Bt, true), F32, 'permuted batch');
  // views with a size-1 dim, whose stride means nothing: q of a decode step, [Bt, 1, M, K] cut from
  // [Bt, 1, 3, M, K] (regression: the batch was once folded into rows with that stride)
  const packed = randArray(Bt * 3 * M * K, 8);
  const slot = reshape(narrow(Tensor.from(packed, [Bt, 1, 3, M, K]), 2, 1, 1), [Bt, 1, M, K]);
  const dense = slot.f32();
  assertNmse(matmul(slot, Tensor.from(w, [K, N])).f32(), matmulRef(dense, w, M, N, K, Bt, true), F32, 'size-1 dim view, shared b');
  const bb = randArray(Bt * K * N, 9);
  assertNmse(matmul(slot, Tensor.from(bb, [Bt, 1, K, N])).f32(), matmulRef(dense, bb, M, N, K, Bt), F32, 'size-1 dim view, batched b');
});

test('dtype rules: bf16 x bf16 gives bf16 (one rounding of the exact product), f32 x bf16 and linear with bf16 weights give f32', () => {
  const M = 33, N = 47, K = 129;
  const a = randArray(M * K, 6), b = randArray(K * N, 7);
  const ar = a.map(roundBf16), br = b.map(roundBf16);
  const out = matmul(Tensor.from(a, [M, K]).astype('bf16'), Tensor.from(b, [K, N]).astype('bf16'));
  assert.equal(out.dtype, 'bf16');
  // inputs are exact after rounding; the product is f32-exact (BOUNDS.f32), then rounded once to bf16
  assertNmse(out.f32(), matmulRef(ar, br, M, N, K), bf16Bound(1), 'bf16 x bf16');
  const mixed = matmul(Tensor.from(a, [M, K]), Tensor.from(b, [K, N]).astype('bf16'));
  assert.equal(mixed.dtype, 'f32');
  assertNmse(mixed.f32(), matmulRef(a, br, M, N, K), F32, 'f32 x bf16');
  const w = Tensor.from(Float32Array.from(transposeOf(b, K, N)), [N, K]).astype('bf16');
  for (const m of [1, 4, 5]) {
    const y = linear(Tensor.from(a.subarray(0, m * K), [m, K]), w);
    assert.equal(y.dtype, 'f32');
    assertNmse(y.f32(), matmulRef(a.subarray(0, m * K), br, m, N, K), F32, `linear, bf16 weight, M=${m}`);
  }
});

test('matmul and linear backward through autograd match finite differences of the reference', () => {
  const M = 4, N = 5, K = 6;
  const a = randArray(M * K, 12), b = randArray(K * N, 13), R = randArray(M * N, 14);
  const [ga, gb] = gradsOf((x, y) => matmul(x!, y!), [Tensor.from(a, [M, K]), Tensor.from(b, [K, N])], R);
  assertNmse(ga!, fd((x) => dotWith(matmulRef(x, b, M, N, K), R), a), BOUNDS.fd, 'dA');
  assertNmse(gb!, fd((x) => dotWith(matmulRef(a, x, M, N, K), R), b), BOUNDS.fd, 'dB');
  // batched a with shared weight (the Linear case) folds the batch in dW
  const Bt = 2;
  const a3 = randArray(Bt * M * K, 15), R3 = randArray(Bt * M * N, 16);
  const [, gw] = gradsOf((x, y) => matmul(x!, y!), [Tensor.from(a3, [Bt, M, K]), Tensor.from(b, [K, N])], R3);
  assertNmse(gw!, fd((x) => dotWith(matmulRef(a3, x, M, N, K, Bt, true), R3), b), BOUNDS.fd, 'dW shared');
  // linear: weight [N, K], dW computed directly in that layout
  const wt = transposeOf(b, K, N);
  const [gx, gwl] = gradsOf((x, y) => linear(x!, y!), [Tensor.from(a3, [Bt, M, K]), Tensor.from(Float32Array.from(wt), [N, K])], R3);
  const lin = (x: ArrayLike<number>, w: ArrayLike<number>) => dotWith(matmulRef(x, transposeOf(w, N, K), M, N, K, Bt, true), R3);
  assertNmse(gx!, fd((x) => lin(x, wt), a3), BOUNDS.fd, 'linear dx');
  assertNmse(gwl!, fd((w) => lin(a3, w), wt), BOUNDS.fd, 'linear dW');
});

test('matmul rejects mismatched shapes with a clear message', () => {
  assert.throws(() => matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5])), /matmul: inner dims differ: \[2, 3\] @ \[4, 5\]/);
  assert.throws(() => linear(Tensor.zeros([2, 3]), Tensor.zeros([5, 4])), /linear: input \[2, 3\] does not match weight \[5, 4\]/);
  assert.throws(() => matmul(Tensor.zeros([3]), Tensor.zeros([3, 1])), /at least 2 dims/);
  assert.throws(() => matmul(Tensor.zeros([2, 2], 'i32'), Tensor.zeros([2, 2])), /expected a float tensor/);
});
