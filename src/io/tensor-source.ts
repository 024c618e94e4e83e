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
 * storage, or -1. Every element is tested, branch-free, one 32-bit word (two
 * bf16/f16 values or one f32) at a time: an exponent field E is all ones
 * exactly when E + 1 carries into the bit above it, so
 * (((w >>> 1) & EXP) + ONE) & CARRY is non-zero iff some element of the word is
 * non-finite. Words are OR-ed over blocks; only a block that trips is searched
 * element by element. As fast as a plain typed-array loop (BENCHMARKS.md, "scan").
 */
export function firstNonFinite(t: Tensor): number {
  if (t.dtype === 'i32') return -1;
  if (!t.isContiguous()) {
    const v = t.f32();
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return i;
    return -1;
  }
  const d = t.data, n = t.size;
  const eb = t.dtype === 'f32' ? 4 : 2;
  // masks of the word shifted right by one, so every intermediate stays a small int32 for the JIT
  const [EXP, ONE, CARRY] = t.dtype === 'f32' ? [0x3fc00000, 0x00400000, 0x40000000]
    : t.dtype === 'bf16' ? [0x3fc03fc0, 0x00400040, 0x40004000] : [0x3e003e00, 0x02000200, 0x40004000];
  const byteStart = d.byteOffset + t.offset * eb;
  const bytes = new Uint8Array(d.buffer, byteStart, n * eb);
  const slow = (from: number, to: number): number => {  // elements [from, to)
    const v = t.dtype === 'f32' ? new Float32Array(d.buffer, byteStart, n) : null;
    const u = t.dtype === 'f32' ? null : new Uint16Array(d.buffer, byteStart, n);
    const e16 = t.dtype === 'bf16' ? 0x7f80 : 0x7c00;
    for (let i = from; i < to; i++) if (v ? !Number.isFinite(v[i]!) : (u![i]! & e16) === e16) return i;
    return -1;
  };
  // the unaligned head (a view starting mid-word) and the odd tail element, checked directly
  const head = byteStart % 4 ? Math.min(n, (4 - (byteStart % 4)) / eb) : 0;
  if (head) { const r = slow(0, head); if (r >= 0) return r; }
  const words = Math.floor((n * eb - head * eb) / 4);
  const w32 = new Uint32Array(bytes.buffer, byteStart + head * eb, words);
  const per = 4 / eb, BLOCK = 1 << 14;
  for (let b = 0; b < words; b += BLOCK) {
    const end = Math.min(words, b + BLOCK);
    let acc = 0;
    for (let i = b; i < end; i++) acc |= (((w32[i]! >>> 1) & EXP) + ONE) & CARRY;
    if (acc !== 0) return slow(head + b * per, head + end * per);
  }
  return slow(head + words * per, n);
}
