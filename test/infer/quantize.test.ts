// Quantised models end to end: a tiny model trained for a few seconds on a
// repeating text (so its next-token distributions are peaked), quantised to
// 8 and 4 bits through the folder format, loaded back; logits against the
// original and greedy generation against the original's.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Tensor } from '../../src/engine/tensor.js';
import { noGrad, backward } from '../../src/engine/autograd.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { configFromJSON, PRESETS } from '../../src/model/config.js';
import { AdamW } from '../../src/train/optimizer.js';
import { loadModel, saveModel } from '../../src/io/hf-folder.js';
import { quantizeModelFolder } from '../../src/infer/quantize.js';
import { readQuantizationConfig } from '../../src/io/quantized-folder.js';
import { generate } from '../../src/infer/generate.js';
import { Linear } from '../../src/model/layers.js';

const V = 256, T = 64;
let trained: { dir: string; ids: number[] } | null = null;

function trainedModel(): { dir: string; ids: number[] } {
  if (trained) return trained;
  // a byte-level "text" with structure: counting patterns the model can learn quickly
  const text = Array.from({ length: 40 }, (_, i) => `item ${i % 10} costs ${(i * 7) % 13} coins; `).join('');
  const ids = Array.from(Buffer.from(text)).map((b) => b % V);
  const cfg = configFromJSON({ ...PRESETS.tiny, vocab_size: V, hidden_size: 128, intermediate_size: 384, num_hidden_layers: 2, num_attention_heads: 4 });
  const model = new BaichuanForCausalLM(cfg).initWeights(3);
  model.train();
  const opt = new AdamW([...model.namedParameters()], { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 });
  for (let step = 0; step < 60; step++) {
    const s = (step * 37) % (ids.length - T - 1);
    const x = Tensor.from(ids.slice(s, s + T), [1, T], 'i32');
    const out = model.forward(x, { labels: x });
    backward(out.loss!);
    opt.update(3e-3);
    model.zeroGrad();
  }
  model.eval();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-q-'));
  saveModel(model, path.join(dir, 'bf16'), { dtype: 'bf16' });
  trained = { dir, ids };
  return trained;
}

function logitsOf(m: BaichuanForCausalLM, ids: number[]): Float32Array {
  return noGrad(() => m.forward(Tensor.from(ids, [1, ids.length], 'i32')).logits.f32());
}

for (const bits of [8, 4] as const)
  test(`${bits}-bit quantised model: folder round trip, logits near bf16, greedy tokens equal`, () => {
    const { dir, ids } = trainedModel();
    const out = path.join(dir, `q${bits}`);
    const rep = quantizeModelFolder(path.join(dir, 'bf16'), out, { bits, groupSize: 32 });
    assert.ok(rep.bytesOut < rep.bytesIn, `${rep.bytesOut} < ${rep.bytesIn}`);
    assert.deepEqual(readQuantizationConfig(out)!.bits, bits);
    const base = loadModel(path.join(dir, 'bf16'));
    const q = loadModel(out);
    assert.ok((q.model.layers[0]!.self_attn.W_pack as Linear).quantized, 'W_pack is quantised');
    assert.equal(q.lm_head.quantized!.bits, 8, 'the head is 8-bit whatever --bits says');
    const prompt = ids.slice(0, 48);
    const a = logitsOf(base, prompt), b = logitsOf(q, prompt);
    // tolerance: relative RMS of the logits over all positions; 8-bit weights with int8
    // activations perturb logits by ~1%, 4-bit by several %
    let num = 0, den = 0;
    for (let i = 0; i < a.length; i++) { num += (a[i]! - b[i]!) ** 2; den += a[i]! ** 2; }
    const rel = Math.sqrt(num / den);
    assert.ok(rel < (bits === 8 ? 0.02 : 0.12), `relative RMS logit error ${rel}`);
    // greedy continuations: identical for the first tokens (the trained model is confident here)
    const n = bits === 8 ? 16 : 8;
    const g0 = generate(base, [prompt], { greedy: true, maxNewTokens: n, eosTokenId: -1 }).tokens[0]!;
    const g1 = generate(q, [prompt], { greedy: true, maxNewTokens: n, eosTokenId: -1 }).tokens[0]!;
    assert.deepEqual(g1, g0);
  });

test('quantize CLI: flags, errors, and a model that loads', () => {
  const { dir } = trainedModel();
  const cli = (...a: string[]) => spawnSync(process.execPath, [path.resolve('bin/baichuan2.js'), 'quantize', ...a], { encoding: 'utf8', timeout: 120_000 });
  const out = path.join(dir, 'cli-q4');
  const r = cli('--model', path.join(dir, 'bf16'), '--bits', '4', '--group-size', '64', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /4-bit, group 64/);
  assert.equal(loadModel(out).model.layers[1]!.mlp.down_proj.quantized!.groupSize, 64);
  assert.equal(cli('--model', path.join(dir, 'bf16'), '--bits', '3', '--out', out).status, 2);
  assert.equal(cli('--model', path.join(dir, 'bf16'), '--bits', '8', '--group-size', '48', '--out', out).status, 2);
  const again = cli('--model', out, '--bits', '8', '--out', path.join(dir, 'x'));
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already quantised/);
  // a corrupt folder: the quantised tensor is missing
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  cfg.quantization_config.quant_method = 'bitsandbytes';
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify(cfg));
  assert.throws(() => loadModel(out), /quant_method 'bitsandbytes' is not supported/);
});
