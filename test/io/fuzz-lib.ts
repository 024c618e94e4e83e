// Mutations for fuzzing checkpoint files (used by test/io/fuzz.test.ts and
// bench/fuzz-io.ts): byte sets and bit flips, 32-bit boundary values,
// insertions, deletions and truncations, half of them aimed at the file's
// structural regions (headers, pickle, zip directories).
import fs from 'node:fs';
import fc from 'fast-check';
import { ZipReader } from '../../src/io/zip.js';

export type Mutation = { kind: 'set' | 'flip' | 'insert' | 'delete' | 'truncate' | 'u32'; at: number; inRegion: boolean; value: number; len: number };

export const mutation = fc.record({
  kind: fc.constantFrom('set', 'set', 'flip', 'flip', 'u32', 'u32', 'insert', 'delete', 'truncate'),
  at: fc.nat({ max: 2 ** 30 }),
  inRegion: fc.boolean(),
  value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff, 0x7f, 0x80)),
  len: fc.integer({ min: 1, max: 16 }),
}) as fc.Arbitrary<Mutation>;

/** Apply the edits; positions fall in the structural regions (headers, pickle, directory) half of the time. */
export function mutate(orig: Buffer, ms: Mutation[], regions: [number, number][]): Buffer {
  let b = Buffer.from(orig);
  for (const m of ms) {
    const [lo, hi] = m.inRegion && regions.length ? regions[m.at % regions.length]! : [0, b.length];
    const span = Math.max(1, Math.min(hi, b.length) - lo);
    const p = Math.min(b.length - 1, lo + (Math.floor(m.at / 7) % span));
    if (b.length === 0) break;
    switch (m.kind) {
      case 'set': b[p] = m.value; break;
      case 'flip': b[p] = b[p]! ^ (1 << (m.value & 7)); break;
      case 'u32': if (p + 4 <= b.length) b.writeUInt32LE([0, 0xffffffff, 0x7fffffff, 0x80000000, m.value << 24][m.len % 5]! >>> 0, p); break;
      case 'insert': b = Buffer.concat([b.subarray(0, p), Buffer.alloc(m.len, m.value), b.subarray(p)]); break;
      case 'delete': b = Buffer.concat([b.subarray(0, p), b.subarray(p + m.len)]); break;
      case 'truncate': b = b.subarray(0, p); break;
    }
  }
  return b;
}


/** The structural regions of a safetensors file: length and JSON header. */
export function safetensorsRegions(buf: Buffer): [number, number][] {
  return [[0, 8], [8, 8 + Number(buf.readBigUInt64LE(0))]];
}

/** The structural regions of a torch.save zip: data.pkl (weighted twice), local headers, central directory and end records. */
export function binRegions(file: string): [number, number][] {
  const orig = fs.readFileSync(file);
  const z = new ZipReader(file);
  const regions: [number, number][] = [];
  for (const e of z.entries.values()) {
    regions.push([e.localHeaderOffset, e.localHeaderOffset + 30 + e.name.length + 64]);
    if (e.name.endsWith('data.pkl')) { const s = z.dataStart(e.name); regions.push([s, s + e.size], [s, s + e.size]); }
  }
  z.close();
  const end = orig.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const firstCentral = orig.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  regions.push([firstCentral, orig.length], [end - 120, orig.length]);
  return regions;
}
