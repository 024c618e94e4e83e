// Checkpoint I/O: save -> load round trips, and every kind of bad folder
// gives an error that names the file, tensor or limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, saveModel } from '../../src/io/hf-folder.js';
import { readSafetensors, writeSafetensors, readSafetensorsHeader } from '../../src/io/safetensors.js';
import { configFromJSON, PRESETS } from '../../src/model/config.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { Tensor } from '../../src/engine/tensor.js';
import { noGrad } from '../../src/engine/autograd.js';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-ckpt-'));
}

function tinyModel(position: 'rope' | 'alibi', dtype: 'f32' | 'bf16' = 'f32'): BaichuanForCausalLM {
  const cfg = configFromJSON({ ...PRESETS.tiny, vocab_size: 300, position_embedding: position, num_attention_heads: 4 });
  return new BaichuanForCausalLM(cfg).initWeights(7, dtype).eval();
}

const ids = Tensor.from([3, 17, 250, 9, 1, 42], [1, 6], 'i32');

test('save -> load gives identical logits (f32 and bf16, RoPE and ALiBi)', () => {
  for (const [pos, dt] of [['rope', 'f32'], ['alibi', 'bf16']] as const) {
    const m = tinyModel(pos, dt);
    const dir = tmp();
    saveModel(m, dir);
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) assert.ok(fs.existsSync(path.join(dir, f)), f);
    const back = loadModel(dir);
    assert.equal(back.config.position, pos);
    const a = noGrad(() => m.forward(ids).logits.f32()), b = noGrad(() => back.forward(ids).logits.f32());
    assert.deepEqual(b, a);
    const h = readSafetensorsHeader(path.join(dir, 'model.safetensors'));
    assert.equal(h.entries.get('model.layers.0.self_attn.W_pack.weight')!.dtype, dt === 'f32' ? 'F32' : 'BF16');
  }
});

test('safetensors round trip keeps dtypes and values', () => {
  const dir = tmp();
  const f = path.join(dir, 'x.safetensors');
  const t = new Map([['a', Tensor.from([1.5, -2], [2])], ['b', Tensor.from([0.1, 3], [1, 2]).astype('bf16')], ['c', Tensor.from([7, -9], [2], 'i32')]]);
  writeSafetensors(f, t);
  const r = readSafetensors(f);
  for (const [k, v] of t) {
    assert.equal(r.get(k)!.dtype, v.dtype);
    assert.deepEqual(r.get(k)!.toArray(), v.toArray());
  }
});

test('bad folders fail with clear messages', () => {
  const good = tmp();
  saveModel(tinyModel('rope'), good);
  const copy = (): string => {
    const d = tmp();
    for (const f of fs.readdirSync(good)) fs.copyFileSync(path.join(good, f), path.join(d, f));
    return d;
  };
  assert.throws(() => loadModel(tmp()), /no config.json/);
  let d = copy();
  fs.rmSync(path.join(d, 'model.safetensors'));
  assert.throws(() => loadModel(d), /no weights found/);
  d = copy();
  const st = path.join(d, 'model.safetensors');
  fs.truncateSync(st, fs.statSync(st).size - 100);
  assert.throws(() => loadModel(d), /model\.safetensors: tensor '.*' lies outside the file .*truncated or corrupt/);
  d = copy();
  fs.writeFileSync(path.join(d, 'model.safetensors'), Buffer.from('not a model'));
  assert.throws(() => loadModel(d), /corrupt safetensors header/);
  d = copy();
  const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...cfg, hidden_size: 96 }));
  assert.throws(() => loadModel(d), /tensor 'model\.embed_tokens\.weight' in '.*model\.safetensors' has shape \[300, 128\], the config needs \[300, 96\]/);
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...cfg, num_attention_heads: 5 }));
  assert.throws(() => loadModel(d), /hidden_size 128 is not divisible by num_attention_heads 5/);
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...cfg, position_embedding: 'sinusoid' }));
  assert.throws(() => loadModel(d), /position_embedding must be "rope" or "alibi"/);
  fs.writeFileSync(path.join(d, 'config.json'), '{ nope');
  assert.throws(() => loadModel(d), /config\.json: invalid JSON/);
  d = copy();
  const tensors = readSafetensors(path.join(d, 'model.safetensors'));
  tensors.delete('model.norm.weight');
  writeSafetensors(path.join(d, 'model.safetensors'), tensors);
  assert.throws(() => loadModel(d), /missing 1 tensors, e\.g\. 'model\.norm\.weight'/);
  tensors.set('model.extra.weight', Tensor.zeros([2]));
  tensors.set('model.norm.weight', Tensor.ones([128]));
  writeSafetensors(path.join(d, 'model.safetensors'), tensors);
  assert.throws(() => loadModel(d), /unexpected tensor 'model\.extra\.weight'/);
  // unknown dtype in a header
  d = copy();
  const raw = fs.readFileSync(path.join(d, 'model.safetensors'));
  const n = Number(raw.readBigUInt64LE(0));
  const header = raw.subarray(8, 8 + n).toString().replace('"F32"', '"U32"');
  fs.writeFileSync(path.join(d, 'model.safetensors'), Buffer.concat([raw.subarray(0, 8), Buffer.from(header), raw.subarray(8 + n)]));
  assert.throws(() => loadModel(d), /unknown dtype 'U32'/);
});

test('position scheme is inferred from the released shapes when the config lacks it', () => {
  const base = { vocab_size: 125696, intermediate_size: 13696, max_position_embeddings: 4096 };
  assert.equal(configFromJSON({ ...base, hidden_size: 5120, num_hidden_layers: 40, num_attention_heads: 40 }).position, 'alibi');
  const c7 = configFromJSON({ ...base, hidden_size: 4096, num_hidden_layers: 32, num_attention_heads: 32, intermediate_size: 11008 });
  assert.equal(c7.position, 'rope');
  assert.equal(c7.positionSource, 'inferred');
  // the 13B preset's parameter count (SPEC §4.1: about 13.90 B) without allocating it
  const m13 = new BaichuanForCausalLM(configFromJSON(PRESETS['13b']!));
  assert.ok(Math.abs(m13.parameterCount() / 1e9 - 13.9) < 0.01, `${m13.parameterCount()}`);
  assert.ok(Math.abs(new BaichuanForCausalLM(configFromJSON(PRESETS['7b']!)).parameterCount() / 1e9 - 7.51) < 0.01);
});

test('forward rejects ids out of range and prompts longer than the context', () => {
  const m = tinyModel('rope');
  assert.throws(() => m.forward(Tensor.from([300], [1, 1], 'i32')), /token id 300 at position 0 is outside the vocabulary \[0, 300\)/);
  assert.throws(() => m.forward(Tensor.zeros([1, 257], 'i32')), /257 positions exceed the context length model_max_length = 256/);
});
