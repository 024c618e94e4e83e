// One tensor of a checkpoint file, described from the file's header (or
// pickle) and read only when asked: the lazy interface every weight reader
// (safetensors, PyTorch .bin) offers, so loading, quantising, converting and
// exporting hold at most one tensor (or a block of its rows) at a time.
// Also here: decoding stored bytes into our dtypes, and the full non-finite
// scan a loaded weight gets (f32, bf16, f16: every element, not a sample).
import { Tensor, numel } from '../engine/tensor.js';

/** Element bytes of the stored dtypes (safetensors spelling; .bin storages are mapped onto these). */
export const ELEM_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** The float dtypes a model checkpoint may hold. */
export const FLOAT_DTYPES = ['BF16', 'F16', 'F32'] as const;

export interface TensorSource {
  readonly name: string;
  readonly file: string;
  readonly shape: readonly number[];
  /** Stored dtype: F32, BF16, F16, F64, I64, I32, I16, I8, U8, BOOL. */
  readonly dtype: string;
  /** Stored bytes of this tensor (numel x element size). */
  readonly bytes: number;
  /**
   * Raw little-endian bytes of rows [r0, r1) of the first dimension (all rows by default),
   * in a fresh exactly-sized buffer, or in `into` when given. Reads only those bytes.
   */
  readBytes(r0?: number, r1?: number, into?: Uint8Array): Uint8Array;
}

/** Bytes of one row (first dimension) of a source. */
export function rowBytes(s: TensorSource): number {
  return s.shape.length ? s.bytes / Math.max(s.shape[0]!, 1) : s.bytes;
}

/** Check and normalise a row range of a source. */
export function rowRange(s: TensorSource, r0 = 0, r1?: number): [number, number] {
  const rows = s.shape.length ? s.shape[0]! : 1;
  const end = r1 ?? rows;
  if (!(Number.isInteger(r0) && Number.isInteger(end) && r0 >= 0 && end >= r0 && end <= rows))
    throw new RangeError(`${s.file}: tensor '${s.name}' has ${rows} rows; rows ${r0}..${end} were asked for`);
  return [r0, end];
}

/** Decode stored bytes into a Tensor: f32, bf16, f16 and i32 wrap the buffer (no copy); f64 -> f32; other integers -> i32. */
export function decodeTensor(where: string, dtype: string, shape: readonly number[], raw: Uint8Array): Tensor {
  const n = numel(shape);
  const eb = ELEM_BYTES[dtype];
  if (eb === undefined) throw new Error(`${where}: unknown dtype '${dtype}'`);
  if (raw.byteLength !== n * eb) throw new Error(`${where}: ${raw.byteLength} bytes for ${n} ${dtype} elements`);
  const aligned = raw.byteOffset % eb === 0;
  const bytes = aligned ? raw : raw.slice();
  const buf = bytes.buffer, off = bytes.byteOffset;
  switch (dtype) {
    case 'F32': return Tensor.fromStorage(new Float32Array(buf, off, n), shape, 'f32');
    case 'BF16': return Tensor.fromStorage(new Uint16Array(buf, off, n), shape, 'bf16');
    case 'F16': return Tensor.fromStorage(new Uint16Array(buf, off, n), shape, 'f16');
    case 'I32': return Tensor.fromStorage(new Int32Array(buf, off, n), shape, 'i32');
    case 'F64': return Tensor.from(Float32Array.from(new Float64Array(buf, off, n)), shape, 'f32');
    default: {
      const out = new Int32Array(n);
      const dv = new DataView(buf, off, bytes.byteLength);
      for (let i = 0; i < n; i++) {
        let v: number;
        if (dtype === 'I64') v = Number(dv.getBigInt64(i * 8, true));
        else if (dtype === 'I16') v = dv.getInt16(i * 2, true);
        else if (dtype === 'I8') v = dv.getInt8(i);
        else v = dv.getUint8(i);
        if (v > 2147483647 || v < -2147483648) throw new Error(`${where}: value ${v} does not fit i32`);
        out[i] = v;
      }
      return Tensor.fromStorage(out, shape, 'i32');
    }
  }
}

/** The whole tensor of a source (one read into its own buffer). */
export function readTensor(s: TensorSource): Tensor {
  return decodeTensor(`${s.file}: tensor '${s.name}'`, s.dtype, s.shape, s.readBytes());
}

/** Rows [r0, r1) of a source as a Tensor [r1 - r0, ...shape[1:]]. */
export function readRows(s: TensorSource, r0: number, r1: number): Tensor {
  const [a, b] = rowRange(s, r0, r1);
  return decodeTensor(`${s.file}: tensor '${s.name}'`, s.dtype, [b - a, ...s.shape.slice(1)], s.readBytes(a, b));
}

/**
 * Index of the first non-finite element (NaN or ±Inf) of a float tensor's raw
 * storage, or -1. Tests the exponent bits of every element, two 16-bit
 * values per 32-bit word, so it runs at memory speed (see BENCHMARKS.md).
 */
export function firstNonFinite(t: Tensor): number {
  const d = t.data;
  const start = t.offset, n = t.size;
  if (t.dtype === 'i32') return -1;
  if (!t.isContiguous()) {
    const v = t.f32();
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return i;
    return -1;
  }
  if (t.dtype === 'f32') {
    const u = new Uint32Array(d.buffer, d.byteOffset + start * 4, n);
    for (let i = 0; i < n; i++) if ((u[i]! & 0x7f800000) === 0x7f800000) return i;
    return -1;
  }
  // bf16: exponent 0x7f80; f16: exponent 0x7c00
  const lo = t.dtype === 'bf16' ? 0x7f80 : 0x7c00;
  const hi = lo * 0x10000;
  const u16 = d as Uint16Array;
  let i = 0;
  const byteStart = d.byteOffset + start * 2;
  if (byteStart % 4 && n > 0) {
    if ((u16[start]! & lo) === lo) return 0;
    i = 1;
  }
  const words = (n - i) >> 1;
  const u = new Uint32Array(d.buffer, byteStart + i * 2, words);
  for (let w = 0; w < words; w++) {
    const x = u[w]!;
    if ((x & lo) === lo || ((x & hi) >>> 0) === hi) {
      const k = i + 2 * w;
      return (u16[start + k]! & lo) === lo ? k : k + 1;
    }
  }
  i += 2 * words;
  for (; i < n; i++) if ((u16[start + i]! & lo) === lo) return i;
  return -1;
}
