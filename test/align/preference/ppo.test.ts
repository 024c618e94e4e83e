// PPO / GRPO: the log-probs recorded while sampling (KV cache, left-padded
// batch) equal a fresh training forward on the same tokens; with a
// programmatic reward both raise the mean reward well above the start within a
// couple of dozen iterations while the KL to the reference stays bounded;
// stop + resume continues exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { rollout, trainPpo } from '../../../src/align/preference/ppo.js';
import { packSequences, tokenLogProbs } from '../../../src/align/preference/logprobs.js';
import { PpoConfigSchema, loadConfig } from '../../../src/align/preference/config.js';
import { loadModel } from '../../../src/io/hf-folder.js';
import { noGrad } from '../../../src/engine/autograd.js';
import { tmpDir, tinyModelDir, tinyChatModelDir, politeRewardModule, syntheticPairs, writeJsonl } from './fixture.js';

const quiet = () => {};
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

test('rollout log-probs (KV cache, left padding, temperature) equal a fresh training forward on the same tokens', () => {
  const actor = loadModel(tinyModelDir(61)).train();
  const prompts = [[195, 300, 301, 302, 196], [195, 303, 196], [195, 304, 305, 306, 307, 308, 196]];
  for (const temperature of [1, 0.7]) {
    const r = rollout(actor, prompts, { maxNewTokens: 12, temperature, topK: 0, topP: 1, seed: 5 });
    assert.ok(actor.training, 'rollout leaves the actor in training mode');
    const batch = packSequences(prompts.map((p, b) => ({ prompt: p, response: r.responses[b]! })), 0);
    const fresh = noGrad(() => tokenLogProbs(actor, batch, { temperature })).values;
    let worst = 0;
    r.responses.forEach((resp, b) => {
      assert.equal(r.logprobs[b]!.length, resp.length);
      resp.forEach((_, t) => { worst = Math.max(worst, Math.abs(fresh[b * batch.T + batch.start[b]! + t]! - r.logprobs[b]![t]!)); });
    });
    assert.ok(worst < 1e-5, `temperature ${temperature}: max |rollout - training forward| = ${worst}`);
  }
});

let start: Promise<string> | null = null;  // one fine-tuned starting model for both tests

async function learn(advantage: 'gae' | 'grpo') {
  const dir = tmpDir(`ppo-${advantage}`);
  const data = writeJsonl(path.join(dir, 'p.jsonl'), syntheticPairs(16, 5).map((p) => ({ prompt: p.prompt })));
  const model = await (start ??= tinyChatModelDir(71, 24));
  const cfg = {
    model, data, reward: politeRewardModule(dir), steps: 16, lr: 2e-3, maxNewTokens: 4, advantage, ppoEpochs: 2, criticWarmup: 2,
    batchSize: advantage === 'grpo' ? 4 : 16, groupSize: 4, checkpointEvery: 1000, seed: 1,
  };
  const r = await trainPpo(loadConfig(PpoConfigSchema, undefined, { ...cfg, out: path.join(dir, 'run') }), { log: quiet });
  return { dir, cfg, r };
}

for (const advantage of ['gae', 'grpo'] as const) {
  test(`${advantage === 'gae' ? 'PPO (GAE, critic from the actor with a zero value head)' : 'GRPO (group-normalised, no critic)'} raises a programmatic reward; KL stays bounded`, async () => {
    const { dir, cfg, r } = await learn(advantage);
    const rew = r.metrics.map((m) => m['reward/mean']!);
    const first = mean(rew.slice(0, 3)), end = mean(rew.slice(-4));
    const maxKl = Math.max(...r.metrics.map((m) => m.kl!));
    console.log(`${advantage}: mean reward ${first.toFixed(3)} (iterations 1-3) -> ${end.toFixed(3)} (iterations 13-16); max KL ${maxKl.toFixed(3)} nats/response; entropy ${r.metrics[0]!.entropy!.toFixed(2)} -> ${r.metrics.at(-1)!.entropy!.toFixed(2)}`);
    assert.ok(end > first + 0.25, `reward ${first} -> ${end}`);
    assert.ok(maxKl < 8, `KL ${maxKl}`);
    if (advantage === 'gae') {
      assert.equal(r.metrics[0]!.actor_updated, 0, 'critic warm-up freezes the actor');
      assert.equal(r.metrics[2]!.actor_updated, 1);
      assert.equal(r.metrics[0]!['clipfrac/policy'], 0);
      assert.ok(fs.existsSync(path.join(dir, 'run', 'critic', 'config.json')));
    }
    for (const k of ['step', 'loss', 'reward/mean', 'kl', 'entropy', 'loss/policy', 'loss/value']) assert.ok(k in r.metrics[0]!, k);
    assert.ok(fs.existsSync(path.join(dir, 'run', 'model', 'model.safetensors')));
    if (advantage === 'grpo') {
      // stopped after 3 iterations (as SIGINT does), resumed: iterations 4-6 are those of the uninterrupted run
      const c2 = loadConfig(PpoConfigSchema, undefined, { ...cfg, out: path.join(dir, 'run2') });
      await trainPpo(c2, { log: quiet, stopAfter: 3 });
      const rest = await trainPpo(c2, { log: quiet, resume: true, stopAfter: 6 });
      assert.equal(rest.step, 6);
      assert.deepEqual(rest.metrics.map((m) => m['reward/mean']), rew.slice(0, 6));
      assert.deepEqual(rest.metrics.map((m) => m.loss), r.metrics.slice(0, 6).map((m) => m.loss));
    }
  });
}
