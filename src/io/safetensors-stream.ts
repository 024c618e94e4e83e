// Writing a safetensors file whose tensors are produced one at a time, so a
// model larger than memory (a random 13B) never needs to exist at once.
import fs from 'node:fs';
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

export function writeSafetensorsStreaming(file: string, entries: StreamEntry[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const e of entries) {
    const [code, eb] = STORE[e.dtype];
    const bytes = numel(e.shape) * eb;
    header[e.name] = { dtype: code, shape: e.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let hjson = JSON.stringify(header);
  hjson += ' '.repeat((8 - (hjson.length % 8)) % 8);
  const hb = Buffer.from(hjson, 'utf8');
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hb.length));
    fs.writeSync(fd, len);
    fs.writeSync(fd, hb);
    for (const e of entries) {
      const t = e.produce();
      if (t.dtype !== e.dtype || t.size !== numel(e.shape)) throw new Error(`safetensors: tensor '${e.name}' produced ${t.toString()}, declared ${e.dtype} ${JSON.stringify(e.shape)}`);
      const s = t.copyStorage();
      let view = new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
      while (view.length) {
        const n = fs.writeSync(fd, view);
        view = view.subarray(n);
      }
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
