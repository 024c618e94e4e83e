// Tensor: a typed storage on a device plus shape, strides and offset (views
// share storage), and the autograd fields. It holds data and converts it; it
// computes nothing and records nothing: every operation, views included, is a
// free function in src/engine/ops that records its gradient. This file
// imports no op, so the import graph has no circle through it.
// Storage is allocated by the active backend (src/engine/backend.ts); on the
// CPU it is an ordinary ArrayBuffer, so the garbage collector reclaims it and
// native kernels borrow pointers only for the length of one call (see
// native/src/addon.cc). A model larger than one ArrayBuffer is fine: each
// parameter has its own buffer.
import { bytesPerElement, checkDType, encodeElement, readElement, type DType, type Storage } from './dtype.js';
import { Rng } from './rng.js';
import { backend, type Device } from './backend.js';

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function checkShape(shape: Shape, where: string): void {
  for (const d of shape)
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${where}: invalid shape ${shapeStr(shape)}`);
}

/** One recorded op on the tape (see autograd.ts, which walks these). */
export interface GradNode {
  op: string;
  inputs: readonly (Tensor | null)[];
  /** Given dL/d(output) (f32, contiguous), return dL/d(input) for each input (null where none). */
  backward(grad: Tensor): readonly (Tensor | null)[];
}

export interface RandomOptions {
  seed?: number;
  rng?: Rng;
  dtype?: DType;
}

export class Tensor {
  readonly data: Storage;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: Shape;
  readonly offset: number;
  /** Where the storage lives (the backend that allocated it). */
  readonly device: Device;
  requiresGrad = false;
  /** Accumulated gradient (always f32, contiguous, same shape). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when it was recorded on the tape. */
  gradFn: GradNode | null = null;

  constructor(data: Storage, shape: Shape, dtype: DType, strides?: Shape, offset = 0, device: Device = backend().device) {
    checkShape(shape, 'Tensor');
    this.data = data;
    this.device = device;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    const need = this.maxOffset() + 1;
    if (numel(shape) > 0 && need > data.length)
      throw new RangeError(`Tensor: view ${shapeStr(shape)} at offset ${offset} needs ${need} elements, storage has ${data.length}`);
  }

  // ---- construction ----

  /** Wraps a matching TypedArray without copying; otherwise encodes the values. */
  static from(values: ArrayLike<number>, shape?: Shape, dtype: DType = 'f32'): Tensor {
    checkDType(dtype, 'Tensor.from');
    const shp = shape ?? [values.length];
    const n = numel(shp);
    if (values.length !== n) throw new RangeError(`Tensor.from: ${values.length} values do not fill shape ${shapeStr(shp)}`);
    if ((dtype === 'f32' && values instanceof Float32Array) || (dtype === 'i32' && values instanceof Int32Array))
      return new Tensor(values, shp, dtype);
    const s = backend().alloc(dtype, n);
    for (let i = 0; i < n; i++) s[i] = encodeElement(dtype, values[i]!);
    return new Tensor(s, shp, dtype);
  }

  /** Wraps raw storage (bf16/f16 as 16-bit patterns) without copying. */
  static fromStorage(data: Storage, shape: Shape, dtype: DType): Tensor {
    return new Tensor(data, shape, dtype);
  }

  static zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
    checkShape(shape, 'zeros');
    return new Tensor(backend().alloc(dtype, numel(shape)), shape, dtype);
  }

  /**
   * A shape-only stand-in: a zero-stride view of a single zero, taking no
   * memory. Modules register these until real weights are loaded or
   * initialised (so building a 13B model to read its shapes costs nothing).
   * It is not contiguous, so in-place updates (optimizers) refuse it.
   */
  static placeholder(shape: Shape, dtype: DType = 'f32'): Tensor {
    checkShape(shape, 'placeholder');
    return new Tensor(backend().alloc(dtype, 1), shape, dtype, shape.map(() => 0));
  }

  static full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
    const t = Tensor.zeros(shape, dtype);
    t.data.fill(encodeElement(dtype, value));
    return t;
  }

  static ones(shape: Shape, dtype: DType = 'f32'): Tensor {
    return Tensor.full(shape, 1, dtype);
  }

  static arange(n: number, dtype: DType = 'i32'): Tensor {
    const s = backend().alloc(dtype, n);
    for (let i = 0; i < n; i++) s[i] = encodeElement(dtype, i);
    return new Tensor(s, [n], dtype);
  }

  /** Normal(mean, std) from a seeded generator: same values on every run and thread count. */
  static randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
    const rng = opts.rng ?? new Rng(opts.seed ?? 0);
    const dtype = opts.dtype ?? 'f32';
    const mean = opts.mean ?? 0, std = opts.std ?? 1;
    const t = Tensor.zeros(shape, dtype);
    for (let i = 0; i < t.data.length; i++) t.data[i] = encodeElement(dtype, mean + std * rng.normal());
    return t;
  }

  /**
   * Normal(mean, std) f32 from a native counter-based generator: element i
   * depends only on (seed, i), so it is fast (all cores) and reproducible on
   * any thread count. For large weights; `randn` is the sequential JS stream.
   */
  static randnFast(shape: Shape, seed: number, std = 1, mean = 0): Tensor {
    const t = Tensor.zeros(shape);
    backend().randomFill(t.data as Float32Array, seed, true, mean, std);
    return t;
  }

  /** Uniform [low, high) f32, counter-based like randnFast. */
  static randFast(shape: Shape, seed: number, low = 0, high = 1): Tensor {
    const t = Tensor.zeros(shape);
    backend().randomFill(t.data as Float32Array, seed, false, low, high);
    return t;
  }

  /** Uniform in [low, high) from a seeded generator. */
  static rand(shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
    const rng = opts.rng ?? new Rng(opts.seed ?? 0);
    const dtype = opts.dtype ?? 'f32';
    const low = opts.low ?? 0, high = opts.high ?? 1;
    const t = Tensor.zeros(shape, dtype);
    for (let i = 0; i < t.data.length; i++) t.data[i] = encodeElement(dtype, low + (high - low) * rng.uniform());
    return t;
  }

  // ---- metadata ----

  get ndim(): number { return this.shape.length; }
  get size(): number { return numel(this.shape); }
  get bytes(): number { return this.size * bytesPerElement(this.dtype); }

  dim(i: number): number {
    const d = i < 0 ? this.ndim + i : i;
    if (d < 0 || d >= this.ndim) throw new RangeError(`dim ${i} out of range for shape ${shapeStr(this.shape)}`);
    return this.shape[d]!;
  }

  isContiguous(): boolean {
    let acc = 1;
    for (let i = this.ndim - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== acc) return false;
      acc *= this.shape[i]!;
    }
    return true;
  }

  private maxOffset(): number {
    let m = this.offset;
    for (let i = 0; i < this.shape.length; i++) m += (this.shape[i]! - 1) * this.strides[i]!;
    return m;
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${shapeStr(this.shape)}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- element access and raw copies (no autograd) ----

  /** Storage offset of each element in row-major order. */
  offsets(): Int32Array | Float64Array {
    const n = this.size;
    const out = n < 2 ** 31 ? new Int32Array(n) : new Float64Array(n);
    const nd = this.ndim;
    if (nd === 0) { out[0] = this.offset; return out; }
    const idx = new Array<number>(nd).fill(0);
    const last = this.shape[nd - 1]!, ls = this.strides[nd - 1]!;
    let base = this.offset, k = 0;
    while (k < n) {
      for (let j = 0; j < last; j++) out[k++] = base + j * ls;
      let d = nd - 2;
      for (; d >= 0; d--) {
        idx[d]!++;
        base += this.strides[d]!;
        if (idx[d]! < this.shape[d]!) break;
        base -= this.strides[d]! * this.shape[d]!;
        idx[d] = 0;
      }
      if (d < 0) break;
    }
    return out;
  }

  /** A contiguous copy of the raw storage values (same dtype). */
  copyStorage(): Storage {
    const n = this.size;
    const out = backend().alloc(this.dtype, n);
    if (this.isContiguous()) {
      backend().download(out, this.data.subarray(this.offset, this.offset + n));
      return out;
    }
    backend().copyStrided(this.data, this.offset, this.shape, this.strides, out, 0, contiguousStrides(this.shape));
    return out;
  }

  /**
   * The values converted to `dtype` in one pass, as a fresh contiguous tensor
   * with no gradient history (NumPy's astype). Float rounding is
   * nearest-even; to i32 the values are truncated. The storage-level cast:
   * for a cast that records a gradient use ops' `cast`.
   */
  astype(dtype: DType): Tensor {
    checkDType(dtype, 'astype');
    const n = this.size;
    if (dtype === this.dtype) return new Tensor(this.copyStorage(), this.shape, dtype);
    if (dtype === 'f32') return new Tensor(this.f32Copy(), this.shape, 'f32');
    const s = backend().alloc(dtype, n);
    if (dtype === 'bf16' && (this.dtype === 'f32' || this.dtype === 'bf16')) {
      backend().f32ToBf16(this.f32(), s as Uint16Array);
    } else {
      const src = this.f32();
      for (let i = 0; i < n; i++) s[i] = encodeElement(dtype, dtype === 'i32' ? Math.trunc(src[i]!) : src[i]!);
    }
    return new Tensor(s, this.shape, dtype);
  }

  /** The values as a fresh contiguous Float32Array (always a copy). */
  private f32Copy(): Float32Array {
    const v = this.f32();
    if (v.buffer !== this.data.buffer) return v;
    const out = backend().alloc('f32', v.length) as Float32Array;
    out.set(v);
    return out;
  }

  /**
   * The values as a contiguous Float32Array. For a contiguous f32 tensor this
   * is a view of the storage (no copy): treat it as read-only.
   */
  f32(): Float32Array {
    const n = this.size;
    if (this.dtype === 'f32' && this.isContiguous()) return (this.data as Float32Array).subarray(this.offset, this.offset + n);
    if (this.dtype === 'bf16') {
      const raw = this.isContiguous() ? (this.data as Uint16Array).subarray(this.offset, this.offset + n) : (this.copyStorage() as Uint16Array);
      const out = backend().alloc('f32', n) as Float32Array;
      backend().bf16ToF32(raw, out);
      return out;
    }
    const raw = this.copyStorage();
    if (this.dtype === 'f32') return raw as Float32Array;  // the copy is the answer
    const out = backend().alloc('f32', n) as Float32Array;
    for (let i = 0; i < n; i++) out[i] = readElement(this.dtype, raw, i);
    return out;
  }

  /** Flat values as plain numbers. */
  toArray(): number[] {
    const raw = this.copyStorage();
    const out = new Array<number>(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = readElement(this.dtype, raw, i);
    return out;
  }

  /** Nested arrays in the tensor's shape. */
  tolist(): unknown {
    const flat = this.toArray();
    const build = (d: number, base: number): unknown => {
      if (d === this.ndim) return flat[base];
      const stride = numel(this.shape.slice(d + 1));
      return Array.from({ length: this.shape[d]! }, (_, i) => build(d + 1, base + i * stride));
    };
    return build(0, 0);
  }

  item(): number {
    if (this.size !== 1) throw new RangeError(`item(): tensor has ${this.size} elements, expected 1`);
    return readElement(this.dtype, this.data, this.offset);
  }

  get(...index: number[]): number {
    if (index.length !== this.ndim) throw new RangeError(`get: ${index.length} indices for shape ${shapeStr(this.shape)}`);
    let off = this.offset;
    index.forEach((ix, d) => {
      if (!Number.isInteger(ix) || ix < 0 || ix >= this.shape[d]!)
        throw new RangeError(`get: index ${ix} out of range for dim ${d} of shape ${shapeStr(this.shape)}`);
      off += ix * this.strides[d]!;
    });
    return readElement(this.dtype, this.data, off);
  }

  /** Detached tensor sharing storage (no gradient history). */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, this.dtype, this.strides, this.offset, this.device);
  }

  requiresGrad_(flag = true): this {
    if (flag && this.dtype === 'i32') throw new TypeError('requiresGrad: integer tensors cannot require gradients');
    this.requiresGrad = flag;
    return this;
  }
}
