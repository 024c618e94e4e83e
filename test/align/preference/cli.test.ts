// The command surface: train-rm -> score -> ppo with the reward model (critic
// from it), dpo interrupted by a real SIGINT and resumed, and clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir, tinyModelDir, syntheticPairs, writeJsonl } from './fixture.js';

const BIN = path.resolve('bin/baichuan2.js');
const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

test('train-rm, score, ppo with the reward model: commands, outputs and errors', () => {
  const dir = tmpDir('cli');
  const model = tinyModelDir(81);
  const data = writeJsonl(path.join(dir, 'p.jsonl'), syntheticPairs(20, 3, true));
  fs.appendFileSync(data, '{"prompt": "x"}\n');
  const rm = cli(['train-rm', '--model', model, '--data', data, '--out', path.join(dir, 'rm'), '--steps', '2', '--batch-size', '4', '--validation-fraction', '0.2']);
  assert.equal(rm.status, 0, rm.stderr);
  assert.match(rm.stderr, /skipped 1 malformed record\(s\): 1 × missing chosen or rejected \(.*p\.jsonl:21\)/);
  assert.match(rm.stdout, /done: step 2, held-out accuracy .*% of 4 pairs/);
  assert.match(fs.readFileSync(path.join(dir, 'rm', 'eval.md'), 'utf8'), /\| Gap \| 1 \(unsure\)/);
  const rmDir = path.join(dir, 'rm', 'model');
  const sc = cli(['score', '--model', rmDir, '--data', data]);
  assert.equal(sc.status, 0, sc.stderr);
  const lines = sc.stdout.trim().split('\n').map((l) => JSON.parse(l) as { chosen: number; rejected: number });
  assert.equal(lines.length, 20);
  assert.ok(lines.every((l) => Number.isFinite(l.chosen) && Number.isFinite(l.rejected)));
  const ppo = cli(['ppo', '--model', model, '--reward', rmDir, '--data', data, '--out', path.join(dir, 'ppo'), '--steps', '2', '--batch-size', '2', '--critic-warmup', '1', '--max-new-tokens', '3', '--lr', '1e-4']);
  assert.equal(ppo.status, 0, ppo.stderr);
  assert.match(ppo.stdout, /done: iteration 2, mean reward/);
  const rows = fs.readFileSync(path.join(dir, 'ppo', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  assert.equal(rows.length, 2);
  assert.deepEqual([rows[0]!.actor_updated, rows[1]!.actor_updated], [0, 1]);
  assert.ok(fs.existsSync(path.join(dir, 'ppo', 'loss.svg')));
  // errors name the thing
  const bad = cli(['dpo', '--model', model, '--data', data, '--out', path.join(dir, 'x'), '--beta', 'abc']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--beta must be a number/);
  fs.writeFileSync(path.join(dir, 'dpo.json'), JSON.stringify({ model, data, out: path.join(dir, 'x'), betaa: 0.1 }));
  const cfg = cli(['dpo', '--config', path.join(dir, 'dpo.json')]);
  assert.equal(cfg.status, 1);
  assert.match(cfg.stderr, /Unrecognized key\(s\) in object: 'betaa'/);
  const noRm = cli(['score', '--model', model, '--data', data]);
  assert.equal(noRm.status, 1);
  assert.match(noRm.stderr, /not a reward model folder/);
});

test('dpo: SIGINT saves a checkpoint and exits 130; --resume continues', async () => {
  const dir = tmpDir('clisig');
  const model = tinyModelDir(82);
  const data = writeJsonl(path.join(dir, 'p.jsonl'), syntheticPairs(16, 4));
  const out = path.join(dir, 'run');
  const child = spawn(process.execPath, [BIN, 'dpo', '--model', model, '--data', data, '--out', out, '--steps', '100000', '--batch-size', '2', '--checkpoint-every', '100000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const metrics = path.join(out, 'metrics.jsonl');
  const t0 = Date.now();
  while (!(fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').split('\n').length > 3)) {
    if (Date.now() - t0 > 60_000) { child.kill('SIGKILL'); assert.fail('training did not start'); }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 130);
  const latest = JSON.parse(fs.readFileSync(path.join(out, 'checkpoints', 'latest.json'), 'utf8')) as { step: number; checkpoint: string };
  assert.ok(latest.step >= 3);
  assert.ok(fs.existsSync(path.join(out, 'checkpoints', latest.checkpoint, 'optimizer-policy.safetensors')));
  const r = cli(['dpo', '--model', model, '--data', data, '--out', out, '--steps', String(latest.step + 2), '--batch-size', '2', '--checkpoint-every', '100000', '--resume']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`resumed from .*\\(step ${latest.step}\\)`));
  assert.match(r.stdout, new RegExp(`done: step ${latest.step + 2}`));
  assert.equal(fs.readFileSync(metrics, 'utf8').trim().split('\n').length, latest.step + 2);
});
