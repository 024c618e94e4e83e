// Row-wise rows: RMSNorm, L2 row norm (NormHead), softmax and log-softmax,
// forward against the float64 references (src/engine/ref/norm.ts,
// softmax.ts) and backward against finite differences of them. Row lengths
// are odd (vector tails), long (4,096: the 7B hidden size) and 1.
import { native } from '../../src/engine/native.js';
import { rmsnormRef, l2normRowsRef, softmaxRef } from '../../src/engine/ref/index.js';
import { BOUNDS } from './bounds.js';
import { type KernelCase, type Scale, randn, dot, fd, memo } from './case.js';

function rmsnormForward(rows: number, cols: number, testOnly = false): KernelCase {
  return {
    testOnly,
    name: `rmsnorm forward ${rows}x${cols}`, kernels: ['rmsnormFwd'], kind: 'forward', bound: BOUNDS.f32, baselineBound: BOUNDS.f32,
    make(scale) {
      const r = scale === 'perf' ? 512 : rows, c = scale === 'perf' ? 4096 : cols, eps = 1e-6;
      const x = randn(r * c, 1 + cols), w = randn(c, 2), y = new Float32Array(r * c), rs = new Float32Array(r);
      return { run() { native.rmsnormFwd(x, w, y, rs, r, c, eps); return [y]; }, ref: memo(() => [rmsnormRef(x, w, r, c, eps)]), bytes: 8 * r * c };
    },
  };
}

function rmsnormBackward(rows: number, cols: number, testOnly = false): KernelCase {
  return {
    testOnly,
    name: `rmsnorm backward ${rows}x${cols} (finite differences)`, kernels: ['rmsnormBwd'], kind: 'backward', bound: BOUNDS.fd, baselineBound: BOUNDS.f32,
    make(scale) {
      const r = scale === 'perf' ? 512 : rows, c = scale === 'perf' ? 4096 : cols, eps = 1e-6;
      const x = randn(r * c, 1), w = randn(c, 2), R = randn(r * c, 3);
      const y = new Float32Array(r * c), rs = new Float32Array(r), dx = new Float32Array(r * c), dw = new Float32Array(c);
      native.rmsnormFwd(x, w, y, rs, r, c, eps);
      return {
        run() { dw.fill(0); native.rmsnormBwd(x, w, rs, R, dx, dw, r, c); return [dx, dw]; },
        ref: memo(() => [fd((v) => dot(rmsnormRef(v, w, r, c, eps), R), x), fd((v) => dot(rmsnormRef(x, v, r, c, eps), R), w)]),
        bytes: 16 * r * c,
      };
    },
  };
}

function l2normCase(rows: number, cols: number, testOnly = false): KernelCase {
  return {
    testOnly,
    name: `l2norm rows forward + backward ${rows}x${cols}`, kernels: ['l2normFwd', 'l2normBwd'], kind: 'backward', bound: BOUNDS.fd, baselineBound: BOUNDS.f32,
    make(scale) {
      const r = scale === 'perf' ? 4096 : rows, c = scale === 'perf' ? 4096 : cols, eps = 1e-12;
      const x = randn(r * c, 4), R = randn(r * c, 5);
      const y = new Float32Array(r * c), n = new Float32Array(r), dx = new Float32Array(r * c);
      return {
        run() { native.l2normFwd(x, y, n, r, c, eps); native.l2normBwd(y, n, R, dx, r, c, eps); return [y, dx]; },
        ref: memo(() => [l2normRowsRef(x, r, c, eps), fd((v) => dot(l2normRowsRef(v, r, c, eps), R), x)]),
        bytes: 20 * r * c,
      };
    },
  };
}

function softmaxCase(log: boolean, rows: number, cols: number, testOnly = false): KernelCase {
  return {
    testOnly,
    name: `${log ? 'log-' : ''}softmax forward + backward ${rows}x${cols}`, kernels: ['softmaxFwd', 'softmaxBwd'], kind: 'backward', bound: BOUNDS.fd, baselineBound: BOUNDS.f32,
    make(scale: Scale) {
      const r = scale === 'perf' ? 512 : rows, c = scale === 'perf' ? 4096 : cols;
      const x = randn(r * c, 12, 2), R = randn(r * c, 13);
      const y = new Float32Array(r * c), dx = new Float32Array(r * c);
      return {
        run() { native.softmaxFwd(x, y, r, c, log); native.softmaxBwd(y, R, dx, r, c, log); return [y, dx]; },
        ref: memo(() => [softmaxRef(x, r, c, log), fd((v) => dot(softmaxRef(v, r, c, log), R), x)]),
        bytes: 16 * r * c,
      };
    },
  };
}

export const NORM_CASES: KernelCase[] = [
  rmsnormForward(5, 67), rmsnormForward(2, 4096, true), rmsnormForward(1, 1, true),
  rmsnormBackward(5, 67), rmsnormBackward(2, 131, true),
  l2normCase(4, 37), l2normCase(2, 130, true),
  softmaxCase(false, 3, 29), softmaxCase(true, 3, 29), softmaxCase(false, 2, 67, true),
];
