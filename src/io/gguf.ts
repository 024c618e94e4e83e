// GGUF, the file format of llama.cpp / ggml (version 3, little-endian), read
// and written by our own code: the format is a header of typed key/values and
// tensor descriptions followed by aligned tensor data, about 300 lines to do
// fully, and a package would add a dependency for less than we need (we must
// stream tensors one at a time in both directions and control every byte so
// that export -> load -> export is byte-identical).
// Follows ggml's docs/gguf.md: magic "GGUF", version u32, tensor count u64,
// key/value count u64; strings are u64 length + UTF-8; tensor dims are
// innermost first (ne[0] = columns); data offsets are relative to the data
// section, which starts at the first multiple of general.alignment (32).
// This module knows nothing about Baichuan (see gguf-export.ts, gguf-load.ts).
import fs from 'node:fs';
import { withAtomicFile } from '../engine/atomic-write.js';

export enum GgufType { UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12 }

/** ggml tensor types (ggml.h). Only the first five are read or written here. */
export enum GgmlType { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30 }
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K',
  14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS',
  24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};

/** [elements per block, bytes per block] of the types we handle. */
const BLOCK: Partial<Record<GgmlType, [number, number]>> = {
  [GgmlType.F32]: [1, 4], [GgmlType.F16]: [1, 2], [GgmlType.BF16]: [1, 2], [GgmlType.Q8_0]: [32, 34], [GgmlType.Q4_0]: [32, 18],
};

export function ggmlTypeName(t: number): string {
  return GGML_TYPE_NAMES[t] ?? `type ${t}`;
}

/** Bytes of a tensor of `type` with `n` elements (n a multiple of the block size). */
export function ggmlBytes(type: GgmlType, n: number): number {
  const b = BLOCK[type];
  if (!b) throw new Error(`GGUF: tensor type ${ggmlTypeName(type)} is not supported (we read and write F32, F16, BF16, Q8_0 and Q4_0)`);
  if (n % b[0]) throw new Error(`GGUF: ${n} elements cannot be cut into ${ggmlTypeName(type)} blocks of ${b[0]}`);
  return (n / b[0]) * b[1];
}

export type GgufValue =
  | { type: GgufType.UINT8 | GgufType.INT8 | GgufType.UINT16 | GgufType.INT16 | GgufType.UINT32 | GgufType.INT32 | GgufType.FLOAT32 | GgufType.FLOAT64; value: number }
  | { type: GgufType.UINT64 | GgufType.INT64; value: bigint }
  | { type: GgufType.BOOL; value: boolean }
  | { type: GgufType.STRING; value: string }
  | { type: GgufType.ARRAY; elemType: GgufType; value: ArrayValue };
/** Arrays keep typed storage where one exists (125,696 scores need not be boxed). */
export type ArrayValue = string[] | boolean[] | bigint[] | Float32Array | Float64Array | Int32Array | Uint32Array | Int8Array | Uint8Array | Int16Array | Uint16Array | ArrayValue[];

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the innermost (a [N, K] row-major matrix has dims [K, N]). */
  dims: number[];
  type: number;
  /** Offset inside the data section. */
  offset: number;
  /** Byte size (when the type is one we know). */
  bytes: number;
}

export interface GgufFile {
  file: string;
  version: number;
  kv: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset of the data section. */
  dataOffset: number;
}

// ---------------------------------------------------------------- reading

/** Whether `p` is a file that starts with the GGUF magic (a folder or anything else is not). */
export function isGgufFile(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile()) return false;
    const fd = fs.openSync(p, 'r');
    try {
      const b = Buffer.alloc(4);
      return fs.readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === 'GGUF';
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** A forward reader over a file descriptor that pulls 1 MiB chunks as needed (headers can be megabytes). */
class Cursor {
  private buf = Buffer.alloc(0);
  private start = 0;  // file offset of buf[0]
  pos = 0;            // absolute file offset
  constructor(private readonly fd: number, private readonly size: number, private readonly file: string) {}
  private need(n: number): number {
    if (this.pos + n > this.size) throw new Error(`${this.file}: GGUF header is truncated (needs ${n} bytes at offset ${this.pos}, the file has ${this.size})`);
    const rel = this.pos - this.start;
    if (rel + n <= this.buf.length) return rel;
    const len = Math.max(n, 1 << 20);
    this.buf = Buffer.alloc(Math.min(len, this.size - this.pos));
    fs.readSync(this.fd, this.buf, 0, this.buf.length, this.pos);
    this.start = this.pos;
    return 0;
  }
  u8(): number { const r = this.need(1); this.pos += 1; return this.buf[r]!; }
  u32(): number { const r = this.need(4); this.pos += 4; return this.buf.readUInt32LE(r); }
  u64(): bigint { const r = this.need(8); this.pos += 8; return this.buf.readBigUInt64LE(r); }
  count(what: string, max: number): number {
    const v = this.u64();
    if (v > BigInt(max)) throw new Error(`${this.file}: GGUF ${what} ${v} is implausible (corrupt file?)`);
    return Number(v);
  }
  bytes(n: number): Buffer {
    const r = this.need(n);
    this.pos += n;
    return this.buf.subarray(r, r + n);
  }
  string(): string {
    const n = this.count('string length', this.size);
    return this.bytes(n).toString('utf8');
  }
  scalar(t: GgufType): number | bigint | boolean | string {
    switch (t) {
      case GgufType.UINT8: return this.u8();
      case GgufType.INT8: return (this.u8() << 24) >> 24;
      case GgufType.UINT16: { const r = this.need(2); this.pos += 2; return this.buf.readUInt16LE(r); }
      case GgufType.INT16: { const r = this.need(2); this.pos += 2; return this.buf.readInt16LE(r); }
      case GgufType.UINT32: return this.u32();
      case GgufType.INT32: { const r = this.need(4); this.pos += 4; return this.buf.readInt32LE(r); }
      case GgufType.FLOAT32: { const r = this.need(4); this.pos += 4; return this.buf.readFloatLE(r); }
      case GgufType.FLOAT64: { const r = this.need(8); this.pos += 8; return this.buf.readDoubleLE(r); }
      case GgufType.UINT64: return this.u64();
      case GgufType.INT64: { const r = this.need(8); this.pos += 8; return this.buf.readBigInt64LE(r); }
      case GgufType.BOOL: return this.u8() !== 0;
      case GgufType.STRING: return this.string();
      default: throw new Error(`${this.file}: unknown GGUF value type ${t} at offset ${this.pos}`);
    }
  }
  array(elem: GgufType, n: number): ArrayValue {
    const typed: Partial<Record<GgufType, new (n: number) => Float32Array | Float64Array | Int32Array | Uint32Array | Int8Array | Uint8Array | Int16Array | Uint16Array>> = {
      [GgufType.FLOAT32]: Float32Array, [GgufType.FLOAT64]: Float64Array, [GgufType.INT32]: Int32Array, [GgufType.UINT32]: Uint32Array,
      [GgufType.INT8]: Int8Array, [GgufType.UINT8]: Uint8Array, [GgufType.INT16]: Int16Array, [GgufType.UINT16]: Uint16Array,
    };
    const C = typed[elem];
    if (C) {
      const out = new C(n);
      for (let i = 0; i < n; i++) out[i] = this.scalar(elem) as number;
      return out;
    }
    if (elem === GgufType.ARRAY) {
      const out: ArrayValue[] = [];
      for (let i = 0; i < n; i++) { const t = this.u32() as GgufType; out.push(this.array(t, this.count('array length', this.size))); }
      return out;
    }
    const out: (string | boolean | bigint)[] = [];
    for (let i = 0; i < n; i++) out.push(this.scalar(elem) as string | boolean | bigint);
    return out as ArrayValue;
  }
}

export function readGgufHeader(file: string): GgufFile {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const c = new Cursor(fd, size, file);
    if (size < 24 || c.bytes(4).toString('latin1') !== 'GGUF') throw new Error(`${file}: not a GGUF file (no 'GGUF' magic)`);
    const version = c.u32();
    if (version !== 2 && version !== 3) throw new Error(`${file}: GGUF version ${version} is not supported (2 or 3)`);
    const nTensors = c.count('tensor count', 1e7), nKv = c.count('key/value count', 1e7);
    const kv = new Map<string, GgufValue>();
    for (let i = 0; i < nKv; i++) {
      const key = c.string();
      const type = c.u32() as GgufType;
      if (type === GgufType.ARRAY) {
        const elemType = c.u32() as GgufType;
        kv.set(key, { type, elemType, value: c.array(elemType, c.count(`array length of '${key}'`, size)) });
      } else {
        kv.set(key, { type, value: c.scalar(type) } as GgufValue);
      }
    }
    const al = kv.get('general.alignment');
    const alignment = al && al.type === GgufType.UINT32 ? al.value : 32;
    if (!(alignment > 0 && (alignment & (alignment - 1)) === 0)) throw new Error(`${file}: general.alignment ${alignment} is not a power of two`);
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = c.string();
      const nd = c.u32();
      if (nd < 1 || nd > 4) throw new Error(`${file}: tensor '${name}' has ${nd} dimensions`);
      const dims = Array.from({ length: nd }, () => c.count(`dimension of '${name}'`, 2 ** 40));
      const type = c.u32();
      const offset = Number(c.u64());
      const n = dims.reduce((a, b) => a * b, 1);
      tensors.push({ name, dims, type, offset, bytes: BLOCK[type as GgmlType] ? ggmlBytes(type, n) : -1 });
    }
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    for (const t of tensors)
      if (t.bytes >= 0 && dataOffset + t.offset + t.bytes > size) throw new Error(`${file}: tensor '${t.name}' runs past the end of the file (truncated download?)`);
    return { file, version, kv, tensors, alignment, dataOffset };
  } finally {
    fs.closeSync(fd);
  }
}

/** The raw bytes of one tensor (read on demand; nothing else is kept in memory). */
export function readGgufTensorBytes(g: GgufFile, t: GgufTensorInfo): Uint8Array {
  if (t.bytes < 0) throw new Error(`${g.file}: tensor '${t.name}' has type ${ggmlTypeName(t.type)}, which we do not read (F32, F16, BF16, Q8_0, Q4_0 only)`);
  const out = new Uint8Array(t.bytes);
  const fd = fs.openSync(g.file, 'r');
  try {
    let done = 0;
    while (done < out.length) {
      const n = fs.readSync(fd, out, done, out.length - done, g.dataOffset + t.offset + done);
      if (n <= 0) throw new Error(`${g.file}: tensor '${t.name}' is truncated`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** Typed look-ups with errors that name the key. */
export function kvNumber(g: GgufFile, key: string, dflt?: number): number {
  const v = g.kv.get(key);
  if (!v) {
    if (dflt !== undefined) return dflt;
    throw new Error(`${g.file}: GGUF key '${key}' is missing`);
  }
  if (v.type === GgufType.UINT64 || v.type === GgufType.INT64) return Number(v.value);
  if (typeof v.value !== 'number') throw new Error(`${g.file}: GGUF key '${key}' is not a number`);
  return v.value;
}

export function kvString(g: GgufFile, key: string): string | undefined {
  const v = g.kv.get(key);
  if (v && v.type !== GgufType.STRING) throw new Error(`${g.file}: GGUF key '${key}' is not a string`);
  return v?.value as string | undefined;
}

export function kvBool(g: GgufFile, key: string): boolean | undefined {
  const v = g.kv.get(key);
  if (v && v.type !== GgufType.BOOL) throw new Error(`${g.file}: GGUF key '${key}' is not a bool`);
  return v?.value as boolean | undefined;
}

// ---------------------------------------------------------------- writing

export interface GgufTensorEntry {
  name: string;
  dims: number[];  // ggml order (innermost first)
  type: GgmlType;
  /** Produces exactly ggmlBytes(type, numel) bytes; called once, in order, while writing. */
  produce: () => Uint8Array;
}

class ByteSink {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void { this.chunks.push(b); this.length += b.length; }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  u64(v: number | bigint): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  string(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  scalar(t: GgufType, v: unknown): void {
    const b = (n: number) => Buffer.alloc(n);
    switch (t) {
      case GgufType.UINT8: { const x = b(1); x.writeUInt8(v as number); this.push(x); return; }
      case GgufType.INT8: { const x = b(1); x.writeInt8(v as number); this.push(x); return; }
      case GgufType.UINT16: { const x = b(2); x.writeUInt16LE(v as number); this.push(x); return; }
      case GgufType.INT16: { const x = b(2); x.writeInt16LE(v as number); this.push(x); return; }
      case GgufType.UINT32: this.u32(v as number); return;
      case GgufType.INT32: { const x = b(4); x.writeInt32LE(v as number); this.push(x); return; }
      case GgufType.FLOAT32: { const x = b(4); x.writeFloatLE(v as number); this.push(x); return; }
      case GgufType.FLOAT64: { const x = b(8); x.writeDoubleLE(v as number); this.push(x); return; }
      case GgufType.UINT64: this.u64(v as bigint); return;
      case GgufType.INT64: { const x = b(8); x.writeBigInt64LE(v as bigint); this.push(x); return; }
      case GgufType.BOOL: this.push(Buffer.from([v ? 1 : 0])); return;
      case GgufType.STRING: this.string(v as string); return;
      default: throw new Error(`GGUF writer: unknown value type ${t}`);
    }
  }
  array(elem: GgufType, a: ArrayValue): void {
    this.u32(elem);
    this.u64(a.length);
    if (elem === GgufType.FLOAT32 && a instanceof Float32Array) { this.push(Buffer.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice())); return; }
    if (elem === GgufType.INT32 && a instanceof Int32Array) { this.push(Buffer.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice())); return; }
    if (elem === GgufType.ARRAY) throw new Error('GGUF writer: nested arrays are not written');
    const arr = a as ArrayLike<unknown>;
    for (let i = 0; i < arr.length; i++) this.scalar(elem, arr[i]);
  }
  concat(): Buffer { return Buffer.concat(this.chunks); }
}

/**
 * Write a GGUF v3 file: key/values in the given order, then tensors, each
 * produced one at a time (a 13B model never has to be in memory at once).
 * Atomic: written to a temporary name, then renamed.
 */
export function writeGguf(file: string, kv: [string, GgufValue][], tensors: GgufTensorEntry[], alignment = 32): void {
  const h = new ByteSink();
  h.push(Buffer.from('GGUF', 'latin1'));
  h.u32(3);
  h.u64(tensors.length);
  h.u64(kv.length);
  for (const [key, v] of kv) {
    h.string(key);
    h.u32(v.type);
    if (v.type === GgufType.ARRAY) h.array(v.elemType, v.value);
    else h.scalar(v.type, v.value);
  }
  const pad = (n: number) => (Math.ceil(n / alignment) * alignment) - n;
  let off = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    const bytes = ggmlBytes(t.type, t.dims.reduce((a, b) => a * b, 1));
    sizes.push(bytes);
    h.string(t.name);
    h.u32(t.dims.length);
    for (const d of t.dims) h.u64(d);
    h.u32(t.type);
    h.u64(off);
    off += bytes + pad(bytes);
  }
  h.push(Buffer.alloc(pad(h.length)));
  withAtomicFile(file, (fd) => {
    writeAll(fd, h.concat());
    tensors.forEach((t, i) => {
      const data = t.produce();
      if (data.byteLength !== sizes[i]) throw new Error(`GGUF writer: tensor '${t.name}' produced ${data.byteLength} bytes, declared ${sizes[i]}`);
      writeAll(fd, data);
      if (pad(data.byteLength)) writeAll(fd, new Uint8Array(pad(data.byteLength)));
    });
  });
}

function writeAll(fd: number, data: Uint8Array): void {
  let view = data;
  while (view.length) view = view.subarray(fs.writeSync(fd, view));
}

/** Value constructors, for readable metadata lists. */
export const gv = {
  u32: (value: number): GgufValue => ({ type: GgufType.UINT32, value }),
  i32: (value: number): GgufValue => ({ type: GgufType.INT32, value }),
  f32: (value: number): GgufValue => ({ type: GgufType.FLOAT32, value }),
  bool: (value: boolean): GgufValue => ({ type: GgufType.BOOL, value }),
  str: (value: string): GgufValue => ({ type: GgufType.STRING, value }),
  strings: (value: string[]): GgufValue => ({ type: GgufType.ARRAY, elemType: GgufType.STRING, value }),
  f32s: (value: Float32Array): GgufValue => ({ type: GgufType.ARRAY, elemType: GgufType.FLOAT32, value }),
  i32s: (value: Int32Array): GgufValue => ({ type: GgufType.ARRAY, elemType: GgufType.INT32, value }),
};
