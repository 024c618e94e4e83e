// Reductions over one dim (or all elements): sum, mean, max, as row kernels
// of the backend. Sums accumulate in float64 in index order, so they are
// exact to f32 rounding and deterministic. max's gradient goes to the first
// maximal element (as torch.max(dim) does).
import { Tensor, shapeStr } from '../tensor.js';
import { record } from '../autograd.js';
import { backend } from '../backend.js';
import { f32Buffer, fromF32, i32Buffer, resultDType } from './util.js';
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
  const out = f32Buffer(r.rows);
  backend().sumRows(r.x, r.rows, r.cols, out);
  return record(fromF32(out, r.outShape, dtype), 'sum', [t], (g) => [contiguous(expand(reshape(g, r.keptShape), t.shape))]);
}

export function mean(t: Tensor, dim?: number, keepDim = false): Tensor {
  const n = dim === undefined ? t.size : t.dim(dim);
  const s = sum(t.detach(), dim, keepDim);
  const q = f32Buffer(s.size);
  backend().affine(s.f32(), 1 / n, 0, q);
  return record(fromF32(q, s.shape, s.dtype), 'mean', [t], (g) => {
    const gs = f32Buffer(g.size);
    backend().affine(g.f32(), 1 / n, 0, gs);
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
  const vals = f32Buffer(r.rows), idx = i32Buffer(r.rows);
  backend().maxRows(r.x, r.rows, r.cols, vals, idx);
  const values = record(fromF32(vals, r.outShape, dtype), 'max', [t], (g) => {
    // scatter g to the argmax positions, in the permuted (dim-last) layout
    const gv = g.f32();
    const moved = f32Buffer(r.rows * r.cols);
    for (let i = 0; i < r.rows; i++) moved[i * r.cols + idx[i]!] = gv[i]!;
    if (!r.perm) return [Tensor.from(moved, t.shape)];
    const movedShape = r.perm.map((p) => t.shape[p]!);
    const inv = new Array<number>(r.perm.length);
    r.perm.forEach((p, i) => { inv[p] = i; });
    return [contiguous(permute(Tensor.from(moved, movedShape), inv))];
  });
  return { values, indices: Tensor.from(idx, r.outShape, 'i32') };
}

