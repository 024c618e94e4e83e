// Continuous batching (infer/batch): a sequence's output does not depend on
// its batch companions, slots are reused, and a lone sequence reproduces
// generate() exactly (same ids, same logits path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContinuousBatch, type SequenceOptions } from '../../src/infer/batch.js';
import { generate } from '../../src/infer/generate.js';
import { configFromJSON, PRESETS } from '../../src/model/config.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { applyPresencePenalties, sampleToken } from '../../src/infer/sampling.js';
import { Rng } from '../../src/engine/rng.js';
import { readGenerationConfig, resolveSampling, BAICHUAN_GENERATION_DEFAULTS } from '../../src/infer/generation-config.js';

function tiny(position: 'rope' | 'alibi'): BaichuanForCausalLM {
  return new BaichuanForCausalLM(configFromJSON({ ...PRESETS.tiny, vocab_size: 300, position_embedding: position })).initWeights(7).eval();
}

/** Run sequences to the end; `joinAt[i]` is the step at which sequence i is added. */
function run(b: ContinuousBatch, prompts: number[][], opts: SequenceOptions[], joinAt: number[]): number[][] {
  const ids = new Map<number, number>();
  const out: number[][] = prompts.map(() => []);
  let step = 0;
  while (ids.size < prompts.length || b.active > 0) {
    prompts.forEach((p, i) => { if (joinAt[i] === step) ids.set(b.add(p, opts[i]!), i); });
    for (const t of b.step()) {
      out[ids.get(t.seq)!]!.push(t.token);
      if (t.done) b.remove(t.seq);
    }
    step++;
  }
  return out;
}

const prompts = [[5, 6, 7, 8, 9, 10], [20, 21], [30, 31, 32, 33], [40], [50, 51, 52], [60, 61, 62, 63, 64, 65, 66], [70, 71], [80, 81, 82, 83]];

test('greedy and seeded sampling: identical alone and in a batch of 8 joining at different steps (rope and alibi)', () => {
  for (const pos of ['rope', 'alibi'] as const) {
    const m = tiny(pos);
    const greedy: SequenceOptions = { greedy: true, maxNewTokens: 12, seed: 0, eosTokenId: -1 };
    const alone = prompts.map((p) => run(new ContinuousBatch(m, { slots: 1 }), [p], [greedy], [0])[0]!);
    const together = run(new ContinuousBatch(m, { slots: 8 }), prompts, prompts.map(() => greedy), [0, 0, 1, 3, 3, 5, 8, 9]);
    assert.deepEqual(together, alone, `${pos}: greedy in a batch`);
    // a lone sequence is exactly generate() (prefill + cached decode)
    prompts.slice(0, 3).forEach((p, i) => assert.deepEqual(alone[i], generate(m, [p], { greedy: true, maxNewTokens: 12, eosTokenId: -1 }).tokens[0], `${pos} row ${i} vs generate`));
    const sampled = prompts.map((_, i): SequenceOptions => ({ temperature: 0.9, topK: 50, topP: 0.95, repetitionPenalty: 1.1, frequencyPenalty: 0.3, presencePenalty: 0.2, maxNewTokens: 10, seed: 100 + i, eosTokenId: -1 }));
    const sAlone = prompts.map((p, i) => run(new ContinuousBatch(m, { slots: 2 }), [p], [sampled[i]!], [0])[0]!);
    const sTogether = run(new ContinuousBatch(m, { slots: 8, rowsPerForward: 4 }), prompts, sampled, [2, 0, 0, 1, 0, 4, 0, 0]);
    assert.deepEqual(sTogether, sAlone, `${pos}: sampled in a batch`);
    // different seeds give different samples (so the equality above is not vacuous)
    assert.notDeepEqual(run(new ContinuousBatch(m, { slots: 1 }), [prompts[0]!], [{ ...sampled[0]!, seed: 999 }], [0])[0], sAlone[0]);
  }
});

test('slots: freed and reused, capacity and vocabulary enforced, logprobs are a distribution', () => {
  const m = tiny('rope');
  const b = new ContinuousBatch(m, { slots: 2, capacity: 32 });
  const o: SequenceOptions = { greedy: true, maxNewTokens: 4, seed: 0, eosTokenId: -1, topLogprobs: 3 };
  const a = b.add([1, 2, 3], o), c = b.add([4, 5], o);
  assert.throws(() => b.add([6], o), /no free slot/);
  const first = b.step();
  assert.equal(first.length, 2);
  for (const t of first) {
    assert.ok(t.prefill && t.logprob && t.logprob.top.length === 3);
    assert.equal(t.logprob!.top[0]!.id, t.token, 'greedy picks the top log-prob');
    assert.ok(t.logprob!.top[0]!.logprob >= t.logprob!.top[1]!.logprob && t.logprob!.top[1]!.logprob >= t.logprob!.top[2]!.logprob);
    assert.ok(t.logprob!.logprob < 0);
  }
  b.remove(a);
  assert.equal(b.free, 1);
  const d = b.add([7, 8, 9, 10], o);
  const next = b.step();
  assert.deepEqual(next.map((t) => [t.seq, t.prefill]).sort(), [[c, false], [d, true]].sort());
  assert.throws(() => b.add([1], o), /no free slot/);
  b.remove(c); b.remove(d);
  assert.throws(() => b.add(new Array(30).fill(3), o), /exceeds the slot capacity 32/);
  assert.throws(() => b.add([300], o), /outside the vocabulary/);
  assert.throws(() => b.add([1], { ...o, temperature: -1, greedy: false }), /temperature must be > 0/);
  assert.equal(b.free, 2);
});

test('OpenAI frequency/presence penalties and the sampling-settings policy', () => {
  const l = Float32Array.from([1, 1, 1, 1]);
  applyPresencePenalties(l, new Map([[1, 3], [2, 1]]), 0.5, 0.25);
  assert.deepEqual(Array.from(l), [1, 1 - 1.5 - 0.25, 1 - 0.5 - 0.25, 1]);
  const d = BAICHUAN_GENERATION_DEFAULTS;
  assert.deepEqual(resolveSampling({}, d), { greedy: false, temperature: 0.3, topK: 5, topP: 0.85, repetitionPenalty: 1.05 });
  assert.deepEqual(resolveSampling({ temperature: 0 }, d), { greedy: true, temperature: 0.3, topK: 5, topP: 0.85, repetitionPenalty: 1 });
  assert.equal(resolveSampling({ temperature: 0, repetitionPenalty: 1.2 }, d).repetitionPenalty, 1.2);
  assert.equal(resolveSampling({}, { ...d, doSample: false }).greedy, true);
  assert.equal(resolveSampling({ topK: 0, temperature: 0.7 }, d).topK, 0);
  assert.deepEqual(readGenerationConfig('/nonexistent-folder'), d);
});

test('top-k selection in one pass picks what a full sort picks (ties to the lower id)', () => {
  const r = new Rng(3);
  for (let trial = 0; trial < 40; trial++) {
    const V = 50 + r.int(300);
    const logits = Float32Array.from({ length: V }, () => Math.round(r.normal() * 4) / 2);  // many ties
    for (const k of [1, 2, 5, 40]) {
      const ref = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, k);
      // with temperature -> 0 the draw follows the candidate order: u in [0,1) walks the same prefix
      for (let s = 0; s < 5; s++) {
        const o = { temperature: 0.7, topK: k, topP: 0.9 };
        const got = sampleToken(logits.slice(), [], o, new Rng(s));
        const refTok = refSample(logits.slice(), ref, o, new Rng(s));
        assert.equal(got, refTok, `V=${V} k=${k} seed=${s}`);
      }
    }
  }
});

/** The sampler of infer/sampling.ts written over explicitly sorted candidates. */
function refSample(logits: Float32Array, idx: number[], o: { temperature: number; topP: number }, rng: Rng): number {
  const m = logits[idx[0]!]! / o.temperature;
  let probs = idx.map((i) => Math.exp(logits[i]! / o.temperature - m));
  let z = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / z);
  let cum = 0, keep = 0;
  while (keep < probs.length) { cum += probs[keep]!; keep++; if (cum >= o.topP) break; }
  const cand = idx.slice(0, keep);
  probs = probs.slice(0, keep);
  z = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / z);
  let u = rng.uniform();
  for (let i = 0; i < cand.length; i++) { u -= probs[i]!; if (u < 0) return cand[i]!; }
  return cand[cand.length - 1]!;
}
