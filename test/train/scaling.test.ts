// Scaling laws: the curve fit recovers known parameters, and a miniature
// experiment runs end to end (ladder, fit, prediction, target, report).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fitPowerLaw, evalPowerLaw } from '../../src/train/curve-fit.js';
import { parseScalingConfig, runScaling } from '../../src/train/scaling.js';
import { trainBpe } from '../../src/tokenizer/trainer.js';
import { serializeModel } from '../../src/tokenizer/sentencepiece-model.js';
import { prepare } from '../../src/data/prepare.js';

test('the power-law fit recovers a, b and L_inf from exact and noisy points', () => {
  const truth = { a: 2.5e3, b: -0.3, lInf: 1.7, rmse: 0 };
  const C = [1e12, 3e12, 1e13, 3e13, 1e14, 3e14];
  const fit = fitPowerLaw(C, C.map((c) => evalPowerLaw(truth, c)));
  assert.ok(Math.abs(fit.b - truth.b) < 1e-4, `b ${fit.b}`);
  assert.ok(Math.abs(fit.lInf - truth.lInf) < 1e-4, `L_inf ${fit.lInf}`);
  assert.ok(Math.abs(fit.a / truth.a - 1) < 1e-3, `a ${fit.a}`);
  // 0.2% noise: the extrapolation one decade out stays within 1%
  const noisy = C.map((c, i) => evalPowerLaw(truth, c) * (1 + 0.002 * (i % 2 ? 1 : -1)));
  const f2 = fitPowerLaw(C, noisy);
  assert.ok(Math.abs(evalPowerLaw(f2, 3e15) / evalPowerLaw(truth, 3e15) - 1) < 0.01);
  assert.throws(() => fitPowerLaw([1, 2], [3, 4]), /at least 3/);
  // non-monotonic losses (a budget too small for the larger models) still give a finite, decreasing law
  const bad = fitPowerLaw([2.673e11, 4.189e11, 6.378e11, 1.183e12], [5.6123, 5.4659, 5.4107, 5.5727]);
  assert.ok([bad.a, bad.b, bad.lInf].every(Number.isFinite) && bad.b < 0, JSON.stringify(bad));
  assert.ok(Number.isFinite(evalPowerLaw(bad, 3e12)));
});

test('a miniature scaling experiment runs end to end and writes its report', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-scaling-'));
  const texts = Array.from({ length: 80 }, (_, i) => `The ${['cat', 'dog', 'bird'][i % 3]} number ${i} sat on the mat. 猫坐在垫子上。 x = ${i} + 1;`);
  const { model } = trainBpe(texts, { vocabSize: 520 });
  fs.writeFileSync(path.join(dir, 't.model'), serializeModel(model));
  fs.writeFileSync(path.join(dir, 'c.jsonl'), texts.map((t) => JSON.stringify({ text: t })).join('\n'));
  await prepare({ tokenizer: path.join(dir, 't.model'), inputs: [path.join(dir, 'c.jsonl')], out: path.join(dir, 'data'), valFraction: 0.1 });
  const c = parseScalingConfig({
    data: path.join(dir, 'data'), out: path.join(dir, 'scaling'), tokens: 6000, batchSize: 4, seqLen: 32,
    ladder: [{ hidden: 16, ffn: 48, layers: 1, heads: 2 }, { hidden: 24, ffn: 72, layers: 1, heads: 2 }, { hidden: 32, ffn: 96, layers: 2, heads: 2 }],
    target: { hidden: 48, ffn: 144, layers: 2, heads: 2 },
  });
  const r = await runScaling(c);
  assert.equal(r.points.length, 3);
  assert.ok(r.points.every((p) => Number.isFinite(p.valLoss)) && Number.isFinite(r.predicted));
  assert.ok(r.points[2]!.flops > r.points[0]!.flops);
  for (const f of ['scaling.json', 'scaling.svg', 'scaling.md']) assert.ok(fs.existsSync(path.join(c.out, f)), f);
  assert.throws(() => parseScalingConfig({ data: 'd', out: 'o', ladder: [] }), /ladder: Array must contain at least 3/);
  assert.throws(() => parseScalingConfig({ data: 'd', out: 'o', target: { hidden: 30, ffn: 90, layers: 1, heads: 4 } }), /must split into 4 heads/);
});
