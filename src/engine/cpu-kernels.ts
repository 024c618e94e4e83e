// The CPU backend's element-wise, reduction and indexing kernels in
// TypeScript. binary and affine also exist natively (native/src/impl/
// elementwise.h, the same bits), which the backend runs from a few thousand
// elements; these loops serve short arrays and specify them. Plain loops over contiguous f32 arrays;
// sums accumulate in float64 in index order, so results do not depend on the
// thread count. These are the CPU reference of the primitive ops a device
// backend must provide (see Backend in backend.ts).
type F32 = Float32Array;

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'maximum';
export type UnaryOp = 'exp' | 'log' | 'sqrt' | 'rsqrt';

/** out = a op b, all of one length (broadcasting is done by the op layer). */
export function binaryF32(op: BinaryOp, a: F32, b: F32, out: F32): void {
  const n = out.length;
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!; return;
    case 'sub': for (let i = 0; i < n; i++) out[i] = a[i]! - b[i]!; return;
    case 'mul': for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!; return;
    case 'div': for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!; return;
    case 'maximum': for (let i = 0; i < n; i++) { const x = a[i]!, y = b[i]!; out[i] = x >= y || Number.isNaN(x) ? x : y; } return;
  }
}

export function unaryF32(op: UnaryOp, x: F32, out: F32): void {
  const n = out.length;
  switch (op) {
    case 'exp': for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]!); return;
    case 'log': for (let i = 0; i < n; i++) out[i] = Math.log(x[i]!); return;
    case 'sqrt': for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]!); return;
    case 'rsqrt': for (let i = 0; i < n; i++) out[i] = 1 / Math.sqrt(x[i]!); return;
  }
}

/** out = a * x + b (out may be x: in place). */
export function affineF32(x: F32, a: number, b: number, out: F32): void {
  const n = out.length;
  if (b === 0) for (let i = 0; i < n; i++) out[i] = x[i]! * a;
  else for (let i = 0; i < n; i++) out[i] = x[i]! * a + b;
}

/** out[r] = sum_c x[r, c], float64 accumulation in index order. */
export function sumRowsF32(x: F32, rows: number, cols: number, out: F32): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) s += x[base + c]!;
    out[r] = s;
  }
}

/** vals[r] = max_c x[r, c] and idx[r] its first position (a NaN wins, as torch.max). */
export function maxRowsF32(x: F32, rows: number, cols: number, vals: F32, idx: Int32Array): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let m = x[base]!, a = 0;
    for (let c = 1; c < cols; c++) {
      const v = x[base + c]!;
      if (v > m || (Number.isNaN(v) && !Number.isNaN(m))) { m = v; a = c; }
    }
    vals[r] = m;
    idx[r] = a;
  }
}

/** out[i, :] = src[ids[i], :] for rows of C elements (any storage type). */
export function gatherRows<S extends F32 | Uint16Array>(src: S, ids: Int32Array, C: number, out: S): void {
  for (let i = 0; i < ids.length; i++) out.set(src.subarray(ids[i]! * C, (ids[i]! + 1) * C), i * C);
}

/** out[ids[i], :] += g[i, :] in index order (repeated ids accumulate); rows equal to `skip` are left out. */
export function scatterAddRows(g: F32, ids: Int32Array, C: number, skip: number | null, out: F32): void {
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === skip) continue;
    const row = ids[i]! * C, gr = i * C;
    for (let c = 0; c < C; c++) out[row + c] += g[gr + c]!;
  }
}

/**
 * The view of src (offset, element strides, 0 for a broadcast dim) into the
 * view of dst of the same shape, element by element in row-major order: the
 * specification of the native copyStrided (native/src/impl/copy.h), which the
 * backend runs from a few thousand elements. Storages of one element type; no overlap.
 */
export function copyStridedTS<S extends Float32Array | Int32Array | Uint16Array>(src: S, srcOffset: number, shape: readonly number[],
  srcStrides: readonly number[], dst: S, dstOffset: number, dstStrides: readonly number[]): void {
  const nd = shape.length;
  if (shape.some((d) => d === 0)) return;
  if (nd === 0) { dst[dstOffset] = src[srcOffset]!; return; }
  const idx = new Array<number>(nd).fill(0);
  const last = shape[nd - 1]!, ls = srcStrides[nd - 1]!, ld = dstStrides[nd - 1]!;
  let so = srcOffset, dso = dstOffset;
  for (;;) {
    for (let j = 0; j < last; j++) dst[dso + j * ld] = src[so + j * ls]!;
    let d = nd - 2;
    for (; d >= 0; d--) {
      so += srcStrides[d]!;
      dso += dstStrides[d]!;
      if (++idx[d]! < shape[d]!) break;
      so -= srcStrides[d]! * shape[d]!;
      dso -= dstStrides[d]! * shape[d]!;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}
