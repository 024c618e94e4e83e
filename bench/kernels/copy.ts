// Strided copies (copyStrided): the values of a view (offset, element strides,
// 0 for a broadcast dim) into another view of the same shape, as raw bits,
// must equal the TypeScript loop that specifies them (src/engine/cpu-kernels.ts
// copyStridedTS) element for element, including the destination's untouched
// elements. Rows: the attention gradient's permute [B, H, T, D] -> [B, T, H, D]
// (the perf size is one 7B layer's at T = 512), a broadcast (stride-0 dims),
// a bf16 transpose of the last two dims, an i32 copy into a strided window of a
// larger buffer, and a single element.
import { native } from '../../src/engine/native.js';
import { copyStridedTS } from '../../src/engine/cpu-kernels.js';
import { contiguousStrides } from '../../src/engine/tensor.js';
import { BOUNDS } from './bounds.js';
import { type KernelCase, randn, memo } from './case.js';

type Store = Float32Array | Int32Array | Uint16Array;
interface CopyShape {
  what: string; kind: 'f32' | 'i32' | 'u16';
  shape: number[]; srcStrides: number[]; srcOffset: number;
  /** destination strides and offset; default: contiguous from 0 */
  dstStrides?: number[]; dstOffset?: number;
}

const extent = (shape: number[], strides: number[], offset: number) => offset + 1 + shape.reduce((a, d, i) => a + (d - 1) * strides[i]!, 0);
const asValues = (s: Store): Float32Array => (s instanceof Float32Array ? s : Float32Array.from(s));

function copyCase(c: CopyShape, perf?: CopyShape): KernelCase {
  return {
    name: `copyStrided ${c.kind} ${c.what} [${c.shape.join(',')}] (the TypeScript loop's bits)`, kernels: ['copyStrided'], kind: 'exact',
    bound: BOUNDS.exact, baselineBound: BOUNDS.exact, testOnly: !perf,
    make(scale) {
      const s = scale === 'perf' && perf ? perf : c;
      const dstStrides = s.dstStrides ?? contiguousStrides(s.shape), dstOffset = s.dstOffset ?? 0;
      const nSrc = extent(s.shape, s.srcStrides, s.srcOffset), nDst = extent(s.shape, dstStrides, dstOffset);
      const values = randn(nSrc, 70 + s.shape.length);
      const make = (n: number): Store => (s.kind === 'f32' ? new Float32Array(n) : s.kind === 'i32' ? new Int32Array(n) : new Uint16Array(n));
      const src = make(nSrc);
      // f32: normal values; i32: signed integers; u16: all 16-bit patterns (bf16 bits, NaNs included, moved as bits)
      for (let i = 0; i < nSrc; i++) src[i] = s.kind === 'f32' ? values[i]! : s.kind === 'i32' ? Math.round(values[i]! * 1e6) : (i * 40503) & 0xffff;
      const dst = make(nDst), fill = s.kind === 'u16' ? 0xbeef : -7;  // untouched elements must keep it
      const size = s.shape.reduce((a, b) => a * b, 1);
      return {
        run() {
          dst.fill(fill);
          native.copyStrided(src, s.srcOffset, s.shape, s.srcStrides, dst, dstOffset, dstStrides);
          return [asValues(dst)];
        },
        ref: memo(() => {
          const want = make(nDst).fill(fill);
          copyStridedTS(src, s.srcOffset, s.shape, s.srcStrides, want, dstOffset, dstStrides);
          return [asValues(want)];
        }),
        bytes: 2 * size * (s.kind === 'u16' ? 2 : 4),
        label: `copyStrided ${s.kind} ${s.what} [${s.shape.join(',')}]`,
      };
    },
  };
}

// [B, H, T, D] viewed from storage [B, T, H, D]: the layout of attention's output and gradients
const permuted = (B: number, H: number, T: number, D: number, offset: number): CopyShape =>
  ({ what: 'permute (0,2,1,3)', kind: 'f32', shape: [B, H, T, D], srcStrides: [T * H * D, D, H * D, 1], srcOffset: offset });

export const COPY_CASES: KernelCase[] = [
  copyCase(permuted(2, 5, 37, 9, 3), permuted(1, 32, 512, 128, 0)),
  copyCase({ what: 'broadcast (stride 0)', kind: 'f32', shape: [3, 40, 33], srcStrides: [0, 1, 0], srcOffset: 2 }),
  copyCase({ what: 'broadcast of one element', kind: 'f32', shape: [2, 1, 300, 17], srcStrides: [0, 0, 0, 0], srcOffset: 0 }),
  copyCase({ what: 'transpose of the last two dims', kind: 'u16', shape: [4, 33, 65], srcStrides: [33 * 65, 1, 33], srcOffset: 1 }),
  copyCase({ what: 'into a strided window', kind: 'i32', shape: [6, 7, 11], srcStrides: [77, 11, 1], srcOffset: 0, dstStrides: [7 * 20, 20, 1], dstOffset: 5 }),
  copyCase({ what: 'one element', kind: 'f32', shape: [], srcStrides: [], srcOffset: 4 }),
];
