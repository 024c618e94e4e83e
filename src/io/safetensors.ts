// safetensors (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets}}, then the raw little-endian tensor bytes. Reading streams
// each tensor straight from the file into its own buffer (never the whole
// file at once), so loading needs about the model's size in memory.
import fs from 'node:fs';
import { Tensor, numel, shapeStr } from '../engine/tensor.js';
import { writeSafetensorsStreaming } from './safetensors-stream.js';

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  dataStart: number;
  fileSize: number;
}

const ELEM_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) throw new Error(`${file}: not a safetensors file (only ${size} bytes)`);
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const n = Number(lenBuf.readBigUInt64LE(0));
    if (n <= 0 || n > 100 * 2 ** 20 || 8 + n > size) throw new Error(`${file}: corrupt safetensors header length ${n} (file is ${size} bytes)`);
    const hb = Buffer.alloc(n);
    fs.readSync(fd, hb, 0, n, 8);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(hb.toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${file}: corrupt safetensors header (${(e as Error).message})`);
    }
    const entries = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    const dataLen = size - 8 - n;
    for (const [name, v] of Object.entries(json)) {
      if (name === '__metadata__') { metadata = v as Record<string, string>; continue; }
      const e = v as SafetensorsEntry;
      const eb = ELEM_BYTES[e.dtype];
      if (eb === undefined) throw new Error(`${file}: tensor '${name}' has unknown dtype '${e.dtype}'`);
      const [s, t] = e.data_offsets;
      if (!(s >= 0 && t >= s && t <= dataLen)) throw new Error(`${file}: tensor '${name}' lies outside the file (offsets ${s}..${t}, data is ${dataLen} bytes): truncated or corrupt`);
      if ((t - s) !== numel(e.shape) * eb) throw new Error(`${file}: tensor '${name}' ${shapeStr(e.shape)} ${e.dtype} needs ${numel(e.shape) * eb} bytes, header gives ${t - s}`);
      entries.set(name, e);
    }
    return { entries, metadata, dataStart: 8 + n, fileSize: size };
  } finally {
    fs.closeSync(fd);
  }
}

function readBytes(fd: number, pos: number, bytes: number, into: Uint8Array): void {
  let done = 0;
  while (done < bytes) {
    const chunk = Math.min(bytes - done, 1 << 30);
    const r = fs.readSync(fd, into, done, chunk, pos + done);
    if (r <= 0) throw new Error('unexpected end of file');
    done += r;
  }
}

/** Decode one stored tensor into our dtypes (f32, bf16, f16 kept; f64 -> f32; integers -> i32 with range check). */
function decode(name: string, e: SafetensorsEntry, raw: Uint8Array): Tensor {
  const n = numel(e.shape);
  const buf = raw.buffer;
  switch (e.dtype) {
    case 'F32': return Tensor.fromStorage(new Float32Array(buf, raw.byteOffset, n), e.shape, 'f32');
    case 'BF16': return Tensor.fromStorage(new Uint16Array(buf, raw.byteOffset, n), e.shape, 'bf16');
    case 'F16': return Tensor.fromStorage(new Uint16Array(buf, raw.byteOffset, n), e.shape, 'f16');
    case 'I32': return Tensor.fromStorage(new Int32Array(buf, raw.byteOffset, n), e.shape, 'i32');
    case 'F64': return Tensor.from(Float32Array.from(new Float64Array(buf, raw.byteOffset, n)), e.shape, 'f32');
    default: {
      const out = new Int32Array(n);
      const dv = new DataView(buf, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < n; i++) {
        let v: number;
        if (e.dtype === 'I64') v = Number(dv.getBigInt64(i * 8, true));
        else if (e.dtype === 'I16') v = dv.getInt16(i * 2, true);
        else if (e.dtype === 'I8') v = dv.getInt8(i);
        else v = dv.getUint8(i);
        if (v > 2147483647 || v < -2147483648) throw new Error(`tensor '${name}': value ${v} does not fit i32`);
        out[i] = v;
      }
      return Tensor.fromStorage(out, e.shape, 'i32');
    }
  }
}

/** Each named tensor's stored bytes, in an aligned, exactly-sized buffer of its own (the GC frees it with the tensor). */
function readEntries<T>(file: string, names: Iterable<string> | undefined, use: (name: string, e: SafetensorsEntry, raw: Uint8Array) => T): Map<string, T> {
  const h = readSafetensorsHeader(file);
  const want = names ? [...names] : [...h.entries.keys()];
  const out = new Map<string, T>();
  const fd = fs.openSync(file, 'r');
  try {
    for (const name of want) {
      const e = h.entries.get(name);
      if (!e) throw new Error(`${file}: no tensor named '${name}'`);
      const [s, t] = e.data_offsets;
      const raw = new Uint8Array(new ArrayBuffer(Math.max(t - s, 0)));
      try {
        readBytes(fd, h.dataStart + s, t - s, raw);
      } catch (err) {
        throw new Error(`${file}: reading tensor '${name}' failed: ${(err as Error).message} (truncated file?)`);
      }
      out.set(name, use(name, e, raw));
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** Read the named tensors (all when `names` is omitted) from a safetensors file. */
export function readSafetensors(file: string, names?: Iterable<string>): Map<string, Tensor> {
  return readEntries(file, names, (name, e, raw) => decode(name, e, raw));
}

/** The stored bytes of the named tensors, undecoded (for dtypes our Tensor lacks: I8/U8 quantised codes). */
export function readSafetensorsRaw(file: string, names: Iterable<string>): Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }> {
  return readEntries(file, names, (_name, e, raw) => ({ dtype: e.dtype, shape: e.shape, bytes: raw }));
}

/** Write tensors to a safetensors file (atomically: temp file, then rename). */
export function writeSafetensors(file: string, tensors: Map<string, Tensor> | [string, Tensor][], metadata: Record<string, string> = {}): void {
  writeSafetensorsStreaming(file, [...tensors].map(([name, t]) => ({ name, shape: [...t.shape], dtype: t.dtype, produce: () => t })), metadata);
}
