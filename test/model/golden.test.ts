// The model against the official PyTorch implementation (../shared/data/golden):
// logits, hidden states, losses with and without max-z, every gradient,
// padded batches, and greedy generation with the KV cache.
// Tolerances (README of the golden set): logits max |diff| <= 1e-4,
// losses <= 1e-5, gradients normalised MSE <= 1e-8, greedy ids identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadModel } from '../../src/io/hf-folder.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { backward } from '../../src/engine/autograd.js';
import { Tensor } from '../../src/engine/tensor.js';
import { generate } from '../../src/infer/generate.js';
import { hfName } from '../../src/model/baichuan.js';
import { maxAbsDiff, nmse } from '../helpers.js';

export const GOLDEN = path.resolve(process.cwd(), '../shared/data/golden');
const have = fs.existsSync(GOLDEN);

function maskedMaxDiff(a: Float32Array, b: Float32Array, mask: Int32Array, V: number): number {
  let m = 0;
  for (let r = 0; r < mask.length; r++) {
    if (!mask[r]) continue;
    m = Math.max(m, maxAbsDiff(a.subarray(r * V, (r + 1) * V), b.subarray(r * V, (r + 1) * V)));
  }
  return m;
}

for (const variant of ['tiny-rope', 'tiny-alibi', 'tiny-alibi-6h']) {
  const dir = path.join(GOLDEN, variant);
  const skip = !have && `../shared/data/golden not found at ${GOLDEN}`;

  test(`${variant}: eval logits and hidden states (single, right- and left-padded)`, { skip }, () => {
    const model = loadModel(dir);
    const inp = readSafetensors(path.join(dir, 'golden/inputs.safetensors'));
    const out = readSafetensors(path.join(dir, 'golden/outputs.safetensors'));
    const V = model.config.vocabSize;
    const single = model.forward(inp.get('single.input_ids')!, { outputHiddenStates: true });
    assert.ok(maxAbsDiff(single.logits.f32(), out.get('single.logits')!.f32()) <= 1e-4, 'single logits');
    const hs = out.get('single.hidden_states')!;
    const n = hs.size / hs.shape[0]!;
    single.hiddenStates!.forEach((h, i) => assert.ok(maxAbsDiff(h.f32(), hs.f32().subarray(i * n, (i + 1) * n)) <= 1e-4, `hidden state ${i}`));
    for (const c of ['rpad', 'lpad']) {
      const mask = inp.get(`${c}.attention_mask`)!.copyStorage() as Int32Array;
      const pos = c === 'lpad' && model.config.position === 'rope' ? out.get('lpad.position_ids')!.copyStorage() as Int32Array : undefined;
      const r = model.forward(inp.get(`${c}.input_ids`)!, { attentionMask: mask, positionIds: pos });
      const d = maskedMaxDiff(r.logits.f32(), out.get(`${c}.logits`)!.f32(), mask, V);
      assert.ok(d <= 1e-4, `${c} logits max diff ${d}`);
    }
  });

  test(`${variant}: training loss (z = 2e-4 and 0) and every parameter gradient`, { skip }, () => {
    const model = loadModel(dir);
    const inp = readSafetensors(path.join(dir, 'golden/inputs.safetensors'));
    const out = readSafetensors(path.join(dir, 'golden/outputs.safetensors'));
    const man = JSON.parse(fs.readFileSync(path.join(dir, 'golden/manifest.json'), 'utf8')) as { losses: Record<string, { value: string }> };
    model.train();
    for (const [z, tag] of [[2e-4, 'z2e-4'], [0, 'z0']] as const) {
      (model.config as { zLossWeight: number }).zLossWeight = z;
      model.zeroGrad();
      const r = model.forward(inp.get('train.input_ids')!, { labels: inp.get('train.labels')! });
      const want = Number(man.losses[`train.loss.${tag}`]!.value);
      assert.ok(Math.abs(r.loss!.item() - want) <= 1e-5, `loss ${tag}: ${r.loss!.item()} vs ${want}`);
      assert.ok(maxAbsDiff(r.logits.f32(), out.get('train.logits')!.f32()) <= 1e-4, 'train logits');
      backward(r.loss!);
      const grads = readSafetensors(path.join(dir, `golden/grads_${tag}.safetensors`));
      for (const [name, p] of model.namedParameters()) {
        const g = grads.get(hfName(name));
        assert.ok(g, `golden gradient for ${hfName(name)}`);
        const e = nmse(p.grad!.f32(), g.f32());
        assert.ok(e <= 1e-8, `${tag} grad ${hfName(name)}: nmse ${e.toExponential(2)}`);
      }
      const rp = model.forward(inp.get('train_rpad.input_ids')!, { attentionMask: inp.get('train_rpad.attention_mask')!.copyStorage() as Int32Array, labels: inp.get('train_rpad.labels')! });
      const wantRp = Number(man.losses[`train_rpad.loss.${tag}`]!.value);
      assert.ok(Math.abs(rp.loss!.item() - wantRp) <= 1e-5, `train_rpad loss ${tag}: ${rp.loss!.item()} vs ${wantRp}`);
    }
  });

  test(`${variant}: greedy generation with KV cache, single and left-padded batch`, { skip }, () => {
    const model = loadModel(dir);
    const inp = readSafetensors(path.join(dir, 'golden/inputs.safetensors'));
    const out = readSafetensors(path.join(dir, 'golden/outputs.safetensors'));
    const V = model.config.vocabSize;
    for (const c of ['gen_single', 'gen_lpad', 'gen_row1_unpadded']) {
      const ids = inp.get(`${c}.input_ids`)!;
      const [B, T] = ids.shape as [number, number];
      const raw = ids.copyStorage() as Int32Array;
      const mask = inp.get(`${c}.attention_mask`)?.copyStorage() as Int32Array | undefined;
      const prompts = Array.from({ length: B }, (_, b) => Array.from(raw.subarray(b * T, (b + 1) * T)).filter((_, t) => !mask || mask[b * T + t] === 1));
      const stepLogits: Float32Array[][] = [];
      const r = generate(model, prompts, { greedy: true, maxNewTokens: 16, eosTokenId: -1, onStep: (_, rows) => stepLogits.push(rows) });
      const want = out.get(`${c}.new_tokens`)!.toArray();
      assert.deepEqual(r.tokens.flat(), want, `${c} tokens`);
      const gl = out.get(`${c}.step_logits`)!.f32();
      stepLogits.forEach((rows, s) => rows.forEach((row, b) => {
        const d = maxAbsDiff(row, gl.subarray((s * B + b) * V, (s * B + b + 1) * V));
        assert.ok(d <= 1e-4, `${c} step ${s} row ${b}: ${d}`);
      }));
    }
  });
}

test('the .bin copy and the bf16 sharded .bin load and agree', { skip: !have && 'no golden data' }, () => {
  const st = loadModel(path.join(GOLDEN, 'tiny-rope'));
  const bin = loadModel(path.join(GOLDEN, 'tiny-rope'), { format: 'bin' });
  const ids = Tensor.from([5, 9, 100, 3, 77], [1, 5], 'i32');
  assert.deepEqual(st.forward(ids).logits.f32(), bin.forward(ids).logits.f32());
  const sharded = loadModel(path.join(GOLDEN, 'tiny-alibi-bf16-sharded-bin'));
  assert.equal([...sharded.namedParameters()][0]![1].dtype, 'bf16');
  const f32 = loadModel(path.join(GOLDEN, 'tiny-alibi'));
  const a = sharded.forward(ids).logits.f32(), b = f32.forward(ids).logits.f32();
  // bf16 weights and bf16 activations: relative agreement at the bf16 level
  assert.ok(nmse(a, b) < 1e-3, `bf16 vs f32 nmse ${nmse(a, b)}`);
});
