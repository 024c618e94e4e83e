// Ctrl-C during `baichuan2 pretrain` saves a checkpoint before exiting, and
// `--resume` continues from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trainBpe } from '../../src/tokenizer/trainer.js';
import { serializeModel } from '../../src/tokenizer/sentencepiece-model.js';
import { prepare } from '../../src/data/prepare.js';

const BIN = path.resolve('bin/baichuan2.js');

test('SIGINT saves a checkpoint; --resume continues; bad configs are refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-sigint-'));
  const texts = Array.from({ length: 40 }, (_, i) => `line ${i}: the cat sat on the mat, 猫坐在垫子上。`);
  fs.writeFileSync(path.join(dir, 't.model'), serializeModel(trainBpe(texts, { vocabSize: 500 }).model));
  fs.writeFileSync(path.join(dir, 'c.jsonl'), texts.map((t) => JSON.stringify({ text: t })).join('\n'));
  await prepare({ tokenizer: path.join(dir, 't.model'), inputs: [path.join(dir, 'c.jsonl')], out: path.join(dir, 'data') });
  const config = path.join(dir, 'train.json');
  fs.writeFileSync(config, JSON.stringify({
    data: path.join(dir, 'data'), out: path.join(dir, 'run'), steps: 100000, warmupSteps: 2, batchSize: 2, seqLen: 16, checkpointEvery: 100000,
    model: { preset: 'tiny', config: { hidden_size: 32, intermediate_size: 96, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 64, model_max_length: 64 } },
  }));
  const child = spawn(process.execPath, [BIN, 'pretrain', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const metrics = path.join(dir, 'run', 'metrics.jsonl');
  const started = Date.now();
  while (!(fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').split('\n').length > 5)) {
    if (Date.now() - started > 60_000) { child.kill('SIGKILL'); assert.fail('training did not start'); }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 130);
  const latest = JSON.parse(fs.readFileSync(path.join(dir, 'run/checkpoints/latest.json'), 'utf8')) as { step: number; checkpoint: string };
  assert.ok(latest.step >= 5);
  assert.ok(fs.existsSync(path.join(dir, 'run/checkpoints', latest.checkpoint, 'optimizer.safetensors')));
  const r = spawnSync(process.execPath, [BIN, 'pretrain', '--config', config, '--resume', '--steps', String(latest.step + 3)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr + r.stdout, new RegExp(`resumed from .*\\(step ${latest.step}\\)`));
  assert.match(r.stdout, new RegExp(`done: step ${latest.step + 3}`));
  fs.writeFileSync(config, JSON.stringify({ data: 'x', out: 'y', learningRate: 1 }));
  const bad = spawnSync(process.execPath, [BIN, 'pretrain', '--config', config], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /Unrecognized key\(s\) in object: 'learningRate'/);
});
