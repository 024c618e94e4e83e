// A LoRA adapter served by the engine (`serve --adapter`, `chat --adapter`): the
// worker applies it with fine-tuning's loader, so greedy output equals
// `generate` on loadModelWithAdapter, and differs from the base model's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/serve/engine.js';
import { loadModel } from '../../src/io/hf-folder.js';
import { LoraAdapter, loadModelWithAdapter } from '../../src/align/lora.js';
import { generate } from '../../src/infer/generate.js';
import { Tensor } from '../../src/engine/tensor.js';
import { setThreads } from '../../src/engine/backend.js';
import { tinyModelDir } from './fixture.js';

test('the engine serves a LoRA adapter exactly as generate() runs it', async () => {
  setThreads(1);
  const dir = tinyModelDir();
  const adapterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'b2-adapter-'));
  try {
    // an adapter with non-zero B on every target, so it changes the output
    const base = loadModel(dir);
    const a = LoraAdapter.attach(base, { r: 4, alpha: 8, dropout: 0, targets: ['W_pack', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, 11);
    a.layers.forEach((l, i) => (l.B.data as Float32Array).set(Tensor.randFast(l.B.shape, 100 + i, -0.5, 0.5).data as Float32Array));
    a.save(adapterDir, dir);

    const prompt = [195, 10, 11, 12, 13, 196];
    const want = (m: Parameters<typeof generate>[0]) => generate(m, [prompt], { greedy: true, maxNewTokens: 12, eosTokenId: -1 }).tokens[0]!;
    const withAdapter = want(loadModelWithAdapter(dir, { adapter: adapterDir }).model);
    const plain = want(loadModel(dir));
    assert.notDeepEqual(withAdapter, plain, 'the adapter must change greedy output (else the test proves nothing)');

    for (const [adapter, expected] of [[adapterDir, withAdapter], [undefined, plain]] as const) {
      const engine = new Engine({ model: dir, adapter, parallel: 2, maxQueue: 4, threads: 1 });
      try {
        await engine.ready;
        const r = await engine.completion({ prompt, maxTokens: 12, temperature: 0 }).collect();
        // the engine stops at eos; compare the common prefix and require it to be the whole output
        const got = r.choices[0]!.tokens;
        assert.deepEqual(got, expected.slice(0, got.length), `adapter ${adapter ?? 'none'}`);
        assert.ok(got.length === 12 || got[got.length - 1] === 2, `stopped early without eos: ${got}`);
      } finally {
        await engine.close();
      }
    }
    // a missing adapter folder is a load error naming it, not a silent base model
    const bad = new Engine({ model: dir, adapter: path.join(adapterDir, 'nope'), parallel: 1, threads: 1 });
    await assert.rejects(bad.ready, /nope/);
    await bad.close();
  } finally {
    fs.rmSync(adapterDir, { recursive: true, force: true });
  }
});
