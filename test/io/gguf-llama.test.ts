// llama.cpp as the oracle for our GGUF export (node-llama-cpp 3.21.1, whose
// prebuilt linux-x64 binary is installed on demand into a cache folder, not a
// dependency of the package; .ci/run installs it; the tests skip with the
// reason when it cannot be installed). llama.cpp runs in a child process
// (llama-worker.ts) with an F32 K/V cache and no flash attention.
//
// f32: llama.cpp's next-token log-probs at all 8 positions equal ours within
// 1e-4 (both compute in f32; what remains is summation order).
//
// q8_0 / q4_0: both sides use exactly the same weight codes and scales (the
// file's), and both quantise the activations of every quantised matmul to 8
// bits per 32-element block before an integer dot product (ours: the decode
// kernel, which handles up to 8 rows, hence 8 positions). They differ only in
// how that activation rounding falls (llama.cpp stores the activation scale in
// f16, we keep f32), so, with X the log-probs of the same dequantised weights
// with unquantised activations and δ = max |ours - X| (measured):
//   |llama - ours| <= |llama - X| + |X - ours| <= 2δ + δ = 3δ (+ 1e-4 for f32 order),
// allowing llama.cpp's own rounding twice our measured worst case. A negative
// control shows the bound has teeth: the same q4_0 file with the two nibbles of
// every byte swapped (the wrong element order) misses it by far.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Tensor } from '../../src/engine/tensor.js';
import { backend } from '../../src/engine/backend.js';
import { noGrad } from '../../src/engine/autograd.js';
import { loadModel } from '../../src/io/hf-folder.js';
import { exportGguf, openSource } from '../../src/io/gguf-export.js';
import { modelKv } from '../../src/io/gguf-baichuan.js';
import { vocabKv } from '../../src/io/gguf-tokenizer.js';
import { GgmlType, readGgufHeader, writeGguf } from '../../src/io/gguf.js';
import { readModelFile } from '../../src/tokenizer/sentencepiece-model.js';
import { configFromJSON, PRESETS } from '../../src/model/config.js';
import { Linear } from '../../src/model/layers.js';
import type { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { ensureNodeLlamaCpp, llamaCacheDir } from '../../bench/llama-cpp.js';
import { DATA, HAVE_DATA, PROMPT, V, logSoftmaxRows, makeFolder, tmpDir } from './gguf-fixture.js';

/** The cache folder with node-llama-cpp installed (by the benchmark's installer, the one owner), or the reason it is not. */
function ensureLlama(): string | { reason: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { reason: `node-llama-cpp's prebuilt binary used here is linux-x64 only (this is ${process.platform}-${process.arch})` };
  try {
    ensureNodeLlamaCpp(() => {});
    return llamaCacheDir();
  } catch (e) {
    return { reason: `could not install node-llama-cpp: ${(e as Error).message}` };
  }
}

const llama = HAVE_DATA ? ensureLlama() : { reason: 'needs ../shared/data (tokenizers)' };
const skip = typeof llama === 'string' ? false : llama.reason;

interface WorkerOut { logprobs: (number | null)[][][]; ids: number[][] }

function runLlama(models: { file: string; prompt: number[] }[], tokenize?: { file: string; texts: string[] }): WorkerOut {
  const dir = tmpDir('llama');
  const job = path.join(dir, 'job.json');
  fs.writeFileSync(job, JSON.stringify({ cache: llama, models, tokenize }));
  const worker = path.join(path.dirname(new URL(import.meta.url).pathname), 'llama-worker.js');
  const r = spawnSync(process.execPath, [worker, '--job', job], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, `llama.cpp worker failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as WorkerOut;
}

function ourLogprobs(m: BaichuanForCausalLM): Float64Array[] {
  return logSoftmaxRows(noGrad(() => m.forward(Tensor.from(PROMPT, [1, PROMPT.length], 'i32')).logits.f32()), PROMPT.length, V);
}

/** The same model with every quantised weight dequantised to f32 (activations then stay f32). */
function dequantized(m: BaichuanForCausalLM): BaichuanForCausalLM {
  for (const [name] of m.namedParameters()) {
    const mod = name === 'lm_head.weight' ? m.lm_head : name.endsWith('.weight') ? m.getModule(name.replace(/\.weight$/, '')) : null;
    if ((mod instanceof Linear || mod === m.lm_head) && (mod as Linear).quantized) {
      const q = mod as Linear;
      m.setParameter(name, q.quantized!.dequantize());
      q.quantized = null;
      if (mod === m.lm_head) m.lm_head.markRowsNormalized();
    }
  }
  return m;
}

function maxDiff(a: Float64Array[], b: (number | null)[][]): number {
  let d = 0;
  a.forEach((row, t) => row.forEach((x, i) => {
    const y = b[t]![i];
    // tokens llama.cpp leaves out of its map, or whose probability underflows, are compared only when ours are not negligible
    if (y === null || y === undefined || !Number.isFinite(y)) { if (x > -30) d = Infinity; return; }
    d = Math.max(d, Math.abs(x - y));
  }));
  return d;
}

function diff(a: Float64Array[], b: Float64Array[]): number {
  let d = 0;
  a.forEach((row, t) => row.forEach((x, i) => { d = Math.max(d, Math.abs(x - b[t]![i]!)); }));
  return d;
}

/** A copy of a GGUF file whose Q4_0 blocks have the two nibbles of every byte swapped. */
function swapNibbles(file: string): string {
  const g = readGgufHeader(file);
  const buf = fs.readFileSync(file);
  for (const t of g.tensors) {
    if (t.type !== GgmlType.Q4_0) continue;
    for (let b = g.dataOffset + t.offset; b < g.dataOffset + t.offset + t.bytes; b += 18)
      for (let i = b + 2; i < b + 18; i++) buf[i] = ((buf[i]! & 0xf) << 4) | (buf[i]! >> 4);
  }
  const out = file.replace(/\.gguf$/, '-swapped.gguf');
  fs.writeFileSync(out, buf);
  return out;
}

let files: Record<string, string> | null = null;
function exported(): Record<string, string> {
  if (files) return files;
  const t0 = performance.now();
  const dir = tmpDir('llama-models');
  const threads = backend().threads();
  backend().setThreads(1);  // tiny tensors: one thread avoids OpenMP start-up costs on a busy machine (results do not depend on it)
  const out: Record<string, string> = {};
  for (const [name, position, layers] of [['rope32', 'rope', 32], ['alibi40', 'alibi', 40], ['rope40', 'rope', 40]] as const) {
    const src = makeFolder(path.join(dir, name), { position, layers, seed: layers });
    for (const type of name === 'rope40' ? ['f32'] as const : ['f32', 'q8_0', 'q4_0'] as const) {
      const f = path.join(dir, `${name}-${type}.gguf`);
      exportGguf(openSource(src), f, { type });
      out[`${name}-${type}`] = f;
      if (type === 'q4_0') out[`${name}-q4_0-swapped`] = swapNibbles(f);
    }
  }
  backend().setThreads(threads);
  console.log(`exports ${(performance.now() - t0).toFixed(0)} ms`);
  return (files = out);
}

let results: Map<string, (number | null)[][]> | null = null;
function llamaResults(): Map<string, (number | null)[][]> {
  if (results) return results;
  const f = exported();
  const names = Object.keys(f);
  const t0 = performance.now();
  const r = runLlama(names.map((n) => ({ file: f[n]!, prompt: PROMPT })));
  console.log(`llama.cpp ${(performance.now() - t0).toFixed(0)} ms`);
  return (results = new Map(names.map((n, i) => [n, r.logprobs[i]!])));
}

for (const name of ['rope32', 'alibi40']) {
  test(`llama.cpp agrees with us on a tiny ${name === 'rope32' ? '32-layer RoPE' : '40-layer ALiBi'} model: f32 within 1e-4`, { skip }, () => {
    const f = exported()[`${name}-f32`]!;
    const d = maxDiff(ourLogprobs(loadModel(f)), llamaResults().get(`${name}-f32`)!);
    console.log(`${name} f32: llama.cpp vs ours ${d.toExponential(3)}`);
    assert.ok(d < 1e-4, `f32: max |log p diff| ${d}`);
  });

  test(`llama.cpp agrees with us on the ${name} model at q8_0 and q4_0 within 3x our activation-rounding effect`, { skip }, () => {
    const base = ourLogprobs(loadModel(exported()[`${name}-f32`]!));
    for (const type of ['q8_0', 'q4_0']) {
      const f = exported()[`${name}-${type}`]!;
      const ours = ourLogprobs(loadModel(f));
      const exact = ourLogprobs(dequantized(loadModel(f)));
      const delta = diff(ours, exact);
      const bound = 3 * delta + 1e-4;
      const weightEffect = diff(exact, base);
      const d = maxDiff(ours, llamaResults().get(`${name}-${type}`)!);
      console.log(`${name} ${type}: llama.cpp vs ours ${d.toExponential(3)}, activation rounding δ ${delta.toExponential(3)}, weight quantisation ${weightEffect.toExponential(3)}`);
      assert.ok(d <= bound, `${type}: llama.cpp vs ours ${d.toExponential(3)} > bound ${bound.toExponential(3)} (activation rounding δ = ${delta.toExponential(3)})`);
      if (type === 'q4_0') {
        const swapped = maxDiff(ours, llamaResults().get(`${name}-q4_0-swapped`)!);
        assert.ok(swapped > 3 * bound, `q4_0 with swapped nibbles: ${swapped.toExponential(3)} should be far outside the bound ${bound.toExponential(3)}`);
      }
    }
  });
}

test('negative control: a 40-layer RoPE model runs as ALiBi in llama.cpp (the export warning is real)', { skip }, () => {
  const f = exported()['rope40-f32']!;
  const d = maxDiff(ourLogprobs(loadModel(f)), llamaResults().get('rope40-f32')!);
  console.log(`rope40 run as ALiBi by llama.cpp: ${d.toExponential(3)}`);
  assert.ok(d > 1e-2, `llama.cpp unexpectedly agrees (${d}) on a RoPE model it should run with ALiBi`);
});

test('llama.cpp\'s tokenizer reading our exported vocabulary gives the golden Baichuan 2 ids', { skip }, () => {
  const dir = tmpDir('llama-tok');
  const f = path.join(dir, 'baichuan2-vocab.gguf');
  const sp = readModelFile(path.join(DATA, 'tokenizers/baichuan2/tokenizer.model'));
  writeGguf(f, [...modelKv(configFromJSON(PRESETS['7b']!), 'baichuan2-vocab', 'f16'), ...vocabKv(sp, { bos: 1, eos: 2, pad: 0 })], []);
  const docs = fs.readFileSync(path.join(DATA, 'tokenizer-golden/docs.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; text: string });
  const gold = fs.readFileSync(path.join(DATA, 'tokenizer-golden/baichuan2.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ids: number[] });
  const r = runLlama([], { file: f, texts: docs.map((d) => d.text) });
  const bad = docs.filter((_, i) => JSON.stringify(r.ids[i]) !== JSON.stringify(gold[i]!.ids));
  assert.deepEqual(bad.map((d) => d.id), [], `${bad.length} of ${docs.length} documents tokenise differently in llama.cpp`);
});
