// The main job, shortened: `baichuan2 demo --quick` runs end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

test('demo --quick: corpus, tokenizer, shards, training with falling loss, samples, evaluation, model folder', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-demo-'));
  const r = spawnSync(process.execPath, [path.resolve('bin/baichuan2.js'), 'demo', '--quick', '--out', out], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  for (const f of ['corpus.jsonl', 'tokenizer.model', 'data/manifest.json', 'run/metrics.jsonl', 'run/loss.svg', 'model/model.safetensors', 'model/tokenizer.model'])
    assert.ok(fs.existsSync(path.join(out, f)), f);
  const metrics = fs.readFileSync(path.join(out, 'run/metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss: number });
  const first = metrics.slice(0, 3).reduce((s, m) => s + m.loss, 0) / 3, last = metrics.slice(-3).reduce((s, m) => s + m.loss, 0) / 3;
  assert.ok(last < first - 1, `loss should fall: ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  assert.match(r.stdout, /validation loss \d+\.\d+ nats\/token, \d+\.\d+ bits\/byte/);
  assert.match(r.stdout, /"床前明月光，/);
  if (fs.existsSync(path.resolve('../shared/data/eval'))) {
    assert.match(r.stdout, /\| Model \| C-Eval \| MMLU \| CMMLU \|/);
    assert.ok(fs.existsSync(path.join(out, 'eval/results.json')));
  }
});
