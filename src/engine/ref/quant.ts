// Float64 reference of the quantisation rules and the quantised product
// (the specification the native kernels are tested against). Scales are
// rounded to f16 exactly as stored.

function f16Round(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  if (a < 2 ** -14) return Math.sign(x) * roundHalfEven(a * 2 ** 24) / 2 ** 24;  // subnormal step 2^-24
  const e = Math.floor(Math.log2(a));
  const step = 2 ** (e - 10);
  return Math.sign(x) * Math.min(roundHalfEven(a / step) * step, 65504);
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v), d = v - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/** Quantise w [N, K] (row-major) to integer codes and scales: codes[n*K + k], scales[n*(K/G) + g]. */
export function refQuantize(w: ArrayLike<number>, N: number, K: number, G: number, bits: 4 | 8): { codes: Int8Array; scales: Float64Array } {
  const codes = new Int8Array(N * K);
  const scales = new Float64Array((N * K) / G);
  for (let n = 0; n < N; n++)
    for (let g = 0; g < K / G; g++) {
      let amax = 0, signedMax = 0;
      for (let i = 0; i < G; i++) { const v = Math.fround(w[n * K + g * G + i]!); if (Math.abs(v) > amax) { amax = Math.abs(v); signedMax = v; } }
      const s = f16Round(bits === 8 ? Math.fround(amax / 127) : Math.fround(signedMax / -8));
      scales[n * (K / G) + g] = s;
      const inv = s !== 0 ? Math.fround(1 / s) : 0;
      for (let i = 0; i < G; i++) {
        const r = roundHalfEven(Math.fround(Math.fround(w[n * K + g * G + i]!) * inv));
        codes[n * K + g * G + i] = bits === 8 ? Math.max(-127, Math.min(127, r)) : Math.max(-8, Math.min(7, r));
      }
    }
  return { codes, scales };
}

/** y [M, N] = x [M, K] W^T with activations quantised per 32-block to int8 and exact integer block dots. */
export function refQMatmul(x: ArrayLike<number>, M: number, K: number, codes: Int8Array, scales: Float64Array, N: number, G: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    const xq = new Int8Array(K), xs = new Float64Array(K / 32);
    for (let b = 0; b < K / 32; b++) {
      let amax = 0;
      for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(Math.fround(x[m * K + b * 32 + i]!)));
      const s = Math.fround(amax / 127), inv = s !== 0 ? Math.fround(1 / s) : 0;
      xs[b] = s;
      for (let i = 0; i < 32; i++) xq[b * 32 + i] = roundHalfEven(Math.fround(Math.fround(x[m * K + b * 32 + i]!) * inv));
    }
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let b = 0; b < K / 32; b++) {
        let dot = 0;
        for (let i = 0; i < 32; i++) dot += xq[b * 32 + i]! * codes[n * K + b * 32 + i]!;
        acc += dot * xs[b]! * scales[n * (K / G) + Math.floor((b * 32) / G)]!;
      }
      y[m * N + n] = acc;
    }
  }
  return y;
}
