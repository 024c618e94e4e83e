// Writing a safetensors file whose tensors are produced one at a time, so a
// model larger than memory (a random 13B) never needs to exist at once.
import fs from 'node:fs';
import { withAtomicFile } from '../engine/atomic-write.js';
import { numel } from '../engine/tensor.js';
import type { Tensor } from '../engine/tensor.js';
import type { DType } from '../engine/dtype.js';

export interface StreamEntry {
  name: string;
  shape: number[];
  dtype: DType;
  produce: () => Tensor;
}

const STORE: Record<DType, [string, number]> = { f32: ['F32', 4], bf16: ['BF16', 2], f16: ['F16', 2], i32: ['I32', 4] };

/** An entry given as raw little-endian bytes in a safetensors dtype (e.g. I8 / U8 quantised codes). */
export interface RawStreamEntry {
  name: string;
  shape: number[];
  /** safetensors dtype code: F32, BF16, F16, I8, U8, I32 */
  code: string;
  bytes: number;
  produce: () => Uint8Array;
}

function toRaw(e: StreamEntry): RawStreamEntry {
  const [code, eb] = STORE[e.dtype];
  return {
    name: e.name, shape: e.shape, code, bytes: numel(e.shape) * eb,
    produce: () => {
      const t = e.produce();
      if (t.dtype !== e.dtype || t.size !== numel(e.shape)) throw new Error(`safetensors: tensor '${e.name}' produced ${t.toString()}, declared ${e.dtype} ${JSON.stringify(e.shape)}`);
      const st = t.copyStorage();
      return new Uint8Array(st.buffer, st.byteOffset, st.byteLength);
    },
  };
}

export function writeSafetensorsStreaming(file: string, entries: StreamEntry[], metadata: Record<string, string> = {}): void {
  writeSafetensorsRaw(file, entries.map(toRaw), metadata);
}

/** Write entries produced one at a time as raw bytes (atomically: temp file, then rename). */
export function writeSafetensorsRaw(file: string, entries: RawStreamEntry[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.code, shape: e.shape, data_offsets: [off, off + e.bytes] };
    off += e.bytes;
  }
  let hjson = JSON.stringify(header);
  hjson += ' '.repeat((8 - (hjson.length % 8)) % 8);
  const hb = Buffer.from(hjson, 'utf8');
  withAtomicFile(file, (fd) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hb.length));
    fs.writeSync(fd, len);
    fs.writeSync(fd, hb);
    for (const e of entries) {
      let view = e.produce();
      if (view.byteLength !== e.bytes) throw new Error(`safetensors: tensor '${e.name}' produced ${view.byteLength} bytes, declared ${e.bytes}`);
      while (view.length) {
        const n = fs.writeSync(fd, view);
        view = view.subarray(n);
      }
    }
  });
}
