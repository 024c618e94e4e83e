// Pre-training: schedule values, tokenizer training (our encoder and
// SentencePiece agree on the trained model), shards and their errors, config
// validation, bit-exact resume, and a tiny model overfitting a small text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { lrAt } from '../../src/train/schedule.js';
import { trainBpe } from '../../src/tokenizer/trainer.js';
import { serializeModel } from '../../src/tokenizer/sentencepiece-model.js';
import { BpeTokenizer } from '../../src/tokenizer/bpe.js';
import { prepare } from '../../src/data/prepare.js';
import { parseTrainConfig } from '../../src/train/config.js';
import { pretrain } from '../../src/train/trainer.js';
import { readManifest, loadSplit } from '../../src/data/shards.js';
import { pythonWith } from '../../bench/model.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-train-'));

test('learning-rate schedule: linear warm-up, cosine to the floor', () => {
  const c = { peakLr: 1e-3, minLr: 1e-4, warmupSteps: 10, totalSteps: 110 };
  assert.equal(lrAt(1, c), 1e-4);
  assert.equal(lrAt(5, c), 5e-4);
  assert.equal(lrAt(10, c), 1e-3);
  assert.ok(Math.abs(lrAt(60, c) - 5.5e-4) < 1e-12);  // halfway through the cosine
  assert.equal(lrAt(110, c), 1e-4);
  assert.equal(lrAt(500, c), 1e-4);
  for (let s = 11; s < 110; s++) assert.ok(lrAt(s + 1, c) <= lrAt(s, c));
});

// A small bilingual + code corpus with some structure to learn.
function corpus(): string[] {
  const out: string[] = [];
  const zh = ['子曰：学而时习之，不亦说乎？', '床前明月光，疑是地上霜。', '春眠不觉晓，处处闻啼鸟。'];
  const en = ['The quick brown fox jumps over the lazy dog.', 'To be, or not to be, that is the question.'];
  const code = ['function add(a, b) {\n    return a + b;\n}', 'for (let i = 0; i < 10; i++) {\n    sum += i * 2;\n}'];
  for (let i = 0; i < 60; i++) out.push(`${zh[i % 3]}\n${en[i % 2]} ${i} apples.\n${code[i % 2]}`);
  return out;
}

test('trained tokenizer: layout, digits, whitespace pieces, max length, SentencePiece agrees', () => {
  const texts = corpus();
  const { model } = trainBpe(texts, { vocabSize: 620, maxPieceLength: 8 });
  const tok = new BpeTokenizer(model);
  assert.equal(model.pieces.length, 620);
  assert.throws(() => trainBpe(texts, { vocabSize: 5000, maxPieceLength: 8 }), /supports only \d+ pieces/);
  assert.deepEqual([0, 1, 2, 195, 196].map((i) => tok.pieces[i]), ['<unk>', '<s>', '</s>', '<reserved_106>', '<reserved_107>']);
  assert.equal(tok.pieces[5], '\n');
  const normal = model.pieces.filter((p) => p.type === 1).map((p) => p.piece);
  assert.ok(normal.every((p) => [...p].length <= 8), 'max piece length');
  assert.ok(normal.every((p) => !/\d/.test(p) || p.length === 1), 'digits are single pieces');
  assert.ok(normal.some((p) => /^\u2581{2,}$/.test(p)), 'whitespace-only pieces exist for indentation');
  assert.ok(normal.every((p) => !/[\u4e00-\u9fff]/.test(p) || !/[A-Za-z]/.test(p)), 'no piece mixes Han and Latin');
  assert.deepEqual(tok.encode('123').map((i) => tok.pieces[i]), ['1', '2', '3']);
  for (const t of texts.slice(0, 5)) assert.equal(tok.decode(tok.encode(t)), t);
  assert.throws(() => trainBpe(texts, { vocabSize: 400 }), /too small/);
  const py = pythonWith('sentencepiece');
  if (!py) return;  // SentencePiece itself is an optional oracle (apt-get install python3-sentencepiece)
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 't.model'), serializeModel(model));
  fs.writeFileSync(path.join(dir, 'texts.json'), JSON.stringify(texts));
  const r = spawnSync(py, ['-c', `import sentencepiece as s, json; sp=s.SentencePieceProcessor(model_file='${dir}/t.model'); print(json.dumps([sp.encode(t) for t in json.load(open('${dir}/texts.json'))]))`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), texts.map((t) => tok.encode(t)));
});

async function dataset(): Promise<{ dir: string; data: string }> {
  const dir = tmp();
  const { model } = trainBpe(corpus(), { vocabSize: 600 });
  fs.writeFileSync(path.join(dir, 'tokenizer.model'), serializeModel(model));
  fs.writeFileSync(path.join(dir, 'c.jsonl'), corpus().map((t) => JSON.stringify({ text: t })).join('\n') + '\n{bad json\n{"no_text": 1}\n');
  const data = path.join(dir, 'data');
  const r = await prepare({ tokenizer: path.join(dir, 'tokenizer.model'), inputs: [path.join(dir, 'c.jsonl')], out: data, valFraction: 0.1, workers: 2 });
  assert.equal(r.stats.skipped.length, 2);
  return { dir, data };
}

test('prepare: deterministic shards with EOS, manifest, and clear errors on corrupt shards', async () => {
  const { dir, data } = await dataset();
  const m = readManifest(data);
  assert.equal(m.documents.train + m.documents.val, 60);
  const train = loadSplit(data, m.train, m.tokenizer.vocabSize);
  assert.equal(train.filter((t) => t === m.eosTokenId).length, m.documents.train);
  // the same inputs with one worker give the same bytes
  const again = path.join(dir, 'again');
  await prepare({ tokenizer: path.join(dir, 'tokenizer.model'), inputs: [path.join(dir, 'c.jsonl')], out: again, valFraction: 0.1, workers: 1 });
  assert.deepEqual(readManifest(again).train, readManifest(data).train);
  const shard = path.join(data, m.train[0]!.file);
  fs.truncateSync(shard, fs.statSync(shard).size - 6);
  assert.throws(() => loadSplit(data, m.train, m.tokenizer.vocabSize), /truncated or corrupt/);
  fs.writeFileSync(shard, Buffer.alloc(m.train[0]!.tokens * 4, 1));
  assert.throws(() => loadSplit(data, m.train, m.tokenizer.vocabSize), /checksum mismatch/);
});

test('config validation names unknown keys and bad values', () => {
  assert.throws(() => parseTrainConfig({ data: 'd', out: 'o', learningRate: 1 }), /Unrecognized key\(s\) in object: 'learningRate'/);
  assert.throws(() => parseTrainConfig({ data: 'd', out: 'o', steps: -1 }), /steps: Number must be greater than 0/);
  assert.throws(() => parseTrainConfig({ data: 'd', out: 'o', steps: 5, warmupSteps: 10 }), /warmupSteps \(10\) exceeds steps \(5\)/);
  assert.throws(() => parseTrainConfig({ data: 'd' }), /out: Required/);
});

const small = { hidden_size: 32, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 64, model_max_length: 64 };

test('an interrupted and resumed run has exactly the loss curve of an uninterrupted one', async () => {
  const { dir, data } = await dataset();
  const base = { data, seed: 3, model: { preset: 'tiny', config: small }, batchSize: 2, seqLen: 16, steps: 8, warmupSteps: 2, peakLr: 3e-3, minLr: 3e-4, evalEvery: 4, evalBatches: 2, checkpointEvery: 100, gradAccum: 2 };
  const full = await pretrain(parseTrainConfig({ ...base, out: path.join(dir, 'full') }));
  const part = await pretrain(parseTrainConfig({ ...base, out: path.join(dir, 'part') }), { stopAfter: 3 });
  assert.equal(part.step, 3);
  const resumed = await pretrain(parseTrainConfig({ ...base, out: path.join(dir, 'part') }), { resume: true });
  assert.equal(resumed.step, 8);
  assert.deepEqual(resumed.metrics.map((m) => [m.loss, m.grad_norm, m.val_loss]), full.metrics.map((m) => [m.loss, m.grad_norm, m.val_loss]));
  assert.ok(fs.existsSync(path.join(dir, 'part', 'loss.svg')));
  assert.equal(fs.readFileSync(path.join(dir, 'part', 'metrics.jsonl'), 'utf8').trim().split('\n').length, 8);
  await assert.rejects(pretrain(parseTrainConfig({ ...base, seed: 4, out: path.join(dir, 'part') }), { resume: true }), /trained with a different configuration/);
});

test('a tiny model overfits a small text', async () => {
  const dir = tmp();
  const text = 'Baichuan 2 is a family of large multilingual language models. 百川。';
  const { model } = trainBpe([text.repeat(4)], { vocabSize: 520 });
  fs.writeFileSync(path.join(dir, 'tokenizer.model'), serializeModel(model));
  fs.writeFileSync(path.join(dir, 'c.jsonl'), Array.from({ length: 20 }, () => JSON.stringify({ text })).join('\n'));
  await prepare({ tokenizer: path.join(dir, 'tokenizer.model'), inputs: [path.join(dir, 'c.jsonl')], out: path.join(dir, 'data'), valFraction: 0.1 });
  const r = await pretrain(parseTrainConfig({ data: path.join(dir, 'data'), out: path.join(dir, 'run'), model: { preset: 'tiny', config: small }, batchSize: 4, seqLen: 24, steps: 80, warmupSteps: 5, peakLr: 1e-2, minLr: 1e-3, weightDecay: 0, evalEvery: 80 }));
  assert.ok(r.lastLoss < 0.3, `final loss ${r.lastLoss}`);
  assert.ok(r.valLoss! < 0.5, `validation loss ${r.valLoss}`);
});

test('activation recomputation gives the same loss and the same gradients', async () => {
  const { configFromJSON, PRESETS } = await import('../../src/model/config.js');
  const { BaichuanForCausalLM } = await import('../../src/model/baichuan.js');
  const { Tensor } = await import('../../src/engine/tensor.js');
  const { backward } = await import('../../src/engine/autograd.js');
  const grads = (recompute: boolean) => {
    const m = new BaichuanForCausalLM(configFromJSON({ ...PRESETS.tiny, ...small, vocab_size: 97, z_loss_weight: 2e-4 })).initWeights(5).train();
    const ids = Tensor.from(Int32Array.from({ length: 2 * 12 }, (_, i) => (i * 31) % 97), [2, 12], 'i32');
    const out = m.forward(ids, { labels: ids, recompute });
    backward(out.loss!);
    return { loss: out.loss!.item(), g: [...m.namedParameters()].map(([, p]) => Array.from(p.grad!.f32())) };
  };
  const a = grads(false), b = grads(true);
  assert.equal(b.loss, a.loss);
  assert.deepEqual(b.g, a.g);
});

test('prepare reads Parquet (a "text" column, several row groups) like JSONL, and counts null texts', async () => {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const dir = tmp();
  const texts = corpus();
  const { model } = trainBpe(texts, { vocabSize: 600 });
  fs.writeFileSync(path.join(dir, 't.model'), serializeModel(model));
  const withNull: (string | null)[] = [...texts.slice(0, 30), null, ...texts.slice(30)];
  const buf = parquetWriteBuffer({ columnData: [{ name: 'text', data: withNull, type: 'STRING' }], rowGroupSize: 16 });
  fs.writeFileSync(path.join(dir, 'c.parquet'), new Uint8Array(buf));
  fs.writeFileSync(path.join(dir, 'c.jsonl'), texts.map((t) => JSON.stringify({ text: t })).join('\n'));
  const a = await prepare({ tokenizer: path.join(dir, 't.model'), inputs: [path.join(dir, 'c.parquet')], out: path.join(dir, 'pq'), valFraction: 0.1 });
  const b = await prepare({ tokenizer: path.join(dir, 't.model'), inputs: [path.join(dir, 'c.jsonl')], out: path.join(dir, 'js'), valFraction: 0.1 });
  assert.equal(a.stats.skipped.length, 1);
  assert.deepEqual(a.manifest.train.map((s) => s.sha256), b.manifest.train.map((s) => s.sha256));
  fs.writeFileSync(path.join(dir, 'bad.parquet'), 'not parquet at all');
  await assert.rejects(prepare({ tokenizer: path.join(dir, 't.model'), inputs: [path.join(dir, 'bad.parquet')], out: path.join(dir, 'bad') }), /not a readable Parquet file/);
});
