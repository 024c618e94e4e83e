// Optimiser rows: the fused AdamW step (decoupled weight decay, bias
// correction, the bf16 working copy) over three steps against the float64
// reference (src/engine/ref/optim.ts), and the sum of squares behind
// global-norm clipping (float64 accumulation in the kernel).
import { native } from '../../src/engine/native.js';
import { adamwRef } from '../../src/engine/ref/index.js';
import { BOUNDS, bf16Bound } from './bounds.js';
import { type KernelCase, randn, memo } from './case.js';

export const OPTIM_CASES: KernelCase[] = [
  {
    name: 'adamw 3 steps with bf16 copy, n=1003', kernels: ['adamw'], kind: 'forward', bound: BOUNDS.f32, baselineBound: BOUNDS.f32,
    // the bf16 working copy is the f32 parameter rounded once to bf16
    outputBounds: [undefined, undefined, undefined, bf16Bound(1)],
    make(scale) {
      const n = scale === 'perf' ? 1 << 22 : 1003;
      const p0 = randn(n, 20), grads = [randn(n, 21), randn(n, 22), randn(n, 23)];
      const p = new Float32Array(n), m = new Float32Array(n), v = new Float32Array(n), pb = new Uint16Array(n), pbf = new Float32Array(n);
      const hp = { lr: 1e-2, b1: 0.9, b2: 0.95, eps: 1e-8, wd: 0.1 };
      return {
        run() {
          p.set(p0); m.fill(0); v.fill(0);
          for (let s = 1; s <= (scale === 'perf' ? 1 : 3); s++)
            native.adamw(p, grads[s - 1]!, m, v, n, hp.lr, hp.b1, hp.b2, hp.eps, hp.wd, 1 - hp.b1 ** s, 1 - hp.b2 ** s, pb);
          native.bf16ToF32(pb, pbf, n);
          return [p, m, v, pbf];
        },
        ref: memo(() => {
          const st = { p: Float64Array.from(p0), m: new Float64Array(n), v: new Float64Array(n) };
          for (let s = 1; s <= 3; s++) adamwRef(st, grads[s - 1]!, s, hp.lr, hp.b1, hp.b2, hp.eps, hp.wd);
          return [st.p, st.m, st.v, st.p];
        }),
        bytes: 18 * n,
      };
    },
  },
  {
    // float64 partial sums in fixed chunks; the double result is stored here as f32
    name: 'sumsq n=100003', kernels: ['sumsq'], kind: 'forward', bound: BOUNDS.f64, baselineBound: BOUNDS.exact,
    make(scale) {
      const n = scale === 'perf' ? 1 << 24 : 100003;
      const x = randn(n, 24);
      return {
        run() { return [Float32Array.of(native.sumsq(x, n))]; },
        ref: memo(() => { let s = 0; for (let i = 0; i < n; i++) s += x[i]! * x[i]!; return [[s]]; }),
        bytes: 4 * n,
      };
    },
  },
];
