// The long fuzz run of the checkpoint parsers (the suite runs a short one,
// test/io/fuzz.test.ts): N mutants each of a safetensors file and of a
// torch.save .bin shard through the whole-file readers. Counts parsed files,
// named errors (an Error naming the file) and crashes (anything else: another
// kind of throw, an error that does not name the file, a case over 2 s);
// prints the first crashes.
//   node dist/bench/fuzz-io.js --runs 20000 [--readers DIR]   (DIR: another build's src/io, to compare)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { binRegions, mutation, mutate, safetensorsRegions } from '../test/io/fuzz-lib.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { Tensor } from '../src/engine/tensor.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function main(argv: string[]): Promise<void> {
  const arg = (k: string, d: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1]! : d);
  const runs = Number(arg('--runs', '20000'));
  const readers = path.resolve(arg('--readers', path.join(ROOT, 'dist/src/io')));
  const st = await import(pathToFileURL(path.join(readers, 'safetensors.js')).href) as { readSafetensors: (f: string) => unknown };
  const tb = await import(pathToFileURL(path.join(readers, 'torch-bin.js')).href) as { readTorchBin: (f: string) => unknown };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-fuzz-io-'));
  const seedSt = path.join(dir, 'seed.safetensors');
  writeSafetensors(seedSt, new Map<string, Tensor>([
    ['a.weight', Tensor.from(Float32Array.from({ length: 12 }, (_, i) => i / 7), [3, 4])],
    ['b.bf16', Tensor.from([1, 2, 3, 4, 5], [5], 'f32').astype('bf16')],
    ['c.f16', Tensor.from([0.5, -1, 2, 4], [2, 2], 'f32').astype('f16')],
    ['d.i32', Tensor.from(Int32Array.from([7, 8, 9]), [3], 'i32')],
  ]), { format: 'pt' });
  const seedBin = path.resolve(ROOT, '../shared/data/golden/tiny-alibi-bf16-sharded-bin/pytorch_model-00002-of-00002.bin');
  const targets: [string, Buffer, [number, number][], (f: string) => unknown][] = [
    ['case.safetensors', fs.readFileSync(seedSt), safetensorsRegions(fs.readFileSync(seedSt)), st.readSafetensors],
    ['case.bin', fs.readFileSync(seedBin), binRegions(seedBin), tb.readTorchBin],
  ];
  for (const [name, orig, regions, read] of targets) {
    const file = path.join(dir, name);
    const c = { cases: 0, parsed: 0, named: 0, crashes: 0 };
    const examples = new Map<string, number>();
    const t0 = performance.now();
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
      fs.writeFileSync(file, mutate(orig, ms, regions));
      c.cases++;
      const s0 = performance.now();
      let why: string | null = null;
      try {
        read(file);
        c.parsed++;
      } catch (e) {
        if (e instanceof Error && e.message.includes(file)) c.named++;
        else why = e instanceof Error ? `${e.constructor.name}: ${e.message.replace(file, 'FILE').slice(0, 120)}` : `non-Error ${String(e)}`;
      }
      if (!why && performance.now() - s0 > 2000) why = 'over 2 s';
      if (why) { c.crashes++; const k = why.replace(/\d+/g, 'N'); examples.set(k, (examples.get(k) ?? 0) + 1); }
    }), { numRuns: runs });
    console.log(`${name} (${path.relative(ROOT, readers) || readers}): ${c.cases} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${c.parsed} parsed, ${c.named} named errors, ${c.crashes} crashes`);
    for (const [k, n] of [...examples].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${n} x ${k}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

main(process.argv.slice(2)).catch((e) => { console.error(e); process.exit(1); });
