// Reductions over one dim (or all elements): sum, mean, max. Sums accumulate
// in float64 in index order, so they are exact to f32 rounding and
// deterministic. max's gradient goes to the first maximal element (as
// torch.max(dim) does). Reference: src/engine/ref/reduce.ts.
import { Tensor, shapeStr } from '../tensor.js';
import { record } from '../autograd.js';
import { fromF32, resultDType } from './util.js';
import { permute, contiguous, expand, reshape } from './shape.js';

interface Rows { x: Float32Array; rows: number; cols: number; outShape: number[]; keptShape: number[]; perm: number[] | null }

/** Move `dim` last and view the data as rows x cols (cols = the reduced dim). */
function asRows(t: Tensor, dim: number | undefined, keepDim: boolean, op: string): Rows {
  if (dim === undefined) return { x: t.f32(), rows: 1, cols: t.size, outShape: keepDim ? t.shape.map(() => 1) : [], keptShape: t.shape.map(() => 1), perm: null };
  const d = dim < 0 ? t.ndim + dim : dim;
  if (!Number.isInteger(d) || d < 0 || d >= t.ndim) throw new RangeError(`${op}: dim ${dim} out of range for ${shapeStr(t.shape)}`);
  const perm = t.shape.map((_, i) => i).filter((i) => i !== d).concat([d]);
  const moved = d === t.ndim - 1 ? t.detach() : contiguous(permute(t.detach(), perm));
  const cols = t.shape[d]!;
  const keptShape = t.shape.map((s, i) => (i === d ? 1 : s));
  return { x: moved.f32(), rows: cols === 0 ? 0 : t.size / cols, cols, outShape: keepDim ? keptShape : t.shape.filter((_, i) => i !== d), keptShape, perm };
}

export function sum(t: Tensor, dim?: number, keepDim = false): Tensor {
  const dtype = resultDType('sum', t);
  const r = asRows(t, dim, keepDim, 'sum');
  const out = new Float32Array(r.rows);
  for (let i = 0; i < r.rows; i++) {
    let s = 0;
    const base = i * r.cols;
    for (let c = 0; c < r.cols; c++) s += r.x[base + c]!;
    out[i] = s;
  }
  return record(fromF32(out, r.outShape, dtype), 'sum', [t], (g) => [contiguous(expand(reshape(g, r.keptShape), t.shape))]);
}

export function mean(t: Tensor, dim?: number, keepDim = false): Tensor {
  const n = dim === undefined ? t.size : t.dim(dim);
  const s = sum(t, dim, keepDim);
  const out = fromF32(s.f32().map((v) => v / n), s.shape, s.dtype);
  return record(out, 'mean', [t], (g) => {
    const gs = g.f32().map((v) => v / n);
    return [contiguous(expand(reshape(Tensor.from(gs, g.shape), r1(t, dim)), t.shape))];
  });
}

function r1(t: Tensor, dim?: number): number[] {
  if (dim === undefined) return t.shape.map(() => 1);
  const d = dim < 0 ? t.ndim + dim : dim;
  return t.shape.map((s, i) => (i === d ? 1 : s));
}

/** Max over `dim` (or all); returns values and the argmax indices (i32). */
export function max(t: Tensor, dim?: number, keepDim = false): { values: Tensor; indices: Tensor } {
  const dtype = resultDType('max', t);
  const r = asRows(t, dim, keepDim, 'max');
  if (r.cols === 0) throw new RangeError(`max: reduced dim is empty in ${shapeStr(t.shape)}`);
  const vals = new Float32Array(r.rows), idx = new Int32Array(r.rows);
  for (let i = 0; i < r.rows; i++) {
    const base = i * r.cols;
    let m = r.x[base]!, a = 0;
    for (let c = 1; c < r.cols; c++) {
      const v = r.x[base + c]!;
      if (v > m || (Number.isNaN(v) && !Number.isNaN(m))) { m = v; a = c; }
    }
    vals[i] = m;
    idx[i] = a;
  }
  const values = record(fromF32(vals, r.outShape, dtype), 'max', [t], (g) => {
    // scatter g to the argmax positions, in the permuted (dim-last) layout
    const gv = g.f32();
    const moved = new Float32Array(r.rows * r.cols);
    for (let i = 0; i < r.rows; i++) moved[i * r.cols + idx[i]!] = gv[i]!;
    if (!r.perm) return [Tensor.from(moved, t.shape)];
    const movedShape = r.perm.map((p) => t.shape[p]!);
    const inv = new Array<number>(r.perm.length);
    r.perm.forEach((p, i) => { inv[p] = i; });
    return [contiguous(permute(Tensor.from(moved, movedShape), inv))];
  });
  return { values, indices: Tensor.from(idx, r.outShape, 'i32') };
}

