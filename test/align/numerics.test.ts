// SFT and LoRA numerics on tiny models: the batch loss is the mean over
// assistant tokens and their eos (float64 check from the logits); packed rows
// give the loss and gradients of the same conversations unpacked; LoRA
// gradients against central differences; step-0 LoRA logits equal the base;
// merged = base + adapter; a PEFT-named adapter round-trips; the quantised
// Linear's input gradient equals the dequantised product.
import { test } from 'node:test';
import { setThreads } from '../../src/engine/backend.js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor } from '../../src/engine/tensor.js';
import { backward, noGrad } from '../../src/engine/autograd.js';
import { QuantizedWeight, qlinear, qlinearInputGrad } from '../../src/engine/quant.js';
import { matmul } from '../../src/engine/ops/matmul.js';
import { configFromJSON } from '../../src/model/config.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { officialExample } from '../../src/align/labels.js';
import { buildBatch, planEpoch } from '../../src/align/batches.js';
import { forwardBatch } from '../../src/align/sft.js';
import { LoraAdapter, applyLoraAdapter } from '../../src/align/lora.js';
import { saveModel } from '../../src/io/hf-folder.js';
import { readSafetensorsHeader } from '../../src/io/safetensors.js';
import { assertClose, maxAbsDiff, randArray } from '../helpers.js';

// one kernel thread: on a shared 2-core machine, threads fighting for cores cost 50x (results are bit-identical for any count)
setThreads(1);

const V = 64;
function tinyModel(position: 'rope' | 'alibi', seed = 1, dtype: 'f32' | 'bf16' = 'f32'): BaichuanForCausalLM {
  const cfg = configFromJSON({ position_embedding: position, vocab_size: V, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 64, model_max_length: 64, z_loss_weight: 0 });
  return new BaichuanForCausalLM(cfg).initWeights(seed, dtype);
}

// conversations over ids 3..63 (ids chosen by a seeded walk; the layout is what matters)
function examples(n: number, seed: number) {
  const out = [];
  let s = seed;
  const next = () => { s = (s * 1103515245 + 12345) >>> 0; return s; };
  for (let i = 0; i < n; i++) {
    const turns = [];
    const rounds = 1 + (next() % 3);
    for (let r = 0; r < rounds; r++) {
      const len = () => 1 + (next() % 5);
      turns.push({ role: 'user' as const, content: String.fromCharCode(...Array.from({ length: len() }, () => 3 + (next() % 60))) });
      turns.push({ role: 'assistant' as const, content: String.fromCharCode(...Array.from({ length: len() }, () => 3 + (next() % 60))) });
    }
    out.push(officialExample({ turns }, (t) => [...t].map((c) => c.charCodeAt(0)), { userTokenId: 1, assistantTokenId: 62, eosTokenId: 2, maxLength: 24 }));
  }
  return out;
}

function gradsOf(model: BaichuanForCausalLM): Map<string, Float32Array> {
  return new Map([...model.namedParameters()].map(([n, p]) => [n, p.grad ? p.grad.f32().slice() : new Float32Array(p.size)]));
}

test('SFT loss = mean CE over assistant tokens and their eos only (float64 from the logits)', () => {
  const model = tinyModel('rope');
  const ex = examples(3, 7);
  const b = buildBatch(ex, [[0], [1], [2]], false);
  const out = noGrad(() => forwardBatch(model, b));
  const logits = out.logits.f32();
  let sum = 0, n = 0;
  for (let r = 0; r < b.B * b.T; r++) {
    const t = b.targets[r]!;
    if (t === -100) continue;
    let mx = -Infinity;
    for (let v = 0; v < V; v++) mx = Math.max(mx, logits[r * V + v]!);
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(logits[r * V + v]! - mx);
    sum += mx + Math.log(z) - logits[r * V + t]!;
    n++;
  }
  assert.equal(n, b.lossTokens);
  assert.equal(out.lossStats!.tokens, b.lossTokens);
  assert.ok(Math.abs(out.loss!.item() - sum / n) <= 1e-5 * (sum / n), `${out.loss!.item()} vs ${sum / n}`);
});

for (const position of ['rope', 'alibi'] as const) {
  test(`packed rows: loss and gradients equal the unpacked batch (${position}, 1e-6 relative)`, () => {
    const ex = examples(5, 11);
    const model = tinyModel(position, 3);
    model.train();
    const lengths = ex.map((e) => e.inputIds.length);
    const rows = planEpoch(lengths, 0, { batchSize: 5, pack: true, maxLength: 48, seed: 0 })[0]!;
    assert.ok(rows.length < 5 && rows.some((r) => r.length > 1), 'some row holds several conversations');
    const packed = buildBatch(ex, rows, true);
    const lp = forwardBatch(model, packed).loss!;
    backward(lp);
    const gp = gradsOf(model);
    model.zeroGrad();
    const unpacked = buildBatch(ex, ex.map((_, i) => [i]), false);
    const lu = forwardBatch(model, unpacked, true).loss!;  // with recomputation, for good measure
    backward(lu);
    const gu = gradsOf(model);
    assert.equal(packed.lossTokens, unpacked.lossTokens);
    assert.ok(Math.abs(lp.item() - lu.item()) <= 1e-6 * lu.item(), `loss ${lp.item()} vs ${lu.item()}`);
    for (const [name, g] of gu) assertClose(gp.get(name)!, g, 1e-6, `grad ${name}`, 1e-9);
  });
}

test('LoRA: B = 0 gives the base logits exactly (f32 and bf16); gradients match central differences', () => {
  for (const dtype of ['f32', 'bf16'] as const) {
    const model = tinyModel('rope', 5, dtype);
    const ids = Tensor.from([5, 9, 13, 2, 40, 41, 7], [1, 7], 'i32');
    const base = noGrad(() => model.forward(ids).logits.f32().slice());
    const a = LoraAdapter.attach(model, { r: 2, alpha: 4, dropout: 0.1, targets: ['W_pack', 'down_proj'] }, 9);
    a.eval();
    assert.deepEqual(noGrad(() => model.forward(ids).logits.f32().slice()), base, `${dtype} step-0 logits`);
    assert.ok([...model.namedParameters()].every(([, p]) => !p.requiresGrad), 'base frozen');
  }
  const model = tinyModel('alibi', 6);
  const a = LoraAdapter.attach(model, { r: 2, alpha: 4, dropout: 0, targets: ['W_pack', 'o_proj', 'up_proj'] }, 4);
  for (const l of a.layers) l.B.f32().set(randArray(l.B.size, 77 + l.index, 0.3));
  const ex = examples(2, 3);
  const b = buildBatch(ex, [[0], [1]], false);
  model.train();
  const loss = () => noGrad(() => forwardBatch(model, b).loss!.item());
  backward(forwardBatch(model, b).loss!);
  const h = 1e-2;
  let checked = 0;
  for (const l of a.layers) {
    for (const t of [l.A, l.B]) {
      const g = t.grad!.f32();
      for (const i of [0, t.size - 1]) {
        const x = t.f32(), v = x[i]!;
        x[i] = v + h; const fp = loss();
        x[i] = v - h; const fm = loss();
        x[i] = v;
        const fd = (fp - fm) / (2 * h);
        assert.ok(Math.abs(fd - g[i]!) <= 2e-3 + 2e-2 * Math.abs(fd), `${l.name} ${t === l.A ? 'A' : 'B'}[${i}]: analytic ${g[i]} vs central difference ${fd}`);
        checked++;
      }
    }
  }
  assert.equal(checked, 3 * 2 * 2 * 2);
});

test('LoRA: PEFT layout round-trips; merged weights give base + adapter logits within 1e-5; dropout is keyed by step', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-lora-'));
  const model = tinyModel('rope', 8);
  const a = LoraAdapter.attach(model, { r: 2, alpha: 8, dropout: 0.1, targets: ['W_pack', 'gate_proj'] }, 1);
  for (const l of a.layers) l.B.f32().set(randArray(l.B.size, 5 + l.index, 0.5));
  const ids = Tensor.from([3, 4, 5, 6, 7, 8], [1, 6], 'i32');
  // dropout: the same (step, micro) gives the same mask; another step another one
  model.train();
  const f = () => noGrad(() => model.forward(ids).logits.f32().slice());
  a.step = 1; const d1 = f(), d1b = f();
  a.step = 2; const d2 = f();
  assert.deepEqual(d1, d1b);
  assert.ok(maxAbsDiff(d1, d2) > 0);
  model.eval(); a.eval();
  const withAdapter = f();
  a.save(path.join(dir, 'adapter'), 'base');
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter/adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg.peft_type, 'LORA'); assert.equal(cfg.r, 2); assert.equal(cfg.lora_alpha, 8); assert.deepEqual(cfg.target_modules, ['W_pack', 'gate_proj']);
  const names = [...readSafetensorsHeader(path.join(dir, 'adapter/adapter_model.safetensors')).entries.keys()].sort();
  assert.ok(names.includes('base_model.model.model.layers.0.self_attn.W_pack.lora_A.weight'));
  assert.ok(names.includes('base_model.model.model.layers.1.mlp.gate_proj.lora_B.weight'));
  assert.equal(names.length, 2 * 2 * 2);
  // load into a fresh copy of the base: identical logits
  const fresh = tinyModel('rope', 8);
  const freshBase = noGrad(() => fresh.forward(ids).logits.f32().slice());
  applyLoraAdapter(fresh, path.join(dir, 'adapter'));
  assert.deepEqual(noGrad(() => fresh.forward(ids).logits.f32().slice()), withAdapter);
  assert.ok(maxAbsDiff(freshBase, withAdapter) > 1e-3, 'the adapter changes the logits');
  // merge
  a.merge(model);
  const merged = noGrad(() => model.forward(ids).logits.f32().slice());
  assertClose(merged, withAdapter, 1e-5, 'merged logits');
  // a PEFT file with an unexpected tensor or a bad config is refused with its name
  fs.writeFileSync(path.join(dir, 'adapter/adapter_config.json'), JSON.stringify({ ...cfg, target_modules: ['q_proj'] }));
  assert.throws(() => applyLoraAdapter(tinyModel('rope', 8), path.join(dir, 'adapter')), /target_modules: 'q_proj'/);
  fs.writeFileSync(path.join(dir, 'adapter/adapter_config.json'), JSON.stringify({ ...cfg, r: 0 }));
  assert.throws(() => applyLoraAdapter(tinyModel('rope', 8), path.join(dir, 'adapter')), /adapter_config\.json: r:/);
  fs.writeFileSync(path.join(dir, 'adapter/adapter_config.json'), JSON.stringify({ ...cfg, target_modules: ['W_pack'] }));
  assert.throws(() => applyLoraAdapter(tinyModel('rope', 8), path.join(dir, 'adapter')), /not matching.*gate_proj/);
});

test('quantised Linear: the input gradient equals g · dequant(W), block by block; no weight gradient', () => {
  for (const bits of [8, 4] as const) {
    const N = 70, K = 64, M = 5;
    const w = QuantizedWeight.quantize(Tensor.from(randArray(N * K, 3, 0.2), [N, K]), bits, 32);
    const g = randArray(M * N, 4);
    const ref = noGrad(() => matmul(Tensor.from(g, [M, N]), w.dequantize()).f32());
    for (const rows of [256, 16, 7]) assertClose(qlinearInputGrad(g, M, w, rows), ref, 1e-6, `${bits}-bit dx, ${rows} rows per block`, 1e-7);
    const x = Tensor.from(randArray(M * K, 5), [M, K]).requiresGrad_(true);
    backward(qlinear(x, w), Tensor.from(g, [M, N]));
    assertClose(x.grad!.f32(), ref, 1e-6, `${bits}-bit autograd dx`, 1e-7);
  }
});

test('LoRA trains on a 4-bit base: the loss falls and the base is untouched', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-qlora-'));
  const model = tinyModel('rope', 2);
  saveModel(model, path.join(dir, 'base'));
  const { quantizeModelFolder } = await import('../../src/infer/quantize.js');
  await quantizeModelFolder(path.join(dir, 'base'), path.join(dir, 'q4'), { bits: 4, groupSize: 32 });
  const { loadModel } = await import('../../src/io/hf-folder.js');
  const q = loadModel(path.join(dir, 'q4'));
  const a = LoraAdapter.attach(q, { r: 4, alpha: 8, dropout: 0, targets: ['W_pack', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, 0);
  const { AdamW } = await import('../../src/train/optimizer.js');
  const opt = new AdamW(a.namedParameters(), { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0 });
  const ex = examples(4, 5);
  const b = buildBatch(ex, ex.map((_, i) => [i]), false);
  q.train();
  const losses: number[] = [];
  for (let s = 0; s < 8; s++) {
    for (const [, p] of a.namedParameters()) p.grad = null;
    const l = forwardBatch(q, b, true).loss!;
    losses.push(l.item());
    backward(l);
    opt.update(1e-2);
  }
  assert.ok(losses[7]! < losses[0]! - 0.05, `loss ${losses[0]} -> ${losses[7]}`);
  assert.ok(q.model.layers[0]!.self_attn.W_pack.quantized, 'base stays quantised');
});
