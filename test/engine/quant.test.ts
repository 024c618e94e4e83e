// Quantisation at the op layer (QuantizedWeight, qlinear): the packed layout
// holds the reference's codes and scales exactly, the per-element error of
// the scheme is within its analytic bound, qlinear on the active build equals
// the reference product, and the whole scheme's error against the f32
// product is within BOUNDS.q8 / BOUNDS.q4. The kernels on every build are
// rows of the kernel table (bench/kernels/quant.ts).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { QuantizedWeight, qlinear } from '../../src/engine/quant.js';
import { refQMatmul, refQuantize } from '../../src/engine/ref/quant.js';
import { native } from '../../src/engine/native.js';
import { BOUNDS, nmse } from '../../bench/kernels/index.js';
import { randArray, assertNmse } from '../helpers.js';

function codesOf(w: QuantizedWeight): Int8Array {
  const out = new Int8Array(w.N * w.K);
  for (let n = 0; n < w.N; n++)
    for (let k = 0; k < w.K; k++) {
      if (w.bits === 8) { out[n * w.K + k] = (w.q[n * w.K + k]! << 24) >> 24; continue; }
      const byte = w.q[n * (w.K / 2) + Math.floor(k / 32) * 16 + (k % 16)]!;
      out[n * w.K + k] = ((k % 32) < 16 ? byte & 15 : byte >> 4) - 8;
    }
  return out;
}

const f16 = (h: number) => { const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023; return s * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15)); };

for (const bits of [8, 4] as const)
  for (const G of [32, 64, 128]) {
    test(`quantize ${bits}-bit, group ${G}: codes and scales equal the reference; per-group error bound`, () => {
      const N = 7, K = 256;
      const w = randArray(N * K, 11 + G + bits, 0.05);
      w[3] = 0.9; w[K + 5] = -1.3;  // outliers own their groups
      for (let i = 0; i < G; i++) w[2 * K + i] = 0;  // an all-zero group
      const qw = QuantizedWeight.quantize(Tensor.from(w, [N, K]), bits, G);
      const ref = refQuantize(w, N, K, G, bits);
      assert.deepEqual(codesOf(qw), ref.codes);
      assert.deepEqual(Array.from(qw.scales, f16), Array.from(ref.scales));
      const dq = qw.dequantize().f32();
      for (let n = 0; n < N; n++)
        for (let g = 0; g < K / G; g++) {
          const s = Math.abs(f16(qw.scales[n * (K / G) + g]!));
          // round-to-nearest: half a step, plus the f16 rounding of the scale times the largest code.
          // 4-bit (Q4_0 rule): the signed maximum maps to -8, so a value of the other sign near the
          // maximum needs +8 and is clamped to +7: up to one whole step there.
          const bound = (bits === 8 ? s / 2 : s) + (bits === 8 ? 127 : 8) * s * 2 ** -11 + 1e-12;
          for (let i = 0; i < G; i++) {
            const k = n * K + g * G + i;
            assert.ok(Math.abs(dq[k]! - w[k]!) <= bound, `w[${n},${g * G + i}]: |${dq[k]} - ${w[k]}| > ${bound}`);
          }
        }
      assert.equal(dq.slice(2 * K, 2 * K + G).every((v) => v === 0), true);
    });
  }

// qlinear on the active build, GEMV (M = 3) and prefill (M = 13), with the kernel table's bounds.
for (const bits of [8, 4] as const)
  test(`qlinear ${bits}-bit on the active build: M = 3 and M = 13 against the reference`, () => {
    const N = 37, K = 384, G = 64;
    const w = randArray(N * K, 5, 0.05);
    const qw = QuantizedWeight.quantize(Tensor.from(w, [N, K]), bits, G);
    const ref = refQuantize(w, N, K, G, bits);
    for (const M of [3, 13]) {
      const x = randArray(M * K, 100 + M, 1);
      const y = qlinear(Tensor.from(x, [M, K]), qw).f32();
      if (M <= 8 || native.info().caps.int8Gemm) {
        assertNmse(y, refQMatmul(x, M, K, ref.codes, ref.scales, N, G), BOUNDS.qdot, `M=${M}`);
      } else {  // prefill without int8: f32 activations times dequantised weights
        const dq = qw.dequantize().f32();
        const yr = new Float64Array(M * N);
        for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) { let s = 0; for (let k = 0; k < K; k++) s += x[m * K + k]! * dq[n * K + k]!; yr[m * N + n] = s; }
        assertNmse(y, yr, BOUNDS.f32, `M=${M}`);
      }
    }
  });

test('quantised product against the f32 product: within BOUNDS.q8 for 8-bit, BOUNDS.q4 for 4-bit weights', () => {
  const N = 64, K = 1024, M = 2;
  const w = randArray(N * K, 9, 0.02), x = randArray(M * K, 10, 1);
  const exact = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) { let s = 0; for (let k = 0; k < K; k++) s += x[m * K + k]! * w[n * K + k]!; exact[m * N + n] = s; }
  const y = (bits: 4 | 8) => qlinear(Tensor.from(x, [M, K]), QuantizedWeight.quantize(Tensor.from(w, [N, K]), bits, 32)).f32();
  // Gaussian data: int8 steps are ~1/127 of the block max (~2.1 sigma), 4-bit steps ~1/8 (bench/kernels/bounds.ts)
  const y8 = y(8), y4 = y(4);
  assertNmse(y8, exact, BOUNDS.q8, '8-bit weights, int8 activations');
  assertNmse(y4, exact, BOUNDS.q4, '4-bit weights, int8 activations');
  // and the 4-bit error is the larger, by about the squared step ratio (127 / 8)^2 / 2
  assert.ok(nmse(y4, exact) > 10 * nmse(y8, exact));
});

test('quantisation rejects bad shapes and settings with clear errors', () => {
  assert.throws(() => QuantizedWeight.quantize(Tensor.from(randArray(10 * 48, 1), [10, 48]), 8, 32), /groups of 32/);
  assert.throws(() => QuantizedWeight.quantize(Tensor.from(randArray(64, 1), [2, 32]), 3 as 8, 32), /bits must be 4 or 8/);
  assert.throws(() => QuantizedWeight.quantize(Tensor.from(randArray(64, 1), [2, 32]), 8, 16), /group size/);
  const qw = QuantizedWeight.quantize(Tensor.from(randArray(64, 1), [2, 32]), 8, 32);
  assert.throws(() => qlinear(Tensor.from(randArray(16, 1), [1, 16]), qw), /does not match/);
  assert.throws(() => native.qmatmul(new Float32Array(32), 1, 32, new Uint8Array(10), qw.scales, 2, 32, 8, new Float32Array(2)), /q has 10 elements/);
});
