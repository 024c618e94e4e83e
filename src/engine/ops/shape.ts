// View ops (no copy: new shape/strides/offset over the same storage) and the
// two copying ops, contiguous() and cast(). Each records its gradient.
// sumToShape, the gradient of broadcasting, is a row reduction on the backend.
import { Tensor, contiguousStrides, numel, shapeStr, type Shape } from '../tensor.js';
import { record } from '../autograd.js';
import { encodeElement, readElement, type DType } from '../dtype.js';
import { backend } from '../backend.js';

function normDim(t: Tensor, dim: number, op: string, extra = 0): number {
  const n = t.ndim + extra;
  const d = dim < 0 ? n + dim : dim;
  if (!Number.isInteger(d) || d < 0 || d >= n) throw new RangeError(`${op}: dim ${dim} out of range for shape ${shapeStr(t.shape)}`);
  return d;
}

/** Strides for viewing t as `shape` without a copy, or null when impossible. */
function viewStrides(t: Tensor, shape: Shape): number[] | null {
  if (t.isContiguous()) return contiguousStrides(shape);
  // General rule (as torch.view): merge t's dims into contiguous chunks, then split.
  const oldShape = t.shape.filter((d) => d !== 1);
  const oldStrides = t.strides.filter((_, i) => t.shape[i] !== 1);
  const out = new Array<number>(shape.length);
  let oi = 0, ni = 0;
  while (ni < shape.length) {
    if (shape[ni] === 1) { out[ni] = 1; ni++; continue; }
    if (oi >= oldShape.length) return null;
    // take one chunk of old dims that are mutually contiguous
    let chunk = oldShape[oi]!;
    let innerStride = oldStrides[oi]!;
    let oj = oi;
    while (oj + 1 < oldShape.length && oldStrides[oj]! === oldStrides[oj + 1]! * oldShape[oj + 1]!) {
      oj++;
      chunk *= oldShape[oj]!;
      innerStride = oldStrides[oj]!;
    }
    // split chunk among new dims
    let prod = 1;
    const start = ni;
    while (ni < shape.length && prod < chunk) { prod *= shape[ni]!; ni++; }
    if (prod !== chunk) return null;
    let acc = innerStride;
    for (let k = ni - 1; k >= start; k--) { out[k] = acc; acc *= shape[k]!; }
    oi = oj + 1;
  }
  return oi === oldShape.length ? out : null;
}

export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  const shp = [...shape];
  const neg = shp.indexOf(-1);
  if (neg >= 0) {
    const rest = numel(shp.filter((_, i) => i !== neg));
    if (rest === 0 || t.size % rest !== 0) throw new RangeError(`reshape: cannot infer -1 for ${shapeStr(t.shape)} -> ${shapeStr(shape)}`);
    shp[neg] = t.size / rest;
  }
  if (numel(shp) !== t.size || shp.some((d) => !Number.isInteger(d) || d < 0))
    throw new RangeError(`reshape: ${shapeStr(t.shape)} (${t.size} elements) cannot become ${shapeStr(shape)}`);
  const strides = viewStrides(t, shp);
  const out = strides ? new Tensor(t.data, shp, t.dtype, strides, t.offset) : new Tensor(t.copyStorage(), shp, t.dtype);
  const inShape = t.shape;
  return record(out, 'reshape', [t], (g) => [reshape(g, inShape)]);
}

export function permute(t: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== t.ndim) throw new RangeError(`permute: ${dims.length} dims for shape ${shapeStr(t.shape)}`);
  const d = dims.map((x) => normDim(t, x, 'permute'));
  if (new Set(d).size !== d.length) throw new RangeError(`permute: repeated dims [${dims.join(', ')}]`);
  const out = new Tensor(t.data, d.map((i) => t.shape[i]!), t.dtype, d.map((i) => t.strides[i]!), t.offset);
  const inv = new Array<number>(d.length);
  d.forEach((src, dst) => { inv[src] = dst; });
  return record(out, 'permute', [t], (g) => [contiguous(permute(g, inv))]);
}

export function transpose(t: Tensor, a: number, b: number): Tensor {
  const dims = t.shape.map((_, i) => i);
  const x = normDim(t, a, 'transpose'), y = normDim(t, b, 'transpose');
  [dims[x], dims[y]] = [dims[y]!, dims[x]!];
  return permute(t, dims);
}

export function narrow(t: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim(t, dim, 'narrow');
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > t.shape[d]!)
    throw new RangeError(`narrow: [${start}, ${start + length}) out of range for dim ${d} of ${shapeStr(t.shape)}`);
  const shape = [...t.shape];
  shape[d] = length;
  const out = new Tensor(t.data, shape, t.dtype, t.strides, t.offset + start * t.strides[d]!);
  const inShape = t.shape;
  return record(out, 'narrow', [t], (g) => {
    const full = Tensor.zeros(inShape);
    const view = new Tensor(full.data, shape, 'f32', full.strides, start * full.strides[d]!);
    copyInto(g, view);
    return [full];
  });
}

export function unsqueeze(t: Tensor, dim: number): Tensor {
  const d = normDim(t, dim, 'unsqueeze', 1);
  const shape = [...t.shape];
  shape.splice(d, 0, 1);
  return reshape(t, shape);
}

/** Broadcast size-1 dims (and new leading dims) to `shape`, with stride 0. */
export function expand(t: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < t.ndim) throw new RangeError(`expand: ${shapeStr(t.shape)} has more dims than ${shapeStr(shape)}`);
  const lead = shape.length - t.ndim;
  const strides = shape.map((s, i) => {
    if (i < lead) return 0;
    const src = t.shape[i - lead]!;
    if (src === s) return t.strides[i - lead]!;
    if (src === 1) return 0;
    throw new RangeError(`expand: cannot expand ${shapeStr(t.shape)} to ${shapeStr(shape)}`);
  });
  const out = new Tensor(t.data, shape, t.dtype, strides, t.offset);
  const inShape = t.shape;
  return record(out, 'expand', [t], (g) => [sumToShape(g, inShape)]);
}

/** Sum a (broadcast) gradient down to `shape`: the kept dims go first, the summed ones last, one row reduction. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (g.ndim === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.ndim - shape.length;
  const summed = (d: number): boolean => d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1);
  const dims = g.shape.map((_, d) => d);
  const kept = dims.filter((d) => !summed(d)), gone = dims.filter(summed);
  const rows = numel(shape), cols = numel(gone.map((d) => g.shape[d]!));
  const moved = gone.length === 0 ? g : permute(g.detach(), [...kept, ...gone]);
  const out = backend().alloc('f32', rows) as Float32Array;
  backend().sumRows(moved.f32(), rows, cols, out);
  return Tensor.from(out, shape);
}

/** Raw strided copy of src's values into dst's view (dtypes may differ). */
export function copyInto(src: Tensor, dst: Tensor): void {
  if (src.size !== dst.size) throw new RangeError(`copyInto: ${shapeStr(src.shape)} into ${shapeStr(dst.shape)}`);
  if (src.dtype === dst.dtype && src.ndim === dst.ndim && src.shape.every((d, i) => d === dst.shape[i])) {
    backend().copyStrided(src.data, src.offset, src.shape, src.strides, dst.data, dst.offset, dst.strides);
    return;
  }
  const so = src.offsets(), dof = dst.offsets();
  if (src.dtype === dst.dtype) {
    for (let i = 0; i < so.length; i++) dst.data[dof[i]!] = src.data[so[i]!]!;
    return;
  }
  for (let i = 0; i < so.length; i++) dst.data[dof[i]!] = encodeElement(dst.dtype, readElement(src.dtype, src.data, so[i]!));
}

export function contiguous(t: Tensor): Tensor {
  if (t.isContiguous() && t.offset === 0 && t.data.length === t.size) return t;
  const out = new Tensor(t.copyStorage(), t.shape, t.dtype);
  return record(out, 'contiguous', [t], (g) => [g]);
}

/** Convert to another dtype, recording the (identity) gradient; see Tensor.astype for the rounding rules. */
export function cast(t: Tensor, dtype: DType): Tensor {
  if (dtype === t.dtype) return t;
  return record(t.astype(dtype), 'cast', [t], (g) => [g]);
}
