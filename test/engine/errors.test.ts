// Bad input never crashes the process: the addon validates every array and
// size; and 10,000 op calls do not grow native memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/engine/native.js';
import { Tensor } from '../../src/engine/tensor.js';
import { permute, reshape } from '../../src/engine/ops/shape.js';
import { matmul } from '../../src/engine/ops/matmul.js';
import { rmsnorm } from '../../src/engine/ops/norm.js';
import { attention } from '../../src/engine/ops/attention.js';
import { crossEntropy } from '../../src/engine/ops/loss.js';
import { swiglu } from '../../src/engine/ops/elementwise.js';
import { backward } from '../../src/engine/autograd.js';

test('native kernels reject wrong types and short arrays with the kernel name', () => {
  const f = new Float32Array(4);
  assert.throws(() => native.gemm(false, false, 2, 2, 2, 1, f, 2, 0, f, 2, 0, 0, new Float32Array(3), 2, 0, 1), /gemm: C has 3 elements, needs 4/);
  assert.throws(() => native.gemm(false, false, 3, 2, 2, 1, f, 2, 0, f, 2, 0, 0, new Float32Array(6), 2, 0, 1), /gemm: A is too small \(M=3, N=2, K=2/);
  assert.throws(() => native.gemm(false, false, 2, 2, 2, 1, new Int32Array(4) as never, 2, 0, f, 2, 0, 0, f, 2, 0, 1), /A must be a Float32Array \(f32\) or Uint16Array \(bf16\)/);
  assert.throws(() => native.gemm(false, false, -1, 2, 2, 1, f, 2, 0, f, 2, 0, 0, f, 2, 0, 1), /gemm: M = -1 is out of range/);
  assert.throws(() => native.gemm(false, false, 2, 2, 2, 1, f, 1, 0, f, 2, 0, 0, f, 2, 0, 1), /leading dimension too small/);
  assert.throws(() => native.rmsnormFwd(f, f, f, new Float32Array(1), 2, 2, 1e-6), /rmsnorm: rstd has 1 elements, needs 2/);
  assert.throws(() => native.swigluFwd(f, f, f, 5), /swiglu: (gate|up|out) has 4 elements, needs 5/);
  assert.throws(() => native.xentFwd(f, new Int32Array([9]), 1, 4, -100, f, f, f, new Int32Array(1)), /target 9 at row 0 is outside \[0, 4\)/);
  assert.throws(() => native.setThreads(0), /threads must be in 1..1024/);
  assert.throws(() => native.setArch('avx1024'), /unknown kernel build 'avx1024'/);
  assert.throws(() => native.attnFwd({ B: 1, H: 1, Tq: 2, Tk: 1, D: 4, q: [8, 8, 4], k: [4, 4, 4], v: [4, 4, 4], o: [8, 8, 4], past: 0, causal: true, scale: 1 }, null, null, new Float32Array(8), f, f, new Float32Array(8), new Float32Array(2)), /past \+ Tq <= Tk/);
  assert.throws(() => native.attnFwd({ B: 1, H: 1, Tq: 1, Tk: 1, D: 4, q: [4, 4, -4], k: [4, 4, 4], v: [4, 4, 4], o: [4, 4, 4], past: 0, causal: true, scale: 1 }, null, null, f, f, f, f, new Float32Array(1)), /option q must hold non-negative integers/);
  // strided copies: every view checked against its array, one element size, non-negative integers
  assert.throws(() => native.copyStrided(f, 1, [2, 2], [2, 1], f, 0, [2, 1]), /copyStrided: the src view reaches element 4 of 4/);
  assert.throws(() => native.copyStrided(f, 0, [2, 2], [1, 2], new Float32Array(3), 0, [2, 1]), /copyStrided: the dst view reaches element 3 of 3/);
  assert.throws(() => native.copyStrided(f, 0, [4], [1], new Uint16Array(4), 0, [1]), /src and dst have different element sizes/);
  assert.throws(() => native.copyStrided(f, 0, [4], [-1], f.slice(), 0, [1]), /srcStrides\[0\] must be a non-negative integer/);
  assert.throws(() => native.copyStrided(f, 0, [4, 1], [1], f.slice(), 0, [1, 1]), /one length/);
  assert.throws(() => native.copyStrided(new Float64Array(4) as never, 0, [4], [1], f, 0, [1]), /src must be a Float32Array, Int32Array or Uint16Array/);
});

test('op-level errors name the op and the shapes', () => {
  assert.throws(() => rmsnorm(Tensor.zeros([2, 3]), Tensor.zeros([4]), 1e-6), /rmsnorm: weight \[4\] does not match input \[2, 3\]/);
  assert.throws(() => swiglu(Tensor.zeros([2]), Tensor.zeros([3])), /swiglu: gate \[2\] and up \[3\] differ/);
  assert.throws(() => crossEntropy(Tensor.zeros([2, 3]), Tensor.zeros([2], 'f32')), /targets must be i32/);
});

test('10,000 op calls do not leak memory', () => {
  const x = Tensor.randn([8, 64], { seed: 1 }).requiresGrad_();
  const w = Tensor.randn([64, 64], { seed: 2 }).requiresGrad_();
  const g = Tensor.ones([64]).requiresGrad_();
  const t = Tensor.from(new Int32Array(8).fill(3), [8], 'i32');
  const step = () => {
    const h = rmsnorm(matmul(x, w), g, 1e-6);
    const a = attention(permute(reshape(h, [1, 8, 2, 32]), [0, 2, 1, 3]), permute(reshape(h, [1, 8, 2, 32]), [0, 2, 1, 3]), permute(reshape(h, [1, 8, 2, 32]), [0, 2, 1, 3]));
    backward(crossEntropy(reshape(permute(a, [0, 2, 1, 3]), [8, 64]), t));
  };
  for (let i = 0; i < 300; i++) step();  // warm up allocators and JIT
  global.gc?.();
  const before = process.memoryUsage();
  for (let i = 0; i < 2000; i++) step();  // 2,000 steps x 5+ ops forward and backward > 10,000 kernel calls
  global.gc?.();
  const after = process.memoryUsage();
  const growth = after.rss - before.rss;
  // Native memory would show up in RSS; each step allocates ~100 KB of JS buffers,
  // so a leak of even one buffer per call would add > 200 MB.
  assert.ok(growth < 64 * 2 ** 20, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
});

test('bounds arithmetic cannot overflow: huge sizes and strides are refused, not wrapped (issue 18)', () => {
  const f = new Float32Array(4);
  // (B - 1) * sb wrapped around int64 and passed the check, then the kernel read far out of bounds (a segfault)
  assert.throws(() => native.rope(f, new Float32Array(2052), 1026, 1, 1, 2, 9e15, 0, 0, new Float32Array(2052), new Float32Array(2052), false), /rope: x has 4 elements, needs more than 2\^63/);
  assert.throws(() => native.gemm(false, false, 2, 2, 2, 1, f, 2, 9e15, f, 2, 0, 0, f, 2, 0, 1026), /gemm: A is too small/);
  assert.throws(() => native.gemm(false, false, 2, 2, 2, 1, f, 2, 0, f, 2, 0, 0, f, 9e15, 0, 1), /gemm: C has 4 elements, needs more than 2\^63|gemm: C has 4 elements/);
  assert.throws(() => native.rmsnormFwd(f, f, f, f, 9e15, 2147483647, 1e-6), /rmsnorm: \w+ has 4 elements, needs (more than 2\^63|9000000000000000)/);
  assert.throws(() => native.attnFwd({ B: 2, H: 1, Tq: 1, Tk: 1, D: 4, q: [9e15, 4, 4], k: [4, 4, 4], v: [4, 4, 4], o: [4, 4, 4], past: 0, causal: false, scale: 1 }, null, null, f, f, f, f, f), /attention: q has 4 elements, needs 9000000000000004/);
  assert.throws(() => native.attnFwd({ B: 1, H: 1, Tq: 1, Tk: 1, D: 4, q: [1e300, 4, 4], k: [4, 4, 4], v: [4, 4, 4], o: [4, 4, 4], past: 0, causal: false, scale: 1 }, null, null, f, f, f, f, f), /option q must hold non-negative integers/);
  assert.throws(() => native.qmatmul(f, 2147483647, 32, new Uint8Array(32), new Uint16Array(1), 2147483647, 32, 8, f), /qmatmul: x has 4 elements/);
});

test('the raw addon is not part of the public API (issue 18)', async () => {
  const api = await import('../../src/index.js') as Record<string, unknown>;
  assert.equal(api['native'], undefined);
  assert.equal(typeof api['setKernels'], 'function');
  assert.equal(typeof api['kernelInfo'], 'function');
});
