// Mutation fuzzing of the parsers of untrusted files in the tokenizer, training
// and data code: SentencePiece protobuf (tokenizer.model), token shards
// (manifest.json + .bin), JSONL / JSONL.gz / Parquet documents, config.json.
// Random edits of a valid file must give a result or a clean error naming the
// file (see mutate.ts for the property). A short run here; the long run:
//   BAICHUAN2_FUZZ_RUNS=20000 node --test dist/test/fuzz/   (npm run fuzz)
// Safetensors and PyTorch .bin are fuzzed with the checkpoint code (src/io).
import test from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { checkParse, fcParams, fuzz, jsonMutated, mutated, RUNS, type FuzzStats } from './mutate.js';
import { trainBpe } from '../../src/tokenizer/trainer.js';
import { serializeModel } from '../../src/tokenizer/sentencepiece-model.js';
import { loadTokenizer } from '../../src/io/tokenizer-file.js';
import { loadSplit, readManifest, sha256 } from '../../src/data/shards.js';
import { readDocumentRecords, newReadStats } from '../../src/data/documents.js';
import { readConfig } from '../../src/io/hf-folder.js';
import { configToJSON, configFromJSON, positionNotes, PRESETS } from '../../src/model/config.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-fuzz-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const fresh = (t: string) => { const d = fs.mkdtempSync(path.join(dir, `${t}-`)); return d; };
const report = (t: { diagnostic(s: string): void }, what: string, s: FuzzStats) =>
  t.diagnostic(`${what}: ${s.cases} mutated files, ${s.accepted} parsed, ${s.rejected} rejected with an error naming the file, 0 crashes`);

const TEXTS = ['Hello world, hello tokenizer.', '你好，世界。我们训练一个小模型。', 'def f(x):\n    return x * 2  # 123', 'the quick brown fox jumps over the lazy dog 42 times'];

test(`fuzz: SentencePiece tokenizer.model (${RUNS} cases)`, async (t) => {
  const valid = Buffer.from(serializeModel(trainBpe(TEXTS, { vocabSize: 520 }).model));
  const d = fresh('spm');
  const file = path.join(d, 'tokenizer.model');
  const stats: FuzzStats = { cases: 0, accepted: 0, rejected: 0 };
  await fuzz(fc.asyncProperty(mutated(valid), async (buf) => {
    fs.writeFileSync(file, buf);
    await checkParse(file, buf, () => {
      const tok = loadTokenizer(file);
      for (const s of TEXTS) tok.decode(tok.encode(s));
    }, stats);
  }), fcParams());
  report(t, 'tokenizer.model', stats);
});

function shardsDir(): { d: string; manifest: Buffer; shard: Buffer } {
  const d = fresh('shards');
  const tokens = Uint32Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
  const shard = Buffer.from(tokens.buffer);
  fs.writeFileSync(path.join(d, 'train-00000.bin'), shard);
  fs.writeFileSync(path.join(d, 'val-00000.bin'), shard.subarray(0, 400));
  const manifest = {
    format: 'baichuan2-ts-shards-v1', tokenizer: { file: 'tokenizer.model', sha256: 'ab'.repeat(32), vocabSize: 256 }, eosTokenId: 2,
    documents: { train: 3, val: 1 }, bytes: { train: 900, val: 300 },
    train: [{ file: 'train-00000.bin', tokens: 300, sha256: sha256(shard) }],
    val: [{ file: 'val-00000.bin', tokens: 100, sha256: sha256(shard.subarray(0, 400)) }],
  };
  const mbuf = Buffer.from(JSON.stringify(manifest, null, 2));
  fs.writeFileSync(path.join(d, 'manifest.json'), mbuf);
  return { d, manifest: mbuf, shard };
}

test(`fuzz: token shards, manifest.json and .bin (${RUNS} cases each)`, async (t) => {
  const { d, manifest, shard } = shardsDir();
  const mf = path.join(d, 'manifest.json'), sf = path.join(d, 'train-00000.bin');
  const load = (verify: boolean) => {
    const m = readManifest(d);
    loadSplit(d, m.train, m.tokenizer.vocabSize, verify);
    loadSplit(d, m.val, m.tokenizer.vocabSize, verify);
  };
  const ms: FuzzStats = { cases: 0, accepted: 0, rejected: 0 };
  await fuzz(fc.asyncProperty(fc.oneof(mutated(manifest), jsonMutated(JSON.parse(manifest.toString()))), async (buf) => {
    fs.writeFileSync(mf, buf);
    // the error may name the manifest or a shard it points at: both are in the folder
    await checkParse(d, buf, () => load(true), ms);
  }), fcParams());
  fs.writeFileSync(mf, manifest);
  const ss: FuzzStats = { cases: 0, accepted: 0, rejected: 0 };
  await fuzz(fc.asyncProperty(mutated(shard), fc.boolean(), async (buf, verify) => {
    fs.writeFileSync(sf, buf);
    await checkParse(sf, buf, () => load(verify), ss);
  }), { ...fcParams(), numRuns: RUNS } as fc.Parameters<[Buffer, boolean]>);
  report(t, 'manifest.json', ms);
  report(t, 'shard .bin', ss);
});

test(`fuzz: documents, .jsonl, .jsonl.gz and .parquet (${RUNS} cases each)`, async (t) => {
  const d = fresh('docs');
  const lines = TEXTS.map((text, i) => JSON.stringify({ text, source: `s${i % 2}`, weight: 1 + i / 2 })).join('\n') + '\n';
  const inputs: [string, Buffer][] = [
    ['in.jsonl', Buffer.from(lines)],
    ['in.jsonl.gz', zlib.gzipSync(lines)],
    ['in.parquet', Buffer.from(parquetWriteBuffer({ columnData: [{ name: 'text', data: TEXTS, type: 'STRING' }, { name: 'weight', data: [1, 2, 0.5, 3], type: 'DOUBLE' }] }))],
  ];
  for (const [name, valid] of inputs) {
    const file = path.join(d, name);
    const stats: FuzzStats = { cases: 0, accepted: 0, rejected: 0 };
    await fuzz(fc.asyncProperty(mutated(valid), async (buf) => {
      fs.writeFileSync(file, buf);
      await checkParse(file, buf, async () => { for await (const _ of readDocumentRecords([file], newReadStats(), 'source', { maxLineBytes: 1 << 20, parquetTimeoutMs: 3000 })) { /* consume */ } }, stats);
    }), fcParams());
    report(t, name, stats);
  }
});

test(`fuzz: config.json (${RUNS} cases)`, async (t) => {
  const d = fresh('config');
  const file = path.join(d, 'config.json');
  const stats: FuzzStats = { cases: 0, accepted: 0, rejected: 0 };
  for (const preset of ['tiny', '13b']) {
    const valid = Buffer.from(JSON.stringify(configToJSON(configFromJSON(PRESETS[preset]!)), null, 2));
    await fuzz(fc.asyncProperty(fc.oneof(mutated(valid), jsonMutated(JSON.parse(valid.toString()))), async (buf) => {
      fs.writeFileSync(file, buf);
      await checkParse(file, buf, () => {
        const c = readConfig(d);
        positionNotes(c, file);
        new BaichuanForCausalLM(c).parameterCount();  // shapes only: placeholders take no memory
      }, stats);
    }), fcParams(Math.ceil(RUNS / 2)));
  }
  report(t, 'config.json', stats);
});
