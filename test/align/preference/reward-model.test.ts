// Reward model: loss gradients (head and trunk) against central differences
// through the whole model, 1 × 8 = 8 × 1 accumulation, the folder round trip,
// and > 90% held-out accuracy on a learnable synthetic preference, reported by
// gap in the paper's Table 4 layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadRewardModel, saveRewardModel, gapTable, accuracyByGap } from '../../../src/align/preference/reward-model.js';
import { rmMicroStep, trainRewardModel, evaluateRewardModel } from '../../../src/align/preference/train-rm.js';
import { loadPairs, pairSequences } from '../../../src/align/preference/dpo.js';
import { RmConfigSchema, loadConfig } from '../../../src/align/preference/config.js';
import { noGrad } from '../../../src/engine/autograd.js';
import { tmpDir, tinyModelDir, syntheticPairs, writeJsonl, tokenizer } from './fixture.js';

const quiet = () => {};

test('reward-model loss: gradients of the head and of a trunk weight vs central differences', () => {
  const dir = tmpDir('rmgrad');
  const data = writeJsonl(path.join(dir, 'p.jsonl'), syntheticPairs(4, 7).map((p, i) => ({ ...p, margin: i * 0.25 })));
  const pairs = loadPairs(data, tokenizer().file, { maxLength: 512 }, 2, quiet);
  const rm = loadRewardModel(tinyModelDir(41), { newHead: 'normal', seed: 3 });
  rm.score.data.set(rm.score.f32().map((v) => v * 50));  // a head large enough to give O(1) rewards
  rm.train();
  rmMicroStep(rm, pairs, pairs.length);
  const w = [...rm.lm.namedParameters()].find(([n]) => n === 'model.layers.1.mlp.down_proj.weight')![1];
  const loss = () => noGrad(() => rmMicroStep(rm, pairs, pairs.length).loss);
  for (const [name, t] of [['score.weight', rm.score], ['down_proj', w]] as const) {
    const g = t.grad!.f32();
    const data32 = t.data as Float32Array;
    // the largest-gradient coordinates (where f32 round-off is small against the signal)
    const idx = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 4);
    for (const i of idx) {
      const v = data32[i]!, h = 1e-2 * Math.max(1, Math.abs(v));
      data32[i] = v + h; const lp = loss();
      data32[i] = v - h; const lm = loss();
      data32[i] = v;
      const num = (lp - lm) / (2 * h);
      assert.ok(Math.abs(num - g[i]!) <= 2e-2 * Math.abs(g[i]!) + 1e-6, `${name}[${i}]: autograd ${g[i]} vs central ${num}`);
    }
  }
});

test('reward-model gradient accumulation: 1 × 8 equals 8 × 1; folder round trip keeps the scores', () => {
  const dir = tmpDir('rmacc');
  const data = writeJsonl(path.join(dir, 'p.jsonl'), syntheticPairs(8, 8));
  const pairs = loadPairs(data, tokenizer().file, { maxLength: 512 }, 2, quiet);
  const base = tinyModelDir(42);
  const grads = (micro: number) => {
    const rm = loadRewardModel(base, { newHead: 'normal', seed: 5 }).train();
    for (let i = 0; i < 8; i += micro) rmMicroStep(rm, pairs.slice(i, i + micro), 8);
    return rm.namedParameters().map(([n, p]) => [n, p.grad?.f32() ?? null] as const);
  };
  const a = grads(8), b = grads(1);
  for (let k = 0; k < a.length; k++) {
    const [n, ga] = a[k]!, gb = b[k]![1];
    if (!ga) { assert.equal(gb, null, n); continue; }
    let d = 0, s = 0;
    for (let i = 0; i < ga.length; i++) { d = Math.max(d, Math.abs(ga[i]! - gb![i]!)); s = Math.max(s, Math.abs(ga[i]!)); }
    assert.ok(d <= 1e-5 * s + 1e-9, `${n}: ${d} vs ${s}`);
  }
  const rm = loadRewardModel(base, { newHead: 'normal', seed: 5 });
  const out = path.join(dir, 'rm');
  saveRewardModel(rm, out, tokenizer().file);
  const back = loadRewardModel(out);
  assert.deepEqual(Array.from(back.scoreSequences(pairSequences(pairs))), Array.from(rm.scoreSequences(pairSequences(pairs))));
  assert.throws(() => loadRewardModel(base), /not a reward model folder/);
});

test('reward model learns a synthetic preference: > 90% held-out accuracy, by gap (Table 4 layout); resume is exact', async () => {
  const dir = tmpDir('rmlearn');
  const data = writeJsonl(path.join(dir, 'p.jsonl'), syntheticPairs(100, 9, true));
  const cfg = { model: tinyModelDir(43), data, steps: 14, batchSize: 8, lr: 3e-3, validationFraction: 0.2, evalEvery: 7 };
  const r = await trainRewardModel(loadConfig(RmConfigSchema, undefined, { ...cfg, out: path.join(dir, 'run') }), { log: quiet });
  const v = r.validation!;
  const first = r.metrics.find((m) => m.val_accuracy !== undefined)!;
  console.log(`RM tiny: held-out accuracy ${(100 * v.overall.accuracy).toFixed(1)}% of ${v.overall.pairs} (step ${first.step}: ${(100 * first.val_accuracy!).toFixed(1)}%), train loss ${r.metrics[0]!.loss.toFixed(3)} -> ${r.metrics.at(-1)!.loss.toFixed(3)}`);
  assert.ok(v.overall.accuracy > 0.9, `held-out accuracy ${v.overall.accuracy}`);
  assert.equal(v.byGap.length, 5);
  const md = fs.readFileSync(path.join(dir, 'run', 'eval.md'), 'utf8');
  assert.match(md, /\| Gap \| 1 \(unsure\) \| 2 \(negligibly better\) \| 3 \(slightly\) \| 4 \(better\) \| 5 \(significantly\) \| All \|/);
  assert.match(md, /\| Acc \(paper, Table 4\) \| 54.5% \| 61.1% \| 70.2% \| 77.8% \| 81.5% \|/);
  const again = evaluateRewardModel(loadRewardModel(r.modelDir), loadPairs(data, tokenizer().file, { maxLength: 512 }, 2, quiet).slice(80));
  assert.equal(again.overall.accuracy, v.overall.accuracy);
  const c2 = loadConfig(RmConfigSchema, undefined, { ...cfg, out: path.join(dir, 'run2') });
  await trainRewardModel(c2, { log: quiet, stopAfter: 5 });
  const rest = await trainRewardModel(c2, { log: quiet, resume: true });
  assert.deepEqual(rest.metrics.map((m) => m.loss), r.metrics.map((m) => m.loss));
  assert.ok('accuracy' in rest.metrics[0]!);
});

test('accuracy by gap and the Table 4 table', () => {
  const r = accuracyByGap([1, 2, 0, 5], [0, 3, -1, 1], [1, 1, 5, undefined]);
  assert.equal(r.overall.accuracy, 0.75);
  assert.deepEqual(r.byGap.map((g) => [g.gap, g.pairs, g.correct]), [[1, 2, 1], [5, 1, 1], [null, 1, 1]]);
  assert.match(gapTable(r), /\| Acc \(this model, pairs\) \| 50.0% \(2\) \| – \| – \| – \| 100.0% \(1\) \| 75.0% \(4\) \|/);
});
