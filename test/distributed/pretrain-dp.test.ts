// Data-parallel pre-training on 2 CPU ranks over Gloo, through the real
// launcher (`baichuan2 launch --nproc 2 -- pretrain`):
// - 2 ranks x batch b follow the loss curve of 1 rank x batch 2b within 1e-6
//   relative. Both see the same rows per step (the loader hands rank r rows
//   [r b, (r+1) b) of each global batch); what differs is only the float32
//   summation order of the weight gradients (one GEMM over 2b T rows against
//   two over b T added by the all-reduce) and of the loss mean, about 1 ulp
//   (6e-8) per value; AdamW's update is lr-bounded, so after 6 steps the
//   curves agree to a few 1e-7. A wrong data split, a missing average or a
//   skipped all-reduce moves the loss by > 1e-3 (asserted below as a control).
// - ZeRO-1 (reduce-scatter, global-norm clip, sharded AdamW, all-gather)
//   gives plain data parallel's curve within the same 1e-6 (with 2 ranks the
//   reduced sums are the same a + b; only the grouping of the float64 norm differs).
// - A ZeRO-1 checkpoint written by 2 ranks resumes on 1 rank (batch 2b) and on
//   2 ranks with the same continuation (2 ranks: bit for bit).
// - SIGKILL of one rank ends the job within seconds, naming the rank; SIGINT
//   to one rank, or to the launcher, saves one checkpoint and stops both with
//   exit 130.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setThreads } from '../../src/engine/backend.js';
import { trainBpe } from '../../src/tokenizer/trainer.js';
import { serializeModel } from '../../src/tokenizer/sentencepiece-model.js';
import { prepare } from '../../src/data/prepare.js';
import { parseTrainConfig } from '../../src/train/config.js';
import { pretrain, type StepMetrics } from '../../src/train/trainer.js';
import { glooStatus } from '../../src/distributed/gloo.js';
import { cli } from './run.js';
import { freePort } from '../../src/distributed/launch.js';

setThreads(1);
const gloo = glooStatus();
const skip = gloo.available ? false : gloo.reason;

function corpus(): string[] {
  const zh = ['子曰：学而时习之，不亦说乎？', '床前明月光，疑是地上霜。', '春眠不觉晓，处处闻啼鸟。'];
  const en = ['The quick brown fox jumps over the lazy dog.', 'To be, or not to be, that is the question.'];
  return Array.from({ length: 60 }, (_, i) => `${zh[i % 3]}\n${en[i % 2]} ${i} apples.\nfunction add(a, b) { return a + b * ${i}; }`);
}

async function dataset(dir: string): Promise<string> {
  const { model } = trainBpe(corpus(), { vocabSize: 600 });
  fs.writeFileSync(path.join(dir, 'tokenizer.model'), serializeModel(model));
  fs.writeFileSync(path.join(dir, 'c.jsonl'), corpus().map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
  const data = path.join(dir, 'data');
  await prepare({ tokenizer: path.join(dir, 'tokenizer.model'), inputs: [path.join(dir, 'c.jsonl')], out: data, valFraction: 0.1, workers: 1 });
  return data;
}

const small = { hidden_size: 32, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 64, model_max_length: 64 };
const B = 2;
const base = (data: string) => ({ data, seed: 3, model: { preset: 'tiny', config: small }, seqLen: 16, steps: 6, warmupSteps: 2, peakLr: 3e-3, minLr: 3e-4, evalEvery: 3, evalBatches: 2, checkpointEvery: 3, keepCheckpoints: 4 });

function metrics(out: string): StepMetrics[] {
  return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StepMetrics);
}

/** Largest relative difference of loss, gradient norm and validation loss, step by step. */
function curveDiff(a: StepMetrics[], b: StepMetrics[]): number {
  assert.deepEqual(a.map((m) => m.step), b.map((m) => m.step));
  let worst = 0;
  a.forEach((m, i) => {
    const n = b[i]!;
    for (const k of ['loss', 'grad_norm', 'val_loss'] as const) {
      assert.equal(m[k] === undefined, n[k] === undefined, `step ${m.step}: ${k} present in one run only`);
      if (m[k] !== undefined) worst = Math.max(worst, Math.abs(m[k]! - n[k]!) / Math.abs(n[k]!));
    }
  });
  return worst;
}

function launchArgs(cfg: string, extra: string[] = []): string[] {
  return ['launch', '--nproc', '2', '--', 'pretrain', '--config', cfg, ...extra];
}

function writeConfig(dir: string, name: string, c: Record<string, unknown>): string {
  const f = path.join(dir, `${name}.json`);
  fs.writeFileSync(f, JSON.stringify(c));
  return f;
}

test('2 ranks x batch b = 1 rank x batch 2b (1e-6); ZeRO-1 = data parallel; a 2-rank checkpoint resumes on 1 and on 2 ranks', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-dp-'));
  const data = await dataset(dir);
  const one = await pretrain(parseTrainConfig({ ...base(data), batchSize: 2 * B, out: path.join(dir, 'one') }));
  const dp = await cli(launchArgs(writeConfig(dir, 'dp', { ...base(data), batchSize: B, out: path.join(dir, 'dp') })));
  assert.equal(dp.code, 0, dp.stderr);
  assert.match(dp.stderr, /launch: 2 rank\(s\)/);
  const zero = await cli(launchArgs(writeConfig(dir, 'zero', { ...base(data), batchSize: B, zeroStage: 1, out: path.join(dir, 'zero') })));
  assert.equal(zero.code, 0, zero.stderr);
  assert.match(dp.stderr, /data parallel: 2 ranks x batch 2 x accumulation 1 = 4 sequences per step; gradients all-reduced over gloo/);
  assert.match(zero.stderr, /ZeRO-1 \(optimizer state 1\/2 per rank\)/);
  const dDp = curveDiff(metrics(path.join(dir, 'dp')), one.metrics);
  const dZero = curveDiff(metrics(path.join(dir, 'zero')), metrics(path.join(dir, 'dp')));
  console.log(`max relative difference: 2 ranks vs 1 rank ${dDp.toExponential(2)}, ZeRO-1 vs DP ${dZero.toExponential(2)}`);
  assert.ok(dDp <= 1e-6, `data parallel vs one rank: ${dDp}`);
  assert.ok(dZero <= 1e-6, `ZeRO-1 vs data parallel: ${dZero}`);
  // two launchers of one rank each (--nnodes 2, as on two machines) run the same job bit for bit
  const port = String(await freePort());
  const nodes = writeConfig(dir, 'nodes', { ...base(data), batchSize: B, out: path.join(dir, 'nodes') });
  const node = (k: number) => cli(['launch', '--nnodes', '2', '--node-rank', String(k), '--nproc', '1', '--master-addr', '127.0.0.1', '--master-port', port, '--', 'pretrain', '--config', nodes]);
  const [n0, n1] = await Promise.all([node(0), node(1)]);
  assert.equal(n0.code, 0, n0.stderr);
  assert.equal(n1.code, 0, n1.stderr);
  assert.match(n1.stderr, /launch: 1 rank\(s\) on this node \(2 in all, node 1 of 2\)/);
  assert.deepEqual(metrics(path.join(dir, 'nodes')).map((m) => [m.loss, m.grad_norm, m.val_loss]), metrics(path.join(dir, 'dp')).map((m) => [m.loss, m.grad_norm, m.val_loss]));
  // control: the bound is far tighter than the effect of training on other data (one rank, batch b)
  const half = await pretrain(parseTrainConfig({ ...base(data), batchSize: B, out: path.join(dir, 'half') }));
  assert.ok(curveDiff(half.metrics, one.metrics) > 1e-3);
  // one checkpoint per save, written by rank 0 in the ordinary format; step 3 resumed on 1 rank and on 2 ranks
  const ckpts = fs.readdirSync(path.join(dir, 'zero', 'checkpoints')).filter((d) => d.startsWith('step-')).sort();
  assert.deepEqual(ckpts, ['step-0000003', 'step-0000006']);
  const from3 = (name: string) => {
    const out = path.join(dir, name);
    fs.mkdirSync(path.join(out, 'checkpoints'), { recursive: true });
    fs.cpSync(path.join(dir, 'zero', 'checkpoints', 'step-0000003'), path.join(out, 'checkpoints', 'step-0000003'), { recursive: true });
    fs.writeFileSync(path.join(out, 'checkpoints', 'latest.json'), JSON.stringify({ checkpoint: 'step-0000003', step: 3 }));
    fs.writeFileSync(path.join(out, 'metrics.jsonl'), metrics(path.join(dir, 'zero')).slice(0, 3).map((m) => JSON.stringify(m) + '\n').join(''));
    return out;
  };
  const on1 = await pretrain(parseTrainConfig({ ...base(data), batchSize: 2 * B, out: from3('on1') }), { resume: true });
  assert.equal(on1.step, 6);
  const z = metrics(path.join(dir, 'zero'));
  const d1 = curveDiff(on1.metrics.slice(3), z.slice(3));
  assert.ok(d1 <= 1e-6, `resumed on 1 rank: ${d1}`);
  const on2 = await cli(launchArgs(writeConfig(dir, 'on2', { ...base(data), batchSize: B, zeroStage: 1, out: from3('on2') }), ['--resume']));
  assert.equal(on2.code, 0, on2.stderr);
  assert.match(on2.stderr, /resumed from .*step-0000003 \(step 3\)/);
  assert.deepEqual(metrics(path.join(dir, 'on2')).map((m) => [m.loss, m.grad_norm, m.val_loss]), z.map((m) => [m.loss, m.grad_norm, m.val_loss]));
  // the micro-batch may be re-split, but not the global batch
  const bad = await cli(launchArgs(writeConfig(dir, 'bad', { ...base(data), batchSize: 2 * B, out: from3('bad') }), ['--resume']));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /different configuration.*global batch/);
});

test('a killed rank ends the job within seconds and is named; SIGINT to one rank, or to the launcher, saves and stops both', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-dp-'));
  const data = await dataset(dir);
  const long = { ...base(data), batchSize: B, steps: 100000, warmupSteps: 2, evalEvery: 100000, checkpointEvery: 100000 };
  const pids = (err: string) => Object.fromEntries([...err.matchAll(/(\d+):(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]));
  let killedAt = 0;
  const killed = await cli(launchArgs(writeConfig(dir, 'kill', { ...long, out: path.join(dir, 'kill') })), {
    during: (err) => {
      if (killedAt || !/step 1\/100000/.test(err)) return;
      killedAt = Date.now();
      process.kill(pids(err.match(/pids .*/)![0])[1]!, 'SIGKILL');
    },
  });
  const stopMs = Date.now() - killedAt;
  assert.ok(killedAt > 0, killed.stderr);
  assert.equal(killed.code, 1, killed.stderr);
  assert.match(killed.stderr, /launch: rank 1 \(pid \d+\) was killed by SIGKILL; stopping the other 1 rank/);
  assert.ok(stopMs < 10_000, `the job took ${stopMs} ms to stop`);
  console.log(`killed rank 1: the job stopped ${stopMs} ms later`);

  let sent = false;
  const stopped = await cli(launchArgs(writeConfig(dir, 'int', { ...long, out: path.join(dir, 'int') })), {
    during: (err) => {
      if (sent || !/step 1\/100000/.test(err)) return;
      sent = true;
      process.kill(pids(err.match(/pids .*/)![0])[1]!, 'SIGINT');  // rank 1 only: rank 0 must learn of it
    },
  });
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.match(stopped.stderr, /interrupt on another rank: saving a checkpoint after this step/);
  const ckpts = fs.readdirSync(path.join(dir, 'int', 'checkpoints')).filter((d) => d.startsWith('step-'));
  assert.equal(ckpts.length, 1);
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'int', 'checkpoints', ckpts[0]!, 'trainer_state.json'), 'utf8')) as { step: number };
  assert.equal(metrics(path.join(dir, 'int')).at(-1)!.step, state.step);
  // Ctrl-C at a terminal reaches the launcher: it forwards the interrupt to every rank
  let sent2 = false;
  const viaLauncher = await cli(launchArgs(writeConfig(dir, 'int2', { ...long, zeroStage: 1, out: path.join(dir, 'int2') })), {
    during: (err, pid) => { if (!sent2 && /step 1\/100000/.test(err)) { sent2 = true; process.kill(pid, 'SIGINT'); } },
  });
  assert.equal(viaLauncher.code, 130, viaLauncher.stderr);
  assert.match(viaLauncher.stderr, /launch: interrupt: every rank saves a checkpoint after this step and stops/);
  assert.equal(fs.readdirSync(path.join(dir, 'int2', 'checkpoints')).filter((d) => d.startsWith('step-')).length, 1);
});
