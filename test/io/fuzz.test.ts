// Mutation fuzzing of the checkpoint parsers (fast-check): random byte
// edits, insertions, deletions and truncations of valid small files —
// a safetensors file and a PyTorch .bin shard (zip + pickle) written by
// torch.save — must give either the tensors or an Error that names the
// file: never another kind of throw, a hang, or memory beyond twice the
// file's size. A short run is part of the suite; for a long run:
//   BAICHUAN2_FUZZ_RUNS=20000 node --test dist/test/io/fuzz.test.js (BAICHUAN2_FUZZ_SEED replays a seed)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { binRegions, mutation, mutate, safetensorsRegions } from './fuzz-lib.js';
import { listSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { listTorchBin } from '../../src/io/torch-bin.js';
import { readTensor, type TensorSource } from '../../src/io/tensor-source.js';
import { Tensor } from '../../src/engine/tensor.js';
import { SHARDED_BIN, noGolden, tmp } from './fixtures.js';
import { SEED } from '../fuzz/mutate.js';

const RUNS = Number(process.env.BAICHUAN2_FUZZ_RUNS ?? 150);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

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
  }), { numRuns: RUNS, seed: SEED });
  fs.rmSync(dir, { recursive: true, force: true });
  return stats;
}

test(`fuzz safetensors: ${RUNS} mutants of a valid file give tensors or a named error`, () => {
  const f = path.join(tmp(), 'seed.safetensors');
  writeSafetensors(f, new Map<string, Tensor>([
    ['a.weight', Tensor.from(Float32Array.from({ length: 12 }, (_, i) => i / 7), [3, 4])],
    ['b.bf16', Tensor.from([1, 2, 3, 4, 5], [5], 'f32').astype('bf16')],
    ['c.f16', Tensor.from([0.5, -1, 2, 4], [2, 2], 'f32').astype('f16')],
    ['d.i32', Tensor.from(Int32Array.from([7, 8, 9]), [3], 'i32')],
  ]), { format: 'pt' });
  const orig = fs.readFileSync(f);
  const s = fuzz('case.safetensors', orig, safetensorsRegions(orig), listSafetensors);
  console.log(`fuzz safetensors: ${s.cases} cases, ${s.ok} parsed, ${s.errors} named errors, 0 crashes`);
  assert.equal(s.cases, RUNS);
});

test(`fuzz PyTorch .bin (zip + pickle): ${RUNS} mutants of a torch.save shard give tensors or a named error`, { skip: noGolden }, () => {
  const src = path.join(SHARDED_BIN, 'pytorch_model-00002-of-00002.bin');
  const orig = fs.readFileSync(src);
  const regions = binRegions(src);
  const s = fuzz('case.bin', orig, regions, listTorchBin);
  console.log(`fuzz .bin: ${s.cases} cases, ${s.ok} parsed, ${s.errors} named errors, 0 crashes`);
  assert.equal(s.cases, RUNS);
});
