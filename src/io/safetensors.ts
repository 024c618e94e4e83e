// safetensors (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets}}, then the raw little-endian tensor bytes. Reading streams
// each tensor straight from the file into its own buffer (never the whole
// file at once), so loading needs about the model's size in memory.
import fs from 'node:fs';
import { Tensor, shapeStr } from '../engine/tensor.js';
import { z } from 'zod';
import { writeSafetensorsStreaming } from './safetensors-stream.js';
import { ELEM_BYTES, decodeTensor, rowBytes, rowRange, type TensorSource } from './tensor-source.js';

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

const dim = z.number().int().nonnegative().safe();
const entrySchema = z.object({
  dtype: z.string(),
  shape: z.array(dim).max(16),
  data_offsets: z.tuple([dim, dim]),
});
const metadataSchema = z.record(z.string());

function zodWhy(e: z.ZodError): string {
  const i = e.issues[0]!;
  return `${i.path.length ? `field '${i.path.join('.')}'` : 'entry'}: ${i.message}`;
}

/** Parse and check a safetensors header: every entry named, shapes and offsets within the file, nothing else allocated. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) throw new Error(`${file}: not a safetensors file (only ${size} bytes)`);
    const lenBuf = Buffer.alloc(8);
    readBytes(fd, 0, 8, lenBuf);
    const n = Number(lenBuf.readBigUInt64LE(0));
    if (n <= 0 || n > 100 * 2 ** 20 || 8 + n > size) throw new Error(`${file}: corrupt safetensors header length ${n} (file is ${size} bytes)`);
    const hb = Buffer.alloc(n);
    readBytes(fd, 8, n, hb);
    let json: unknown;
    try {
      json = JSON.parse(hb.toString('utf8'));
    } catch (e) {
      throw new Error(`${file}: corrupt safetensors header (${(e as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: corrupt safetensors header (not a JSON object)`);
    const entries = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    const dataLen = size - 8 - n;
    for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        const m = metadataSchema.safeParse(v);
        if (!m.success) throw new Error(`${file}: safetensors __metadata__ must map strings to strings (${zodWhy(m.error)})`);
        metadata = m.data;
        continue;
      }
      const r = entrySchema.safeParse(v);
      if (!r.success) throw new Error(`${file}: safetensors header entry '${name}' is malformed (${zodWhy(r.error)})`);
      const e = r.data as SafetensorsEntry;
      const eb = ELEM_BYTES[e.dtype];
      if (eb === undefined) throw new Error(`${file}: tensor '${name}' has unknown dtype '${e.dtype}'`);
      const [s, t] = e.data_offsets;
      if (!(t >= s && t <= dataLen)) throw new Error(`${file}: tensor '${name}' lies outside the file (offsets ${s}..${t}, data is ${dataLen} bytes): truncated or corrupt`);
      // the element count, checked against the bytes step by step so a huge shape never overflows
      let count = 1;
      for (const d of e.shape) {
        count *= d;
        if (count * eb > dataLen) break;
      }
      if ((t - s) !== count * eb) throw new Error(`${file}: tensor '${name}' ${shapeStr(e.shape)} ${e.dtype} needs ${count * eb > dataLen ? 'more bytes than the file holds' : `${count * eb} bytes`}, header gives ${t - s}`);
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

/** The tensors of a safetensors file as lazy sources (header only; each read opens the file and reads that tensor's bytes). */
export function listSafetensors(file: string): TensorSource[] {
  const h = readSafetensorsHeader(file);
  return [...h.entries].map(([name, e]) => {
    const bytes = e.data_offsets[1] - e.data_offsets[0];
    const src: TensorSource = {
      name, file, shape: e.shape, dtype: e.dtype, bytes,
      readBytes(r0?: number, r1?: number, into?: Uint8Array): Uint8Array {
        const [a, b] = rowRange(src, r0, r1);
        const rb = rowBytes(src);
        const n = e.shape.length ? (b - a) * rb : bytes;
        if (into && into.byteLength < n) throw new RangeError(`readBytes: buffer of ${into.byteLength} bytes for ${n}`);
        const out = into ? into.subarray(0, n) : new Uint8Array(new ArrayBuffer(n));
        const fd = fs.openSync(file, 'r');
        try {
          if (fs.fstatSync(fd).size !== h.fileSize) throw new Error('the file changed size since its header was read');
          readBytes(fd, h.dataStart + e.data_offsets[0] + a * rb, n, out);
        } catch (err) {
          throw new Error(`${file}: reading tensor '${name}' failed: ${(err as Error).message} (truncated file?)`);
        } finally {
          fs.closeSync(fd);
        }
        return out;
      },
    };
    return src;
  });
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
  return readEntries(file, names, (name, e, raw) => decodeTensor(`${file}: tensor '${name}'`, e.dtype, e.shape, raw));
}

/** The stored bytes of the named tensors, undecoded (for dtypes our Tensor lacks: I8/U8 quantised codes). */
export function readSafetensorsRaw(file: string, names: Iterable<string>): Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }> {
  return readEntries(file, names, (_name, e, raw) => ({ dtype: e.dtype, shape: e.shape, bytes: raw }));
}

/** Write tensors to a safetensors file (atomically: temp file, then rename). */
export function writeSafetensors(file: string, tensors: Map<string, Tensor> | [string, Tensor][], metadata: Record<string, string> = {}): void {
  writeSafetensorsStreaming(file, [...tensors].map(([name, t]) => ({ name, shape: [...t.shape], dtype: t.dtype, produce: () => t })), metadata);
}
