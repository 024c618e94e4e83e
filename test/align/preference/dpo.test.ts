// DPO: step-0 loss is exactly log 2 when the policy is the reference; the
// logged loss equals a direct computation from two models' log-probs;
// gradient accumulation 1 × 8 equals 8 × 1; on a tiny model DPO raises the
// held-out accuracy and margin; SIGINT-style stop + resume continues exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { trainDpo, dpoMicroStep, loadPairs, referenceLogProbs, dpoEvaluate } from '../../../src/align/preference/dpo.js';
import { DpoConfigSchema, loadConfig } from '../../../src/align/preference/config.js';
import { sumLogProb } from '../../../src/infer/log-likelihood.js';
import { loadModel } from '../../../src/io/hf-folder.js';
import { tmpDir, tinyModelDir, syntheticPairs, writeJsonl, tokenizer } from './fixture.js';

const quiet = () => {};

test('DPO: step-1 loss is exactly log 2 with the initial policy as reference; equals the direct formula with another reference', async () => {
  const dir = tmpDir('dpo0');
  const data = writeJsonl(path.join(dir, 'p.jsonl'), syntheticPairs(12, 2));
  const model = tinyModelDir(11), other = tinyModelDir(12);
  const base = { model, data, steps: 1, batchSize: 4, lr: 1e-3 };
  const r0 = await trainDpo(loadConfig(DpoConfigSchema, undefined, { ...base, out: path.join(dir, 'a') }), { log: quiet });
  assert.equal(r0.metrics[0]!.loss, Math.LN2);
  assert.equal(r0.metrics[0]!['rewards/margin'], 0);
  assert.equal(r0.metrics[0]!['rewards/accuracy'], 0);
  // reference = another model: recompute the same four pairs with the inference scorer
  const r1 = await trainDpo(loadConfig(DpoConfigSchema, undefined, { ...base, out: path.join(dir, 'b'), ref: other, beta: 0.3 }), { log: quiet });
  const refLines = fs.readFileSync(path.join(dir, 'b', 'reference-logprobs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { chosen: number; rejected: number });
  const pairs = loadPairs(data, path.join(model, 'tokenizer.model'), { maxLength: 512 }, 2, quiet);
  const pol = loadModel(model), ref = loadModel(other);
  const lp = (m: typeof pol, p: number[], resp: number[]) => sumLogProb(m, [...p, ...resp], p.length);
  // the first batch of the seeded order
  const { IndexLoader } = await import('../../../src/align/preference/run.js');
  const idx = new IndexLoader(pairs.length, 0).next(4);
  let direct = 0, margin = 0;
  for (const i of idx) {
    const p = pairs[i]!;
    const rc = lp(ref, p.prompt, p.chosen), rr = lp(ref, p.prompt, p.rejected);
    assert.ok(Math.abs(rc - refLines[i]!.chosen) < 1e-4 && Math.abs(rr - refLines[i]!.rejected) < 1e-4, 'stored reference log-probs');
    const h = 0.3 * (lp(pol, p.prompt, p.chosen) - rc - (lp(pol, p.prompt, p.rejected) - rr));
    direct += Math.log1p(Math.exp(-h)) / 4;
    margin += h / 4;
  }
  assert.ok(Math.abs(r1.metrics[0]!.loss - direct) < 1e-5, `loss ${r1.metrics[0]!.loss} vs direct ${direct}`);
  assert.ok(Math.abs(r1.metrics[0]!['rewards/margin']! - margin) < 1e-5);
});

test('DPO gradient accumulation: one micro-batch of 8 equals 8 micro-batches of 1', () => {
  const dir = tmpDir('dpoacc');
  const data = writeJsonl(path.join(dir, 'p.jsonl'), syntheticPairs(8, 3));
  const model = tinyModelDir(21), other = tinyModelDir(22);
  const pairs = loadPairs(data, tokenizer().file, { maxLength: 512 }, 2, quiet);
  const ref = referenceLogProbs(loadModel(other), pairs, false);
  const grads = (micro: number) => {
    const m = loadModel(model).train();
    for (let i = 0; i < 8; i += micro) dpoMicroStep(m, pairs.slice(i, i + micro), ref.chosen.slice(i, i + micro), ref.rejected.slice(i, i + micro), { beta: 0.1 }, 8);
    return [...m.namedParameters()].map(([n, p]) => [n, p.grad!.f32()] as const);
  };
  const a = grads(8), b = grads(1);
  for (let k = 0; k < a.length; k++) {
    const [n, ga] = a[k]!, gb = b[k]![1];
    let d = 0, s = 0;
    for (let i = 0; i < ga.length; i++) { d = Math.max(d, Math.abs(ga[i]! - gb[i]!)); s = Math.max(s, Math.abs(ga[i]!)); }
    assert.ok(d <= 1e-5 * s + 1e-9, `${n}: max diff ${d} vs max ${s}`);
  }
});

test('DPO learns a synthetic preference on a tiny model (held-out accuracy and margin rise); stop + resume continues exactly', async () => {
  const dir = tmpDir('dpolearn');
  const data = writeJsonl(path.join(dir, 'p.jsonl'), syntheticPairs(80, 4));
  const model = tinyModelDir(31);
  const cfg = { model, data, steps: 16, batchSize: 8, lr: 3e-3, beta: 0.1, validationFraction: 0.2, checkpointEvery: 1000 };
  const c = loadConfig(DpoConfigSchema, undefined, { ...cfg, out: path.join(dir, 'run') });
  // before: the initial policy is its own reference (margin 0, accuracy 0 by the strict > rule)
  const pairs = loadPairs(data, tokenizer().file, { maxLength: 512 }, 2, quiet);
  const val = pairs.slice(64);
  const ref = referenceLogProbs(loadModel(model), val, false);
  const before = dpoEvaluate(loadModel(model), val, ref, { beta: 0.1 });
  const r = await trainDpo(c, { log: quiet });
  const after = dpoEvaluate(loadModel(r.modelDir), val, ref, { beta: 0.1 });
  console.log(`DPO tiny: held-out accuracy ${before.accuracy.toFixed(2)} -> ${after.accuracy.toFixed(2)}, margin ${before.margin.toFixed(3)} -> ${after.margin.toFixed(3)}, loss ${before.loss.toFixed(4)} -> ${after.loss.toFixed(4)}; train loss ${r.metrics[0]!.loss.toFixed(4)} -> ${r.metrics.at(-1)!.loss.toFixed(4)}`);
  assert.ok(after.accuracy >= 0.9, `held-out accuracy ${after.accuracy}`);
  assert.ok(after.margin > 0.5, `held-out margin ${after.margin}`);
  assert.ok(r.validation && Math.abs(r.validation.accuracy - after.accuracy) < 1e-9);
  // interrupted after step 7, resumed to 16: the same curve (bit-exact) and the same final loss
  const c2 = loadConfig(DpoConfigSchema, undefined, { ...cfg, out: path.join(dir, 'run2') });
  const part = await trainDpo(c2, { log: quiet, stopAfter: 7 });
  assert.equal(part.step, 7);
  const rest = await trainDpo(c2, { log: quiet, resume: true });
  assert.equal(rest.step, 16);
  assert.deepEqual(rest.metrics.map((m) => m.loss), r.metrics.map((m) => m.loss));
  const rows = fs.readFileSync(path.join(dir, 'run2', 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.equal(rows.length, 16);
  for (const k of ['step', 'loss', 'rewards/chosen', 'rewards/rejected', 'rewards/accuracy', 'rewards/margin']) assert.ok(k in JSON.parse(rows[0]!), k);
  assert.throws(() => loadConfig(DpoConfigSchema, undefined, { ...cfg, out: 'x', betta: 1 }), /Unrecognized key\(s\) in object: 'betta'/);
});
