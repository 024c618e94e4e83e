// Preference data: every accepted record shape, the token layout, malformed
// records named by file:line, the real HH file, and sequence log-probs that
// count response tokens (eos included) and never the prompt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readPreferencePairs, encodePair, parseHhText, readPrompts, describeSkipped } from '../../../src/align/preference/data.js';
import { packSequences, tokenLogProbs, sequenceSums, gatherLogProbs } from '../../../src/align/preference/logprobs.js';
import { sumLogProb } from '../../../src/infer/log-likelihood.js';
import { loadModel } from '../../../src/io/hf-folder.js';
import { Tensor } from '../../../src/engine/tensor.js';
import { backward } from '../../../src/engine/autograd.js';
import { targetLogProbsComposed } from '../../../src/engine/ops/loss.js';
import { numericGrad, randArray } from '../../helpers.js';
import { tmpDir, tokenizer, tinyModelDir, writeJsonl } from './fixture.js';

const HH = path.resolve('../shared/data/alignment/hh-rlhf/harmless-base-test.jsonl.gz');

test('preference records: explicit prompt, HH text, OpenAI messages; gap and margin; malformed records named', () => {
  const dir = tmpDir('data');
  const msgs = (a: string) => [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'q?' }, { role: 'assistant', content: a }];
  const file = writeJsonl(path.join(dir, 'p.jsonl'), [
    { prompt: 'q?', chosen: 'good', rejected: 'bad', gap: 3 },
    { prompt: 'q?', system: 'be kind', history: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }], chosen: 'good', rejected: 'bad', margin: 0.5 },
    { chosen: '\n\nHuman: hi\n\nAssistant: hello\n\nHuman: q?\n\nAssistant: good', rejected: '\n\nHuman: hi\n\nAssistant: hello\n\nHuman: q?\n\nAssistant: bad' },
    { chosen: msgs('good'), rejected: msgs('bad') },
    { prompt: [{ role: 'user', content: 'q?' }], chosen: [{ role: 'assistant', content: 'good' }], rejected: [{ role: 'assistant', content: 'bad' }] },
    { prompt: 'q?', chosen: 'good' },
    { chosen: '\n\nHuman: a\n\nAssistant: x', rejected: '\n\nHuman: b\n\nAssistant: y' },
    { prompt: 'q?', chosen: 'a', rejected: 'b', gap: 7 },
    { chosen: 'plain text', rejected: 'other' },
  ]);
  fs.appendFileSync(file, '{not json\n');
  const { pairs, report } = readPreferencePairs(file);
  assert.equal(pairs.length, 5);
  assert.deepEqual(report.skipped.map((s) => [s.line, s.reason]).sort((a, b) => (a[0] as number) - (b[0] as number)), [
    [6, 'missing chosen or rejected'], [7, 'chosen and rejected differ before the last assistant turn'], [8, 'gap must be an integer 1–5'],
    [9, 'chosen/rejected text without "\\n\\nHuman:"/"\\n\\nAssistant:" turns (or give "prompt")'], [10, 'invalid JSON'],
  ]);
  assert.match(describeSkipped(report), /p\.jsonl:6/);
  assert.equal(pairs[0]!.gap, 3);
  assert.equal(pairs[1]!.margin, 0.5);
  // the HH text and both message forms give the same conversation as the explicit history
  const hist = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'q?' }];
  for (const i of [2, 3]) assert.deepEqual(pairs[i]!.messages, hist);
  assert.deepEqual(pairs[1]!.messages, [{ role: 'system', content: 'be kind' }, ...hist]);
  for (const p of pairs) assert.deepEqual([p.chosen, p.rejected], ['good', 'bad']);
  assert.equal(pairs[2]!.where, `${file}:3`);

  const { tok } = tokenizer();
  const enc = (i: number) => encodePair(pairs[i]!, { encode: (t) => tok.encode(t), eosTokenId: 2, maxLength: 64 });
  const e0 = enc(0);
  assert.deepEqual(e0.prompt, [195, ...tok.encode('q?'), 196]);
  assert.deepEqual(e0.chosen, [...tok.encode('good'), 2]);
  assert.deepEqual(e0.rejected, [...tok.encode('bad'), 2]);
  assert.deepEqual(enc(1).prompt, [...tok.encode('be kind'), 195, ...tok.encode('hi'), 196, ...tok.encode('hello'), 195, ...tok.encode('q?'), 196]);
  assert.deepEqual(enc(2).prompt, enc(3).prompt);
  // too long: the prompt is cut from the left, the responses keep maxLength
  const long = encodePair({ messages: [{ role: 'user', content: 'red blue green '.repeat(20) }], chosen: 'yes', rejected: 'no', where: 'x' }, { encode: (t) => tok.encode(t), eosTokenId: 2, maxLength: 32 });
  assert.equal(long.prompt.length, 32 - long.chosen.length);
  assert.equal(long.prompt[long.prompt.length - 1], 196);
  assert.equal(long.truncated, false);

  const pf = writeJsonl(path.join(dir, 'prompts.jsonl'), [{ prompt: 'q?' }, { messages: hist }, { messages: msgs('x') }, pairs.length ? { prompt: 'z', chosen: 'a', rejected: 'b' } : {}, { foo: 1 }]);
  const pr = readPrompts(pf);
  assert.equal(pr.prompts.length, 3);
  assert.deepEqual(pr.report.skipped.map((s) => s.line), [3, 5]);
});

test('the HH harmless test split: 2,312 pairs, shared prefix split at the last assistant turn (TRL\'s rule where turns differ)', (t) => {
  if (!fs.existsSync(HH)) { t.skip(`${HH} not present (../shared/data)`); return; }
  const { pairs, report } = readPreferencePairs(HH);
  assert.equal(pairs.length, 2312, describeSkipped(report));
  // record 1255's chosen text carries an extra "Human:" turn: TRL's common-prefix rule gives the prompt
  assert.equal(pairs[1254]!.messages.length, 3);
  assert.ok(pairs[1254]!.chosen.includes('Human: Then how'));
  const first = pairs[0]!;
  assert.equal(first.messages[0]!.content, 'what are some pranks with a pen i can do?');
  assert.equal(first.messages[first.messages.length - 1]!.role, 'user');
  assert.ok(first.chosen.startsWith('No, sorry!'));
  assert.ok(pairs.every((p) => p.chosen !== p.rejected || p.chosen === ''));
  assert.deepEqual(parseHhText('\n\nHuman: a\n\nb\n\nAssistant: c'), [{ role: 'user', content: 'a\n\nb' }, { role: 'assistant', content: 'c' }]);
});

test('sequence log-probs: response tokens and eos only, equal to the inference scorer; padded batch = one by one', () => {
  const dir = tinyModelDir(3);
  const model = loadModel(dir);
  const seqs = [
    { prompt: [195, 300, 301, 196], response: [310, 311, 2] },
    { prompt: [195, 302, 196], response: [312, 313, 314, 315, 2] },
    { prompt: [195, 303, 304, 305, 306, 196], response: [2] },
  ];
  const batch = packSequences(seqs, 0);
  assert.equal(batch.T, 8);
  assert.deepEqual(Array.from(batch.targets.subarray(0, 8)), [-100, -100, -100, 310, 311, 2, -100, -100]);
  const sums = sequenceSums(tokenLogProbs(model, batch).values, batch);
  seqs.forEach((s, i) => {
    const direct = sumLogProb(model, [...s.prompt, ...s.response], s.prompt.length);
    assert.ok(Math.abs(sums[i]! - direct) < 1e-4, `row ${i}: ${sums[i]} vs ${direct}`);
    const alone = sequenceSums(tokenLogProbs(model, packSequences([s], 0)).values, packSequences([s], 0))[0]!;
    assert.ok(Math.abs(alone - sums[i]!) < 1e-5, `row ${i} padded vs alone: ${alone} vs ${sums[i]}`);
  });
});

test('gathered log-prob op: value = log-softmax at the target, gradient vs central differences; the composed fallback agrees', () => {
  const N = 4, V = 7;
  const x = randArray(N * V, 5, 2);
  const targets = Int32Array.from([3, -100, 0, 6]);
  const g = Float64Array.from([0.5, 2, -1.25, 1]);
  const f = (v: Float64Array) => {
    let s = 0;
    for (let r = 0; r < N; r++) {
      if (targets[r] === -100) continue;
      let m = -Infinity;
      for (let c = 0; c < V; c++) m = Math.max(m, v[r * V + c]!);
      let z = 0;
      for (let c = 0; c < V; c++) z += Math.exp(v[r * V + c]! - m);
      s += g[r]! * (v[r * V + targets[r]!]! - m - Math.log(z));
    }
    return s;
  };
  const logits = Tensor.from(x, [N, V]).requiresGrad_(true);
  const lp = gatherLogProbs(logits, targets);
  assert.equal(lp.f32()[1], 0);
  const direct = f(Float64Array.from(x));
  const got = Array.from(lp.f32()).reduce((s, v, r) => s + v * g[r]!, 0);
  assert.ok(Math.abs(got - direct) < 1e-5);
  backward(lp, Tensor.from(Float32Array.from(g), [N]));
  const num = numericGrad(f, x, 1e-4);
  const an = logits.grad!.f32();
  for (let i = 0; i < num.length; i++) assert.ok(Math.abs(an[i]! - num[i]!) < 2e-4, `dlogits[${i}] ${an[i]} vs ${num[i]}`);
  // the composed fallback (a backend without the fused kernel) gives the same values and gradient (f32 roundings only)
  const lc = Tensor.from(x, [N, V]).requiresGrad_(true);
  const comp = targetLogProbsComposed(lc, Tensor.from(targets, [N], 'i32'));
  comp.f32().forEach((v, r) => assert.ok(Math.abs(v - lp.f32()[r]!) < 1e-5, `composed row ${r}: ${v} vs ${lp.f32()[r]}`));
  backward(comp, Tensor.from(Float32Array.from(g), [N]));
  lc.grad!.f32().forEach((v, i) => assert.ok(Math.abs(v - an[i]!) < 1e-5, `composed dlogits[${i}] ${v} vs ${an[i]}`));
});
