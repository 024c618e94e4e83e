// Mutation fuzzing of the checkpoint parsers (fast-check): random byte
// edits, insertions, deletions and truncations of valid small files —
// a safetensors file and a PyTorch .bin shard (zip + pickle) written by
// torch.save — must give either the tensors or an Error that names the
// file: never another kind of throw, a hang, or memory beyond twice the
// file's size. A short run is part of the suite; for a long run:
//   FUZZ_RUNS=20000 node --test dist/test/io/fuzz.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { listSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { listTorchBin } from '../../src/io/torch-bin.js';
import { readTensor, type TensorSource } from '../../src/io/tensor-source.js';
import { ZipReader } from '../../src/io/zip.js';
import { Tensor } from '../../src/engine/tensor.js';
import { SHARDED_BIN, noGolden, tmp } from './fixtures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

type Mutation = { kind: 'set' | 'flip' | 'insert' | 'delete' | 'truncate' | 'u32'; at: number; inRegion: boolean; value: number; len: number };

const mutation = fc.record({
  kind: fc.constantFrom('set', 'set', 'flip', 'flip', 'u32', 'u32', 'insert', 'delete', 'truncate'),
  at: fc.nat({ max: 2 ** 30 }),
  inRegion: fc.boolean(),
  value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff, 0x7f, 0x80)),
  len: fc.integer({ min: 1, max: 16 }),
}) as fc.Arbitrary<Mutation>;

/** Apply the edits; positions fall in the structural regions (headers, pickle, directory) half of the time. */
function mutate(orig: Buffer, ms: Mutation[], regions: [number, number][]): Buffer {
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

interface Stats { cases: number; ok: number; errors: number }

/** Run the parser on each mutant: tensors or an Error naming the file; bounded memory and time. */
function fuzz(name: string, orig: Buffer, regions: [number, number][], parse: (file: string) => TensorSource[]): Stats {
  const dir = tmp('bc2-fuzz-');
  const file = path.join(dir, name);
  const stats: Stats = { cases: 0, ok: 0, errors: 0 };
  fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
    const buf = mutate(orig, ms, regions);
    fs.writeFileSync(file, buf);
    gc();
    const base = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    let peak = 0;
    stats.cases++;
    try {
      for (const s of parse(file)) {
        readTensor(s);
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
      }
      stats.ok++;
    } catch (e) {
      if (!(e instanceof Error)) throw new Error(`a non-Error was thrown: ${String(e)}`);
      if (!e.message.includes(file)) throw new Error(`error does not name the file: ${e.constructor.name}: ${e.message}`);
      stats.errors++;
      if (process.env.FUZZ_VERBOSE) console.log(`${ms.map((m) => m.kind).join(',')}: ${e.message.slice(0, 160)}`);
    }
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
    const ms_ = performance.now() - t0;
    if (peak > 2 * buf.length + 2 ** 20) throw new Error(`allocated ${peak} bytes for a ${buf.length}-byte file`);
    if (ms_ > 2000) throw new Error(`took ${ms_.toFixed(0)} ms`);
  }), { numRuns: RUNS, seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined });
  fs.rmSync(dir, { recursive: true, force: true });
  return stats;
}

test(`fuzz safetensors: ${RUNS} mutants of a valid file give tensors or a named error`, () => {
  const f = path.join(tmp(), 'seed.safetensors');
  writeSafetensors(f, new Map<string, Tensor>([
    ['a.weight', Tensor.from(Float32Array.from({ length: 12 }, (_, i) => i / 7), [3, 4])],
    ['b.bf16', Tensor.from([1, 2, 3, 4, 5], [5], 'f32').to('bf16').detach()],
    ['c.f16', Tensor.from([0.5, -1, 2, 4], [2, 2], 'f32').to('f16').detach()],
    ['d.i32', Tensor.from(Int32Array.from([7, 8, 9]), [3], 'i32')],
  ]), { format: 'pt' });
  const orig = fs.readFileSync(f);
  const hdr = 8 + Number(orig.readBigUInt64LE(0));
  const s = fuzz('case.safetensors', orig, [[0, 8], [8, hdr]], listSafetensors);
  console.log(`fuzz safetensors: ${s.cases} cases, ${s.ok} parsed, ${s.errors} named errors, 0 crashes`);
  assert.equal(s.cases, RUNS);
});

test(`fuzz PyTorch .bin (zip + pickle): ${RUNS} mutants of a torch.save shard give tensors or a named error`, { skip: noGolden }, () => {
  const src = path.join(SHARDED_BIN, 'pytorch_model-00002-of-00002.bin');
  const orig = fs.readFileSync(src);
  // structural regions: data.pkl, every local header, the central directory and end records
  const z = new ZipReader(src);
  const regions: [number, number][] = [];
  for (const e of z.entries.values()) {
    regions.push([e.localHeaderOffset, e.localHeaderOffset + 30 + e.name.length + 64]);
    if (e.name.endsWith('data.pkl')) { const s = z.dataStart(e.name); regions.push([s, s + e.size], [s, s + e.size]); }
  }
  z.close();
  const cd = orig.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const firstCentral = orig.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  regions.push([firstCentral, orig.length], [cd - 120, orig.length]);
  const s = fuzz('case.bin', orig, regions, listTorchBin);
  console.log(`fuzz .bin: ${s.cases} cases, ${s.ok} parsed, ${s.errors} named errors, 0 crashes`);
  assert.equal(s.cases, RUNS);
});
