// Element-wise arithmetic rows: binary and affine must give exactly the bits
// of the TypeScript kernels (src/engine/cpu-kernels.ts), which the backend
// still runs below its native threshold: the reference is each operation in
// float64 rounded once to f32. Special values (NaN either side, infinities,
// signed zeros, subnormals) are planted; the perf size is a model activation
// ([B*T, C] = 1024 x 512).
import { native } from '../../src/engine/native.js';
import { BOUNDS } from './bounds.js';
import { type KernelCase, randn, memo } from './case.js';

const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'maximum'] as const;
function binaryRef(op: typeof BINARY_OPS[number], x: number, y: number): number {
  switch (op) {
    case 'add': return Math.fround(x + y);
    case 'sub': return Math.fround(x - y);
    case 'mul': return Math.fround(x * y);
    case 'div': return Math.fround(x / y);
    case 'maximum': return x >= y || Number.isNaN(x) ? x : y;
  }
}
function specials(x: Float32Array, y: Float32Array): void {
  const sx = [NaN, 1, Infinity, -0, 0, 1e-40, -3e38, 2.5, NaN, -Infinity];
  const sy = [1, NaN, Infinity, 0, -0, 1e-40, -3e38, 0, NaN, Infinity];
  sx.forEach((v, i) => { x[i] = v; y[i] = sy[i]!; });
}
/** f32 values as their bits, in two 16-bit halves (exact in f32), every NaN as one value (payloads are not compared). */
function bitHalves(x: ArrayLike<number>): Float32Array[] {
  const f = Float32Array.from(x), u = new Uint32Array(f.buffer);
  for (let i = 0; i < f.length; i++) if (Number.isNaN(f[i]!)) u[i] = 0x7fc00000;
  return [Float32Array.from(u, (w) => w >>> 16), Float32Array.from(u, (w) => w & 0xffff)];
}
export const ARITH_CASES: KernelCase[] = [
  ...BINARY_OPS.map((op, code): KernelCase => ({
    name: `binary ${op} n=100003 (bits of the TypeScript kernel)`, kernels: ['binary'], kind: 'exact', bound: BOUNDS.exact, baselineBound: BOUNDS.exact,
    make(scale) {
      const n = scale === 'perf' ? 1 << 19 : 100003;
      const a = randn(n, 40 + code, 3), b = randn(n, 50 + code, 3);
      specials(a, b);
      const out = new Float32Array(n);
      return {
        run() { native.binary(code, a, b, out, n); return scale === 'perf' ? [out] : bitHalves(out); },
        ref: memo(() => bitHalves(Float64Array.from(a, (v, i) => binaryRef(op, v, b[i]!)))),
        bytes: 12 * n,
      };
    },
  })),
  ...[[0.37, 0], [-1.0000001, 2.5e-3], [Math.fround(0.5 / 3), -7]].map(([sa, sb]): KernelCase => ({
    name: `affine x * ${sa} + ${sb} n=100003 (bits of the TypeScript kernel)`, kernels: ['affine'], kind: 'exact', bound: BOUNDS.exact, baselineBound: BOUNDS.exact,
    make(scale) {
      const n = scale === 'perf' ? 1 << 19 : 100003;
      const x = randn(n, 60, 5), y = new Float32Array(n);
      specials(x, new Float32Array(16));
      return {
        run() { native.affine(x, sa!, sb!, y, n); return scale === 'perf' ? [y] : bitHalves(y); },
        ref: memo(() => bitHalves(Float64Array.from(x, (v) => Math.fround(sb === 0 ? v * sa! : v * sa! + sb!)))),  // b = 0: x * a (keeps -0)
        bytes: 8 * n,
      };
    },
  })),
];
