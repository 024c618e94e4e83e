// Model folders that are broken or hostile: each gives an error naming the
// file (and tensor), before anything is read or written where that matters.
// Also: the non-finite scan covers every element in every float dtype, and an
// inference load normalises the head in place with identical logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadModel } from '../../src/io/hf-folder.js';
import { listWeights } from '../../src/io/weight-files.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { Tensor } from '../../src/engine/tensor.js';
import { GOLDEN, SHARDED_BIN, copyDir, noGolden, tmp } from './fixtures.js';

const INDEX = 'pytorch_model.bin.index.json';
const readIndex = (d: string) => JSON.parse(fs.readFileSync(path.join(d, INDEX), 'utf8')) as { weight_map: Record<string, string> };
const writeIndex = (d: string, j: unknown) => fs.writeFileSync(path.join(d, INDEX), JSON.stringify(j));
const ids = Tensor.from([5, 9, 100, 3, 77], [1, 5], 'i32');

test('sharded folders: missing shard, unlisted shard, index and files disagree, shard paths outside the folder', { skip: noGolden }, () => {
  let d = copyDir(SHARDED_BIN);
  fs.rmSync(path.join(d, 'pytorch_model-00002-of-00002.bin'));
  assert.throws(() => loadModel(d), /pytorch_model\.bin\.index\.json: shard pytorch_model-00002-of-00002\.bin \(for \d+ tensors, e\.g\. '.*'\) is missing/);

  d = copyDir(SHARDED_BIN);
  fs.copyFileSync(path.join(d, 'pytorch_model-00002-of-00002.bin'), path.join(d, 'pytorch_model-00003-of-00003.bin'));
  assert.throws(() => loadModel(d), /shard pytorch_model-00003-of-00003\.bin is not listed in pytorch_model\.bin\.index\.json/);

  d = copyDir(SHARDED_BIN);
  const j = readIndex(d);
  const [name, shard] = Object.entries(j.weight_map)[0]!;
  j.weight_map[name] = shard.includes('00001') ? 'pytorch_model-00002-of-00002.bin' : 'pytorch_model-00001-of-00002.bin';
  writeIndex(d, j);
  assert.throws(() => loadModel(d), /index and files disagree: .*holds '.*', which the index assigns to another shard|index and files disagree: it puts/);
  delete j.weight_map[name];
  writeIndex(d, j);
  assert.throws(() => loadModel(d), new RegExp(`index and files disagree: .* holds '${name.replace(/\./g, '\\.')}', which the index does not list`));

  // weight_map paths must stay inside the folder: a real file outside is never opened
  d = copyDir(SHARDED_BIN);
  const outside = path.join(path.dirname(d), `outside-${path.basename(d)}.bin`);
  fs.copyFileSync(path.join(d, 'pytorch_model-00001-of-00002.bin'), outside);
  for (const bad of [`../${path.basename(outside)}`, '../../../../etc/passwd', '/etc/passwd', 'sub/../../x.bin']) {
    const k = readIndex(SHARDED_BIN);
    for (const n of Object.keys(k.weight_map)) if (k.weight_map[n]!.includes('00001')) k.weight_map[n] = bad;
    writeIndex(d, k);
    assert.throws(() => listWeights(d, 'bin'), new RegExp(`shard path '${bad.replace(/[./]/g, (c) => `\\${c}`)}' leaves the model folder`), bad);
  }
  fs.rmSync(outside);

  d = copyDir(SHARDED_BIN);
  writeIndex(d, { metadata: {} });
  assert.throws(() => loadModel(d), /index\.json: field 'weight_map': Required/);
  writeIndex(d, { weight_map: { a: 7 } });
  assert.throws(() => loadModel(d), /index\.json: field 'weight_map\.a': Expected string/);
});

/** A safetensors copy of tiny-alibi with one element of one tensor replaced, in a given dtype. */
function plant(dtype: 'f32' | 'bf16' | 'f16', name: string, at: number, value: number): string {
  const d = tmp();
  fs.copyFileSync(path.join(GOLDEN, 'tiny-alibi', 'config.json'), path.join(d, 'config.json'));
  const ts = readSafetensors(path.join(GOLDEN, 'tiny-alibi', 'model.safetensors'));
  const out = new Map<string, Tensor>();
  for (const [k, t] of ts) {
    let v = t.f32().slice();
    if (k === name) v[at < 0 ? v.length + at : at] = value;
    out.set(k, Tensor.from(v, t.shape, 'f32').astype(dtype));
    v = new Float32Array(0);
  }
  writeSafetensors(path.join(d, 'model.safetensors'), out);
  return d;
}

test('non-finite weights are found anywhere in f32, bf16 and f16 tensors (not only the first 4096 elements)', { skip: noGolden }, () => {
  for (const dtype of ['f32', 'bf16', 'f16'] as const) {
    for (const [value, at] of [[NaN, -1], [Infinity, 5000], [-Infinity, 0]] as const) {
      const d = plant(dtype, 'model.embed_tokens.weight', at, value);  // [256, 64]: 16384 elements
      assert.throws(() => loadModel(d), new RegExp(`model\\.safetensors: tensor 'model\\.embed_tokens\\.weight' holds a non-finite value \\((NaN|-?Infinity) at element ${at < 0 ? 16383 : at}\\)`), `${dtype} ${value}`);
      assert.ok(loadModel(d, { checkFinite: false }), 'checkFinite: false skips the scan');
    }
  }
  // and every tensor is scanned: the last one of the last layer
  const d = plant('bf16', 'model.layers.1.mlp.down_proj.weight', -1, NaN);
  assert.throws(() => loadModel(d), /down_proj\.weight' holds a non-finite value/);
});

test('a checkpoint that is not bf16/f16/f32 is refused by name', { skip: noGolden }, () => {
  const d = tmp();
  fs.copyFileSync(path.join(GOLDEN, 'tiny-alibi', 'config.json'), path.join(d, 'config.json'));
  const ts = readSafetensors(path.join(GOLDEN, 'tiny-alibi', 'model.safetensors'));
  ts.set('model.norm.weight', Tensor.zeros([64], 'i32'));
  writeSafetensors(path.join(d, 'model.safetensors'), ts);
  assert.throws(() => loadModel(d), /model\.safetensors: tensor 'model\.norm\.weight' is stored as I32; a checkpoint must be BF16, F16 or F32/);
});

test('inference load: the head normalised in place, no second copy, identical logits', { skip: noGolden }, () => {
  for (const dir of [path.join(GOLDEN, 'tiny-alibi'), SHARDED_BIN]) {
    const plain = loadModel(dir), inf = loadModel(dir, { inference: true });
    const want = plain.forward(ids).logits.f32();
    assert.deepEqual(inf.forward(ids).logits.f32(), want);
    const w = inf.lm_head.parameters()[0]!;
    assert.equal(inf.lm_head.normalizedWeight(), w, 'eval uses the stored (normalised) weight itself');
    assert.notEqual(plain.lm_head.normalizedWeight(), plain.lm_head.parameters()[0], 'a normal load keeps a normalised copy');
    // training mode forgets it; back in eval the logits are still the same function
    inf.train();
    inf.eval();
    assert.notEqual(inf.lm_head.normalizedWeight(), w);
    const again = inf.forward(ids).logits.f32();
    let d = 0;
    for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(again[i]! - want[i]!));
    assert.ok(d < 1e-2, `max |diff| ${d} after re-normalising a normalised head`);
  }
});

test('quantize refuses --out equal to or inside --model before writing anything', { skip: noGolden }, () => {
  const d = copyDir(SHARDED_BIN);
  const snapshot = () => fs.readdirSync(d).sort().map((f) => [f, fs.readFileSync(path.join(d, f)).toString('base64')]);
  const before = snapshot();
  const cli = path.resolve('bin/baichuan2.js');
  for (const out of [d, `${d}/`, path.join(d, 'q4'), path.join(d, '.')]) {
    const r = spawnSync('node', [cli, 'quantize', '--model', d, '--bits', '8', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 1, out);
    assert.match(r.stderr, /quantize: --out .* (is the model folder|is inside the model folder)/, out);
  }
  // through a symlink to the same folder too
  const link = path.join(tmp(), 'link');
  fs.symlinkSync(d, link);
  const r = spawnSync('node', [cli, 'quantize', '--model', d, '--bits', '8', '--out', link], { encoding: 'utf8' });
  assert.match(r.stderr, /is the model folder/);
  assert.deepEqual(snapshot(), before, 'the model folder is untouched');
});
