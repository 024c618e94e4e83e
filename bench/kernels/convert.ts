// Exact rows: f32 <-> bf16 conversion (round to nearest even, NaN kept
// quiet, infinities, -0, a value that rounds to infinity)
// against the bit rule, and the counter-based random fill, whose bits every
// build must reproduce (no float64 reference: the baseline build is it).
import { native } from '../../src/engine/native.js';
import { BOUNDS } from './bounds.js';
import { type KernelCase, randn, memo } from './case.js';

export const CONVERT_CASES: KernelCase[] = [
  {
    name: 'bf16 <-> f32 conversion (round to nearest even, NaN)', kernels: ['f32ToBf16', 'bf16ToF32'], kind: 'exact', bound: BOUNDS.exact, baselineBound: BOUNDS.exact,
    make(scale) {
      const n = scale === 'perf' ? 1 << 22 : 4099;
      const x = randn(n, 25, 10);
      x[0] = NaN; x[1] = Infinity; x[2] = -0; x[3] = 1 + 2 ** -8; x[4] = 1 + 3 * 2 ** -8; x[5] = 3.4e38;
      const bits = new Uint16Array(n), back = new Float32Array(n);
      return {
        run() { native.f32ToBf16(x, bits, n); native.bf16ToF32(bits, back, n); return [Float32Array.from(bits), back.subarray(6)]; },
        ref: memo(() => {
          const u = new Uint32Array(Float32Array.from(x).buffer);
          const want = Uint16Array.from(u, (w) => ((w & 0x7fffffff) > 0x7f800000 ? (w >>> 16) | 0x40 : ((w + 0x7fff + ((w >>> 16) & 1)) >>> 16) & 0xffff));
          // bf16 -> f32 is the bits shifted up; compared on the finite values (x[6..]; the specials are checked by their bits)
          return [Float64Array.from(want), new Float32Array(Uint32Array.from(want, (b) => b << 16).buffer).subarray(6)];
        }),
        bytes: 6 * n,
      };
    },
  },
  {
    name: 'randomFill normal (baseline bits)', kernels: ['randomFill'], kind: 'exact', bound: Infinity, baselineBound: BOUNDS.exact,
    make(scale) {
      const n = scale === 'perf' ? 1 << 22 : 1001;
      const out = new Float32Array(n);
      return { run() { native.randomFill(out, 42, true, 0, 1); return [out]; }, ref: () => [out.slice()], bytes: 4 * n };
    },
  },
];
