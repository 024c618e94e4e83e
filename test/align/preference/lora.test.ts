// LoRA in the preference trainers (h-sft's PEFT adapter): the reference is the
// adapter-off base, so DPO's first loss is exactly ln 2 and PPO's first KL
// exactly 0, the KL grows once the adapter moves, and OUT/model is an adapter folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { trainDpo } from '../../../src/align/preference/dpo.js';
import { trainPpo } from '../../../src/align/preference/ppo.js';
import { DpoConfigSchema, PpoConfigSchema, loadConfig } from '../../../src/align/preference/config.js';
import { readAdapterConfig } from '../../../src/align/lora.js';
import { tmpDir, tinyModelDir, syntheticPairs, writeJsonl } from './fixture.js';

const quiet = () => {};
const lora = { r: 4, alpha: 8, dropout: 0, targets: ['W_pack', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };

test('DPO with LoRA: ln 2 at step 1 (reference = adapter-off base), learns, writes a PEFT adapter; resume continues exactly', async () => {
  const dir = tmpDir('dpolora');
  const data = writeJsonl(path.join(dir, 'p.jsonl'), syntheticPairs(32, 6));
  const cfg = { model: tinyModelDir(91), data, steps: 8, batchSize: 8, lr: 1e-2, lora, checkpointEvery: 1000 };
  const r = await trainDpo(loadConfig(DpoConfigSchema, undefined, { ...cfg, out: path.join(dir, 'run') }), { log: quiet });
  assert.equal(r.metrics[0]!.loss, Math.LN2);
  const last = r.metrics.slice(-3);
  console.log(`DPO LoRA: loss ${r.metrics[0]!.loss.toFixed(4)} -> ${r.metrics.at(-1)!.loss.toFixed(4)}, margin -> ${r.metrics.at(-1)!['rewards/margin']!.toFixed(3)}`);
  assert.ok(last.every((m) => m.loss < 0.6 && m['rewards/margin']! > 0), JSON.stringify(last.map((m) => m.loss)));
  assert.deepEqual(readAdapterConfig(r.modelDir).config.targets, lora.targets);
  assert.ok(!fs.existsSync(path.join(r.modelDir, 'model.safetensors')));
  const c2 = loadConfig(DpoConfigSchema, undefined, { ...cfg, out: path.join(dir, 'run2') });
  await trainDpo(c2, { log: quiet, stopAfter: 3 });
  const rest = await trainDpo(c2, { log: quiet, resume: true });
  assert.deepEqual(rest.metrics.map((m) => m.loss), r.metrics.map((m) => m.loss));
});

test('PPO with LoRA: the reference is the base with the adapter off (KL exactly 0 at iteration 1, then > 0)', async () => {
  const dir = tmpDir('ppolora');
  const data = writeJsonl(path.join(dir, 'p.jsonl'), syntheticPairs(8, 5).map((p) => ({ prompt: p.prompt })));
  const reward = path.join(dir, 'length.mjs');  // varies between random responses, so the adapter gets gradients
  fs.writeFileSync(reward, 'export const score = (prompt, response) => response.length / 10;\n');
  const r = await trainPpo(loadConfig(PpoConfigSchema, undefined, {
    model: tinyModelDir(92), data, reward, out: path.join(dir, 'run'), steps: 3, batchSize: 4, maxNewTokens: 4, lr: 1e-2,
    criticWarmup: 0, ppoEpochs: 2, klStart: 0.1, lora,
  }), { log: quiet });
  assert.equal(r.metrics[0]!.kl, 0);
  assert.ok(r.metrics[2]!.kl !== 0, 'the reference stays the base while the adapter trains');
  assert.ok(fs.existsSync(path.join(r.modelDir, 'adapter_model.safetensors')));
});
