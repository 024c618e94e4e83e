// The pipeline end to end on corpora made here: exact dedup on planted
// duplicates, near dedup against brute-force Jaccard (precision and recall),
// sentence/paragraph dedup, the quality filter, mixing weights, malformed
// input, Parquet output, config errors, and resume after a killed run.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import { parsePipelineConfig } from '../../src/data/pipeline/config.js';
import { runPipeline } from '../../src/data/pipeline/run.js';
import { readShard, listShards, type Doc } from '../../src/data/pipeline/doc-io.js';
import { Components, jaccard, shingleSet, candidateProbability } from '../../src/data/pipeline/minhash.js';
import { syntheticCorpus } from './synthetic.js';

const TOK_8000 = path.resolve('../shared/data/tokenizers/spm-bpe-8000/tokenizer.model');
const SHARED_CORPUS = path.resolve('../shared/data/corpus');
const needTok = fs.existsSync(TOK_8000) ? false : `needs ${TOK_8000}`;
const needCorpus = fs.existsSync(path.join(SHARED_CORPUS, 'demo-mix-v1.val.jsonl')) ? false : `needs ${SHARED_CORPUS}`;

const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), `bc2-data-${p}-`));

function writeJsonl(file: string, docs: { text: string; source?: string }[]): string {
  fs.writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  return file;
}

async function finalDocs(shards: string[]): Promise<Doc[]> {
  const out: Doc[] = [];
  for (const s of shards) out.push(...(await readShard(s)));
  return out;
}

test('exact dedup removes planted copies (case and spacing differences) and keeps the first', async () => {
  const dir = tmp('exact');
  const texts = Array.from({ length: 300 }, (_, i) => `Document number ${i} talks about topic ${i % 17} in some detail, with words ${i * 7}.`);
  const docs = texts.map((text) => ({ text, source: 'a' }));
  // plant copies: 60 exact, 40 differing only in case and whitespace
  for (let i = 0; i < 60; i++) docs.push({ text: texts[(i * 5) % 300]!, source: 'b' });
  for (let i = 0; i < 40; i++) docs.push({ text: '  ' + texts[(i * 7 + 1) % 300]!.toUpperCase().replaceAll(' ', '   '), source: 'b' });
  const c = parsePipelineConfig({ inputs: [writeJsonl(path.join(dir, 'in.jsonl'), docs)], out: path.join(dir, 'out'), stages: ['exact'], shard_docs: 64, workers: 2 });
  const r = await runPipeline(c);
  const kept = await finalDocs(r.shards);
  assert.equal(kept.length, 300);
  assert.deepEqual(kept.map((d) => d.text).sort(), [...texts].sort());
  assert.ok(kept.every((d) => d.source === 'a'), 'the first occurrence is the one kept');
  assert.equal(r.stages[1]!.rules.exact_duplicate!.docs, 100);
});

test('near dedup: precision and recall against brute-force Jaccard on a corpus with controlled overlaps', async (t) => {
  const dir = tmp('near');
  const corpus = syntheticCorpus({ bases: 150, words: 120, nearPerBase: 2, nearRate: [0.0, 0.05], farRate: 0.35, exactEvery: 0, seed: 3 });
  const threshold = 0.8, shingle = 5;
  // ground truth: union-find over all pairs with exact Jaccard >= threshold, in corpus order
  const sets = corpus.map((d) => shingleSet(d.text, shingle));
  const truth = new Components();
  let truePairs = 0;
  for (let i = 0; i < sets.length; i++)
    for (let j = i + 1; j < sets.length; j++) if (jaccard(sets[i]!, sets[j]!) >= threshold) { truth.union(i, j); truePairs++; }
  const shouldGo = new Set(truth.nonRepresentatives());
  const c = parsePipelineConfig({ inputs: [writeJsonl(path.join(dir, 'in.jsonl'), corpus)], out: path.join(dir, 'out'), stages: ['near'], shard_docs: 100, workers: 2, near: { threshold, shingle } });
  const r = await runPipeline(c);
  const keptOrds = new Set((await finalDocs(r.shards)).map((d) => d.ord));
  // ords are shard * 2^24 + row with 100 documents per shard
  const ordOf = (i: number) => Math.floor(i / 100) * 2 ** 24 + (i % 100);
  const removed = corpus.map((_, i) => i).filter((i) => !keptOrds.has(ordOf(i)));
  const tp = removed.filter((i) => shouldGo.has(i)).length;
  const precision = removed.length ? tp / removed.length : 1, recall = shouldGo.size ? tp / shouldGo.size : 1;
  t.diagnostic(`${truePairs} true pairs; ${shouldGo.size} documents should go, ${removed.length} removed; precision ${precision.toFixed(3)}, recall ${recall.toFixed(3)}; P(candidate | J=0.8) = ${candidateProbability(0.8, c.near).toFixed(4)}`);
  assert.ok(shouldGo.size > 100, 'the corpus has near duplicates');
  assert.ok(recall >= 0.95, `recall ${recall}`);
  assert.ok(precision >= 0.95, `precision ${precision}`);
  // the far copies (35% of words replaced) are not duplicates and stay
  const farKept = corpus.map((d, i) => (d.kind === 'far' ? keptOrds.has(ordOf(i)) : true)).every(Boolean);
  assert.ok(farKept);
});

test('sentence and paragraph dedup removes repeats across documents, keeping the first occurrence', async () => {
  const dir = tmp('units');
  const boiler = 'Subscribe to our newsletter to receive the latest stories every single morning.';
  const docs = Array.from({ length: 12 }, (_, i) => ({ text: `Story ${i}: the council approved plan number ${i} after a long debate about local roads. ${boiler}\n\nA second paragraph about item ${i} with enough words to be kept on its own.`, source: 'web' }));
  const c = parsePipelineConfig({ inputs: [writeJsonl(path.join(dir, 'in.jsonl'), docs)], out: path.join(dir, 'out'), stages: ['units'], shard_docs: 5, workers: 2 });
  const kept = await finalDocs((await runPipeline(c)).shards);
  assert.equal(kept.length, 12);
  assert.equal(kept.filter((d) => d.text.includes(boiler)).length, 1);
  assert.ok(kept[0]!.text.includes(boiler), 'the first document keeps it');
  assert.ok(kept.every((d, i) => d.text.includes(`plan number ${i}`)));
});

test('quality filter removes gibberish sentences, scores documents; mixing emits weights', async () => {
  const dir = tmp('quality');
  const ref = Array.from({ length: 60 }, (_, i) => ({ text: `The river flows quietly through the old town, where people walk along the banks in the evening. Children play near the bridge and the shops stay open late in summer. Day ${i} was warm and bright.` }));
  const gib = 'Xq zzkv ptrw qqxj vvbn kkzz wqpx jjzq xxvk qpzw zzxk vqjw.';
  const docs = [
    // sentences taken from the reference, plus a gibberish one
    ...Array.from({ length: 10 }, (_, i) => ({ text: `The river flows quietly through the old town, where people walk along the banks in the evening. ${gib} Day ${i + 3} was warm and bright.`, source: 'web' })),
    ...Array.from({ length: 10 }, (_, i) => ({ text: `Children play near the bridge and the shops stay open late in summer. Day ${i + 20} was warm and bright.`, source: 'books' })),
  ];
  const c = parsePipelineConfig({
    inputs: [writeJsonl(path.join(dir, 'in.jsonl'), docs)], out: path.join(dir, 'out'), stages: ['quality', 'mix'], shard_docs: 8, workers: 2,
    quality: { reference: [writeJsonl(path.join(dir, 'ref.jsonl'), ref)], threshold_quantile: 0, min_sentence_chars: 20, min_doc_chars: 20 },
    mix: { weights: { web: 1, books: 3 } },
  });
  const r = await runPipeline(c);
  const kept = await finalDocs(r.shards);
  assert.equal(kept.length, 20);
  assert.ok(kept.every((d) => !d.text.includes('Xq zzkv')), 'gibberish sentences removed');
  assert.ok(kept.every((d) => typeof d.quality === 'number' && typeof d.weight === 'number'));
  const mix = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'mix.json'), 'utf8'));
  // target shares 1:3 -> weights so that weighted bytes have that ratio
  const web = mix.categories.web, books = mix.categories.books;
  assert.ok(Math.abs((books.bytes * books.weight) / (web.bytes * web.weight) - 3) < 1e-9);
  assert.ok(Math.abs(web.target - 0.25) < 1e-12 && Math.abs(books.target - 0.75) < 1e-12);
});

test('malformed input (bad JSON, invalid UTF-8, missing text, corrupt gzip) is counted and skipped', async () => {
  const dir = tmp('malformed');
  const good = (i: number) => JSON.stringify({ text: `A perfectly fine document number ${i} with enough text to pass.` });
  const lines = [good(1), '{"text": "unterminated', good(2), '{"title": "no text"}', good(3)];
  const raw = Buffer.concat([Buffer.from(lines.join('\n') + '\n'), Buffer.from([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]), Buffer.from(good(4) + '\n')]);
  fs.writeFileSync(path.join(dir, 'a.jsonl'), raw);
  fs.writeFileSync(path.join(dir, 'b.jsonl.gz'), zlib.gzipSync(good(5) + '\n' + good(6) + '\n'));
  fs.writeFileSync(path.join(dir, 'c.jsonl.gz'), Buffer.concat([zlib.gzipSync(good(7) + '\n')]).subarray(0, 15));
  const c = parsePipelineConfig({ inputs: ['a.jsonl', 'b.jsonl.gz', 'c.jsonl.gz'].map((f) => path.join(dir, f)), out: path.join(dir, 'out'), stages: ['exact'] });
  const r = await runPipeline(c);
  assert.equal(r.stages[0]!.docsOut, 6);
  const rules = r.stages[0]!.rules;
  assert.equal(rules['malformed: invalid JSON']!.docs, 1);
  assert.equal(rules['malformed: missing text field']!.docs, 1);
  assert.equal(rules['malformed: invalid UTF-8']!.docs, 1);
  assert.equal(rules['malformed: corrupt gzip (rest of file skipped)']!.docs, 1);
  assert.match(rules['malformed: invalid JSON']!.examples[0]!, /a\.jsonl:2$/);
});

test('Parquet shards, and config errors that name the key', async () => {
  const dir = tmp('parquet');
  const docs = Array.from({ length: 30 }, (_, i) => ({ text: `Parquet document ${i} has a body long enough for the filters to keep it around.`, source: i % 2 ? 'x' : 'y' }));
  const c = parsePipelineConfig({ inputs: [writeJsonl(path.join(dir, 'in.jsonl'), docs)], out: path.join(dir, 'out'), stages: ['exact', 'filter'], format: 'parquet', shard_docs: 8 });
  const r = await runPipeline(c);
  assert.ok(r.shards.every((s) => s.endsWith('.parquet')));
  const kept = await finalDocs(r.shards);
  assert.deepEqual(kept.map((d) => d.text), docs.map((d) => d.text));
  assert.deepEqual(kept.map((d) => d.source), docs.map((d) => d.source));
  assert.throws(() => parsePipelineConfig({ inputs: ['x'], out: 'y', filter: { min_charz: 3 } }), /filter: Unrecognized key/);
  assert.throws(() => parsePipelineConfig({ inputs: ['x'], out: 'y', near: { bands: 40, rows: 4 } }), /exceeds near.permutations/);
  assert.throws(() => parsePipelineConfig({ inputs: ['x'], out: 'y', stages: ['quality'] }), /quality.reference/);
});

test('a run killed part-way resumes and gives the same output as an uninterrupted run', async () => {
  const dir = tmp('resume');
  const corpus = syntheticCorpus({ bases: 200, words: 80, nearPerBase: 1, nearRate: [0, 0.05], farRate: 0.4, exactEvery: 3, seed: 9 });
  const input = writeJsonl(path.join(dir, 'in.jsonl'), corpus);
  const cfg = (out: string) => { const f = path.join(dir, `${out}.json`); fs.writeFileSync(f, JSON.stringify({ inputs: [input], out: path.join(dir, out), stages: ['exact', 'filter', 'units', 'near', 'mix'], shard_docs: 40, workers: 2, filter: { min_chars: 20 } })); return f; };
  const cli = (config: string) => spawn(process.execPath, [path.resolve('bin/baichuan2.js'), 'data', 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const wait = (p: ReturnType<typeof cli>) => new Promise<number>((res) => p.on('close', (code) => res(code ?? -1)));
  assert.equal(await wait(cli(cfg('clean'))), 0);
  // the second run is killed (SIGKILL) after 3 of the units stage's removal shards are done
  const victim = spawn(process.execPath, [path.resolve('bin/baichuan2.js'), 'data', 'run', '--config', cfg('killed')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BAICHUAN2_DATA_KILL_AT: 'units: removing:3' } });
  const code = await new Promise<string | null>((res) => victim.on('close', (_c, sig) => res(sig)));
  assert.equal(code, 'SIGKILL');
  const unitsDir = path.join(dir, 'killed', 'stages', '04-units');
  assert.ok(!fs.existsSync(path.join(unitsDir, '_stage.json')), 'killed before the stage finished');
  const doneShards = listShards(unitsDir).length;  // 3, or 4 if the other worker had just written its shard
  assert.ok(doneShards >= 3 && doneShards < listShards(path.join(dir, 'killed', 'stages', '02-filter')).length, `${doneShards} shards done`);
  assert.equal(await wait(cli(cfg('killed'))), 0);
  const a = await finalDocs(listShards(path.join(dir, 'clean', 'stages', '06-mix')));
  const b = await finalDocs(listShards(path.join(dir, 'killed', 'stages', '06-mix')));
  assert.ok(a.length > 100);
  assert.deepEqual(b, a);
  const report = fs.readFileSync(path.join(dir, 'killed', 'report.md'), 'utf8');
  assert.match(report, /\| exact dedup \|/);
  assert.match(report, /\| document near dedup \|/);
  assert.ok(fs.existsSync(path.join(dir, 'killed', 'report.svg')));
});

test('the quality stage can score with a Baichuan model instead of the trigram model', { skip: needTok }, async () => {
  const tokFile = TOK_8000;
  const { BaichuanForCausalLM } = await import('../../src/model/baichuan.js');
  const { configFromJSON, PRESETS } = await import('../../src/model/config.js');
  const { saveModel } = await import('../../src/io/hf-folder.js');
  const { ModelSentenceScorer } = await import('../../src/data/pipeline/model-scorer.js');
  const dir = tmp('model-scorer');
  const model = new BaichuanForCausalLM(configFromJSON({ ...PRESETS.tiny, vocab_size: 8000, hidden_size: 64, intermediate_size: 176, num_attention_heads: 2 })).initWeights(2);
  saveModel(model, path.join(dir, 'm'), { tokenizerModel: tokFile });
  const scorer = ModelSentenceScorer.load(path.join(dir, 'm'));
  const [s] = scorer.score(['The river flows quietly through the old town.']);
  // a random model is close to uniform: about -log2(8000) bits per token, spread over the characters
  assert.ok(Number.isFinite(s!) && s! < 0, String(s));
  const docs = Array.from({ length: 6 }, (_, i) => ({ text: `The river flows quietly through the old town on day ${i}. People walk along the banks in the evening.`, source: 'web' }));
  const c = parsePipelineConfig({
    inputs: [writeJsonl(path.join(dir, 'in.jsonl'), docs)], out: path.join(dir, 'out'), stages: ['quality'],
    quality: { reference: [writeJsonl(path.join(dir, 'ref.jsonl'), docs)], threshold_quantile: 0, scorer: { model: path.join(dir, 'm') } },
  });
  const kept = await finalDocs((await runPipeline(c)).shards);
  assert.equal(kept.length, 6);
  assert.ok(kept.every((d) => typeof d.quality === 'number' && d.quality < 0));
});

test('prepare honours the mix weights: a document of weight w appears floor(w) or ceil(w) times in training', { skip: needTok }, async () => {
  const { prepare } = await import('../../src/data/prepare.js');
  const tokFile = TOK_8000;
  const dir = tmp('weights');
  const weights = [0, 1, 3, 2.5, 0.5];
  // 40 documents, each naming itself; every 20th goes to validation (index 19 and 39)
  const docs = Array.from({ length: 40 }, (_, i) => ({ text: `document ${i} unique text`, weight: weights[i % weights.length]! }));
  writeJsonl(path.join(dir, 'w.jsonl'), docs);
  const { manifest } = await prepare({ tokenizer: tokFile, inputs: [path.join(dir, 'w.jsonl')], out: path.join(dir, 'shards'), valFraction: 0.05, workers: 1 });
  const eos = manifest.eosTokenId;
  const count = (shards: { file: string }[]) => shards.reduce((s, sh) => {
    const b = fs.readFileSync(path.join(dir, 'shards', sh.file));
    return s + new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4).filter((t) => t === eos).length;
  }, 0);
  const trainDocs = docs.filter((_, i) => i % 20 !== 19);
  const lo = trainDocs.reduce((s, d) => s + Math.floor(d.weight), 0), hi = trainDocs.reduce((s, d) => s + Math.ceil(d.weight), 0);
  const n = count(manifest.train);
  assert.equal(n, manifest.sampledTrainDocuments);
  assert.ok(n >= lo && n <= hi, `${n} training documents, expected between ${lo} and ${hi}`);
  assert.equal(count(manifest.val), 2, 'validation documents are written once');
});

test('the quality threshold, calibrated on held-out reference text, keeps clean text of the same kind', { skip: needCorpus }, async () => {
  const train = path.join(SHARED_CORPUS, 'demo-mix-v1.train.jsonl'), val = path.join(SHARED_CORPUS, 'demo-mix-v1.val.jsonl');
  const dir = tmp('calib');
  const docs = fs.readFileSync(train, 'utf8').split('\n').filter(Boolean).slice(0, 300).map((l) => JSON.parse(l) as { text: string });
  const c = parsePipelineConfig({ inputs: [writeJsonl(path.join(dir, 'in.jsonl'), docs)], out: path.join(dir, 'out'), stages: ['quality'], quality: { reference: [val] } });
  const r = await runPipeline(c);
  const q = r.stages[1]!;
  // a 2% quantile threshold should cost clean text of the reference's kind a few percent, not a third
  assert.ok(q.bytesOut / q.bytesIn > 0.9, `kept ${(100 * q.bytesOut / q.bytesIn).toFixed(1)}% of the bytes`);
});
