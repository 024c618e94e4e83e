// convert: .bin (single or sharded) -> sharded safetensors in Hugging Face's
// layout. The result loads with identical logits, the index and headers are
// what transformers writes, PyTorch reads the files back to the same tensors,
// and a quantised model made from the .bin equals one made from the converted
// safetensors byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { convertToSafetensors, planShards } from '../../src/io/convert.js';
import { loadModel } from '../../src/io/hf-folder.js';
import { readSafetensorsHeader } from '../../src/io/safetensors.js';
import { quantizeModelFolder } from '../../src/infer/quantize.js';
import { Tensor } from '../../src/engine/tensor.js';
import { GOLDEN, SHARDED_BIN, copyDir, noGolden, noTorch, python, tmp, torchCheckpoint } from './fixtures.js';
import { nmse } from '../helpers.js';

const ids = Tensor.from([5, 9, 100, 3, 77, 1, 250], [1, 7], 'i32');
const CLI = path.resolve('bin/baichuan2.js');

test('planShards groups in order as transformers does (a new shard when the next tensor would pass the limit)', () => {
  const plan = planShards([{ bytes: 4 }, { bytes: 4 }, { bytes: 3 }, { bytes: 12 }, { bytes: 1 }], 10);
  assert.deepEqual(plan.map((s) => s.map((t) => t.bytes)), [[4, 4], [3], [12], [1]]);
});

test('convert a sharded .bin: HF index and headers, identical logits, f32 too', { skip: noGolden }, () => {
  const out = path.join(tmp(), 'st');
  // small shards so the tiny model is split like a real one
  const r = convertToSafetensors(SHARDED_BIN, out, { maxShardBytes: 60_000 });
  assert.ok(r.shards.length >= 3, `${r.shards.length} shards`);
  assert.deepEqual(r.shards, r.shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(r.shards.length).padStart(5, '0')}.safetensors`));
  const index = JSON.parse(fs.readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8'));
  assert.deepEqual(Object.keys(index), ['metadata', 'weight_map']);
  assert.deepEqual(Object.keys(index.weight_map), Object.keys(index.weight_map).sort(), 'weight_map keys sorted');
  let total = 0;
  for (const shard of r.shards) {
    const h = readSafetensorsHeader(path.join(out, shard));
    assert.deepEqual(h.metadata, { format: 'pt' });
    for (const [name, e] of h.entries) {
      assert.equal(index.weight_map[name], shard);
      assert.equal(e.dtype, 'BF16');
      total += e.data_offsets[1] - e.data_offsets[0];
    }
    assert.ok(fs.statSync(path.join(out, shard)).size - h.dataStart <= 60_000 || h.entries.size === 1);
  }
  assert.equal(index.metadata.total_size, total);
  assert.equal(r.totalSize, total);
  assert.ok(fs.existsSync(path.join(out, 'config.json')));
  assert.ok(!fs.readdirSync(out).some((f) => f.endsWith('.bin')));
  const a = loadModel(SHARDED_BIN).forward(ids).logits.f32();
  assert.deepEqual(loadModel(out).forward(ids).logits.f32(), a);
  // --dtype f32: bf16 -> f32 is exact, so the f32 model's weights are the same numbers
  const out32 = path.join(tmp(), 'st32');
  const r32 = convertToSafetensors(SHARDED_BIN, out32, { dtype: 'f32' });
  assert.deepEqual(r32.shards, ['model.safetensors'], 'one shard: model.safetensors without an index, as save_pretrained');
  assert.ok(!fs.existsSync(path.join(out32, 'model.safetensors.index.json')));
  assert.equal(JSON.parse(fs.readFileSync(path.join(out32, 'config.json'), 'utf8')).torch_dtype, 'float32');
  const m32 = loadModel(out32);
  const m16 = loadModel(SHARDED_BIN, { dtype: 'f32' });
  assert.deepEqual(m32.forward(ids).logits.f32(), m16.forward(ids).logits.f32());
});

test('quantize from a PyTorch-written .bin equals quantize from the converted safetensors, byte for byte', { skip: noTorch }, () => {
  const bin = tmp();
  torchCheckpoint(bin, ['--layers', '2', '--hidden', '128', '--ffn', '352', '--vocab', '512', '--heads', '4', '--position', 'rope', '--shards', '3']);
  const st = path.join(tmp(), 'st');
  convertToSafetensors(bin, st, { maxShardBytes: 200_000 });
  const qa = path.join(tmp(), 'qa'), qb = path.join(tmp(), 'qb');
  quantizeModelFolder(bin, qa, { bits: 4, groupSize: 32 });
  quantizeModelFolder(st, qb, { bits: 4, groupSize: 32 });
  assert.ok(fs.readFileSync(path.join(qa, 'model.safetensors')).equals(fs.readFileSync(path.join(qb, 'model.safetensors'))));
  const q = loadModel(qa), ref = loadModel(bin);
  const x = Tensor.from([5, 9, 100, 3], [1, 4], 'i32');
  const a = q.forward(x).logits.f32(), b = ref.forward(x).logits.f32();
  assert.ok(nmse(a, b) < 0.05, `4-bit vs bf16 logits nmse ${nmse(a, b)}`);
});

test('PyTorch reads the converted shards back to the tensors of the .bin', { skip: noGolden || noTorch }, () => {
  const out = path.join(tmp(), 'st');
  convertToSafetensors(SHARDED_BIN, out, { maxShardBytes: 60_000 });
  // an independent reader: json + torch.frombuffer over each shard, compared with torch.load of the .bin shards
  const res = python(`
import json, os, struct, torch
src, out = ${JSON.stringify(SHARDED_BIN)}, ${JSON.stringify(out)}
ref = {}
for f in json.load(open(os.path.join(src, 'pytorch_model.bin.index.json')))['weight_map'].values():
    ref.update(torch.load(os.path.join(src, f), map_location='cpu'))
idx = json.load(open(os.path.join(out, 'model.safetensors.index.json')))
seen = 0
for shard in sorted(set(idx['weight_map'].values())):
    raw = open(os.path.join(out, shard), 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    assert h.pop('__metadata__') == {'format': 'pt'}
    for name, e in h.items():
        s, t = e['data_offsets']
        assert e['dtype'] == 'BF16'
        x = torch.frombuffer(bytearray(raw[8 + n + s:8 + n + t]), dtype=torch.bfloat16).reshape(e['shape'])
        assert torch.equal(x, ref[name]), name
        seen += 1
assert seen == len(ref) == len(idx['weight_map'])
print(seen)
`);
  assert.equal(Number(res.trim()), 17);
});

test('convert CLI: refuses --out over the model, a bad --dtype, a folder that already holds weights', { skip: noGolden }, () => {
  const run = (...args: string[]) => spawnSync('node', [CLI, 'convert', ...args], { encoding: 'utf8' });
  const d = copyDir(SHARDED_BIN);
  const before = fs.readdirSync(d).map((f) => [f, fs.statSync(path.join(d, f)).mtimeMs]);
  let r = run('--model', d, '--out', d);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--out .* is the model folder/);
  r = run('--model', d, '--out', path.join(d, 'sub'));
  assert.match(r.stderr, /is inside the model folder/);
  assert.deepEqual(fs.readdirSync(d).map((f) => [f, fs.statSync(path.join(d, f)).mtimeMs]), before, 'nothing written');
  r = run('--model', d, '--out', path.join(tmp(), 'x'), '--dtype', 'f16');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--dtype must be bf16 or f32/);
  const out = path.join(tmp(), 'ok');
  r = run('--model', d, '--out', out, '--max-shard-size', '100KB');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /17 tensors, .* in 3 shards \(model\.safetensors\.index\.json\)/);
  r = run('--model', d, '--out', out);
  assert.match(r.stderr, /already holds weights/);
  // and the single-file layout: tiny-rope's pytorch_model.bin
  const single = path.join(tmp(), 'single');
  r = run('--model', path.join(GOLDEN, 'tiny-rope'), '--out', single);
  assert.equal(r.status, 0, r.stderr);
  const want = loadModel(path.join(GOLDEN, 'tiny-rope'), { format: 'bin' }).forward(ids).logits.f32();
  assert.deepEqual(loadModel(single).forward(ids).logits.f32(), want);
});
