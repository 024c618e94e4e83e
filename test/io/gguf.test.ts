// GGUF without llama.cpp: the file format, the q/k permutation, exact round
// trips (f32 logits, byte-identical re-export for every type, Q4_0 / Q8_0
// without re-quantising), the tokenizer rebuilt from tokenizer.ggml.*, errors
// and the CLI. llama.cpp itself is the oracle in gguf-llama.test.ts.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Tensor } from '../../src/engine/tensor.js';
import { noGrad } from '../../src/engine/autograd.js';
import { ropeRef } from '../../src/engine/ref/rope.js';
import { loadModel } from '../../src/io/hf-folder.js';
import { quantizeModelFolder } from '../../src/infer/quantize.js';
import { GgmlType, GgufType, gv, readGgufHeader, readGgufTensorBytes, writeGguf, isGgufFile } from '../../src/io/gguf.js';
import { ggufSource, layerCountWarning, modelKv, permuteRows } from '../../src/io/gguf-baichuan.js';
import { exportGguf, openSource } from '../../src/io/gguf-export.js';
import { vocabKv } from '../../src/io/gguf-tokenizer.js';
import { loadTokenizer } from '../../src/io/tokenizer-file.js';
import { readModelFile } from '../../src/tokenizer/sentencepiece-model.js';
import { configFromJSON, PRESETS } from '../../src/model/config.js';
import type { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { DATA, HAVE_DATA, PROMPT, V, makeFolder, tmpDir } from './gguf-fixture.js';

const skip = !HAVE_DATA && 'needs ../shared/data (tokenizers)';

function logits(m: BaichuanForCausalLM, ids = PROMPT): Float32Array {
  return noGrad(() => m.forward(Tensor.from(ids, [1, ids.length], 'i32')).logits.f32());
}

function sameBytes(a: string, b: string): boolean {
  return Buffer.compare(fs.readFileSync(a), fs.readFileSync(b)) === 0;
}

test('GGUF format: every value type, arrays and aligned tensor data read back as written', () => {
  const dir = tmpDir('fmt');
  const f = path.join(dir, 'x.gguf');
  const data = Float32Array.from({ length: 96 }, (_, i) => i * 0.5 - 7);
  const kv: [string, Parameters<typeof writeGguf>[1][number][1]][] = [
    ['a.u8', { type: GgufType.UINT8, value: 200 }], ['a.i8', { type: GgufType.INT8, value: -100 }],
    ['a.u16', { type: GgufType.UINT16, value: 60000 }], ['a.i16', { type: GgufType.INT16, value: -30000 }],
    ['a.u32', gv.u32(4e9)], ['a.i32', gv.i32(-2e9)], ['a.f32', gv.f32(1.5)], ['a.f64', { type: GgufType.FLOAT64, value: Math.PI }],
    ['a.u64', { type: GgufType.UINT64, value: 2n ** 60n }], ['a.i64', { type: GgufType.INT64, value: -(2n ** 60n) }],
    ['a.bool', gv.bool(true)], ['a.str', gv.str('你好 GGUF')], ['a.strs', gv.strings(['x', '', '▁y'])],
    ['a.f32s', gv.f32s(Float32Array.of(1, -2.25))], ['a.i32s', gv.i32s(Int32Array.of(3, -4))],
  ];
  writeGguf(f, kv, [
    { name: 'odd', dims: [3], type: GgmlType.F32, produce: () => new Uint8Array(Float32Array.of(1, 2, 3).buffer) },
    { name: 'm', dims: [32, 3], type: GgmlType.F32, produce: () => new Uint8Array(data.buffer) },
  ]);
  assert.ok(isGgufFile(f));
  const g = readGgufHeader(f);
  assert.equal(g.version, 3);
  assert.deepEqual([...g.kv.keys()], kv.map(([k]) => k));
  for (const [k, v] of kv) {
    const r = g.kv.get(k)!;
    assert.equal(r.type, v.type, k);
    if (v.type === GgufType.ARRAY) assert.deepEqual(Array.from(r.value as ArrayLike<unknown>), Array.from(v.value as ArrayLike<unknown>), k);
    else assert.equal(r.value, v.type === GgufType.FLOAT32 ? Math.fround(v.value) : v.value, k);
  }
  const m = g.tensors[1]!;
  assert.equal(m.offset % 32, 0);
  assert.equal(g.dataOffset % 32, 0);
  assert.deepEqual(new Float32Array(readGgufTensorBytes(g, m).slice().buffer), data);
  // truncation and foreign files are named, not crashed on
  fs.writeFileSync(path.join(dir, 't.gguf'), fs.readFileSync(f).subarray(0, 100));
  assert.throws(() => readGgufHeader(path.join(dir, 't.gguf')), /truncated/);
  fs.writeFileSync(path.join(dir, 'n.gguf'), 'not a gguf file at all, just text');
  assert.throws(() => readGgufHeader(path.join(dir, 'n.gguf')), /not a GGUF file/);
  assert.equal(isGgufFile(dir), false);
});

test('the q/k row permutation turns HF rotate-half RoPE into llama.cpp\'s adjacent-pair RoPE', () => {
  const H = 2, D = 8, pos = 5;
  const x = Float64Array.from({ length: H * D }, (_, i) => Math.sin(i * 1.7) + i / 10);  // one q row set: [H*D] outputs
  // treat each "row" as one output feature holding a single value: permuting rows permutes features
  const asBytes = new Uint8Array(x.buffer.slice(0));
  const permuted = new Float64Array(permuteRows(asBytes, 8, H, D, true).buffer);
  const hf = ropeRef(x, 1, 1, H, D, [pos]);
  // llama.cpp's LLAMA_ROPE_TYPE_NORM: rotates (x[2i], x[2i+1]) by pos * base^(-2i/D)
  const pair = new Float64Array(H * D);
  for (let h = 0; h < H; h++)
    for (let i = 0; i < D / 2; i++) {
      const a = pos / 10000 ** ((2 * i) / D), c = Math.cos(a), s = Math.sin(a);
      const x0 = permuted[h * D + 2 * i]!, x1 = permuted[h * D + 2 * i + 1]!;
      pair[h * D + 2 * i] = x0 * c - x1 * s;
      pair[h * D + 2 * i + 1] = x0 * s + x1 * c;
    }
  const expect = new Float64Array(permuteRows(new Uint8Array(hf.buffer.slice(0)), 8, H, D, true).buffer);
  for (let i = 0; i < H * D; i++) assert.ok(Math.abs(pair[i]! - expect[i]!) < 1e-12, `feature ${i}`);
  // and the inverse undoes it
  assert.deepEqual(new Float64Array(permuteRows(permuteRows(asBytes, 8, H, D, true), 8, H, D, false).buffer), x);
});

test('f32 export: llama.cpp names and keys, exact logits after loading, export -> load -> export byte-identical for every type', { skip }, () => {
  const dir = tmpDir('f32');
  const src = makeFolder(path.join(dir, 'm'), { position: 'rope', layers: 2 });
  const ref = logits(loadModel(src));
  const f = path.join(dir, 'm-f32.gguf');
  const r = exportGguf(openSource(src), f, { type: 'f32' });
  assert.equal(r.warnings.length, 1);  // 2 layers: llama.cpp would use no position encoding
  const g = readGgufHeader(f);
  assert.equal(g.kv.get('general.architecture')!.value, 'baichuan');
  for (const k of ['block_count', 'embedding_length', 'feed_forward_length', 'attention.head_count', 'attention.head_count_kv', 'context_length', 'rope.dimension_count'])
    assert.ok(g.kv.has(`baichuan.${k}`), k);
  assert.equal(g.kv.get('tokenizer.ggml.model')!.value, 'llama');
  assert.equal(g.kv.get('tokenizer.ggml.add_bos_token')!.value, false);
  assert.equal(g.kv.get('tokenizer.ggml.add_space_prefix')!.value, false);
  assert.equal(g.tensors.length, 2 + 2 * 9 + 1);
  assert.deepEqual(g.tensors.slice(0, 6).map((t) => t.name), ['token_embd.weight', 'blk.0.attn_norm.weight', 'blk.0.attn_q.weight', 'blk.0.attn_k.weight', 'blk.0.attn_v.weight', 'blk.0.attn_output.weight']);
  assert.deepEqual(g.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!.dims, [64, 64]);
  // output.weight rows are unit-norm (NormHead applied once)
  const head = new Float32Array(readGgufTensorBytes(g, g.tensors.find((t) => t.name === 'output.weight')!).slice().buffer);
  for (const row of [0, 17, V - 1]) assert.ok(Math.abs(Math.hypot(...head.subarray(row * 64, row * 64 + 64)) - 1) < 1e-6);
  // loading the file gives exactly the folder's logits
  assert.deepEqual(logits(loadModel(f)), ref);
  // re-export from the file is byte-identical, for every type
  for (const type of ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'] as const) {
    const a = path.join(dir, `a-${type}.gguf`), b = path.join(dir, `b-${type}.gguf`);
    exportGguf(openSource(src), a, { type });
    exportGguf(openSource(a), b, {});
    assert.ok(sameBytes(a, b), `${type}: export -> load -> export differs`);
    // converting 7 rows at a time (as a 13B head is, in 2^24-element blocks) writes the same bytes
    const c = path.join(dir, `c-${type}.gguf`);
    exportGguf(openSource(src), c, { type, chunkRows: 7 });
    assert.ok(sameBytes(a, c), `${type}: row-chunked conversion differs`);
    assert.equal(ggufSource(a).config.position, 'rope');
  }
});

test('Q4_0 / Q8_0: our quantised folder exports without re-quantising, and loads back with exactly its logits', { skip }, () => {
  const dir = tmpDir('q');
  const src = makeFolder(path.join(dir, 'm'), { position: 'alibi', layers: 2 });
  for (const bits of [4, 8] as const) {
    const qdir = path.join(dir, `q${bits}`);
    quantizeModelFolder(src, qdir, { bits, groupSize: 32 });
    const ours = logits(loadModel(qdir));
    const f = path.join(dir, `q${bits}.gguf`);
    const r = exportGguf(openSource(qdir), f, { name: 'tiny' });
    assert.equal(r.type, `q${bits}_0`);
    const types = new Set(readGgufHeader(f).tensors.filter((t) => t.name.includes('ffn_up')).map((t) => t.type));
    assert.deepEqual([...types], [bits === 4 ? GgmlType.Q4_0 : GgmlType.Q8_0]);
    assert.deepEqual(logits(loadModel(f)), ours, `${bits}-bit: GGUF logits differ from the quantised folder's`);
    // the float folder exported at q4_0 / q8_0 is the same file: the same quantiser, the same bytes
    const direct = path.join(dir, `direct-q${bits}.gguf`);
    exportGguf(openSource(src), direct, { type: `q${bits}_0`, name: 'tiny' });
    assert.ok(sameBytes(f, direct), `${bits}-bit: folder export and direct export differ`);
  }
  assert.throws(() => exportGguf(openSource(path.join(dir, 'q4')), path.join(dir, 'x.gguf'), { type: 'q8_0' }), /4-bit weights.*not re-quantised/);
  const g64 = path.join(dir, 'q4g64');
  quantizeModelFolder(makeFolder(path.join(dir, 'm128'), { position: 'rope', layers: 1, ffn: 128 }), g64, { bits: 4, groupSize: 64 });
  assert.throws(() => exportGguf(openSource(g64), path.join(dir, 'x.gguf')), /group size 64 has no ggml type/);
});

test('a tokenizer built from the GGUF vocabulary equals ours on the Baichuan 2 golden set', { skip }, () => {
  const dir = tmpDir('tok');
  const sp = readModelFile(path.join(DATA, 'tokenizers/baichuan2/tokenizer.model'));
  const f = path.join(dir, 'vocab.gguf');
  const cfg = configFromJSON(PRESETS['7b']!);
  writeGguf(f, [...modelKv(cfg, 'vocab', 'f16'), ...vocabKv(sp, { bos: 1, eos: 2, pad: 0 })], []);
  const g = readGgufHeader(f);
  assert.match(g.kv.get('tokenizer.chat_template')!.value as string, /<reserved_106>\{\{ message\['content'\] \}\}/);
  const tok = loadTokenizer(f);
  const docs = fs.readFileSync(path.join(DATA, 'tokenizer-golden/docs.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { text: string });
  const gold = fs.readFileSync(path.join(DATA, 'tokenizer-golden/baichuan2.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ids: number[] });
  docs.forEach((d, i) => assert.deepEqual(tok.encode(d.text), gold[i]!.ids, `doc ${i}`));
  assert.equal(tok.decode(tok.encode('你好，世界 hello')), '你好，世界 hello');
});

test('the layer-count warning, and clear errors for what we do not read', { skip }, () => {
  const rope40 = configFromJSON({ ...PRESETS.tiny, position_embedding: 'rope', num_hidden_layers: 40 });
  assert.match(layerCountWarning(rope40)!, /40-layer RoPE model will run in llama\.cpp with ALiBi/);
  assert.match(layerCountWarning(configFromJSON({ ...PRESETS.tiny, num_hidden_layers: 2 }))!, /no position encoding/);
  assert.equal(layerCountWarning(configFromJSON(PRESETS['13b']!)), null);
  const dir = tmpDir('err');
  const src = makeFolder(path.join(dir, 'm'), { position: 'rope', layers: 2 });
  const f = path.join(dir, 'm.gguf');
  assert.match(exportGguf(openSource(src), f).warnings.join(), /2-layer RoPE model will run in llama.cpp with no position encoding/);
  assert.equal(ggufSource(f).config.position, 'rope');  // our own key, not llama.cpp's rule
  // a tensor type we do not read: patch ffn_up of layer 0 to Q6_K (type 14) in the header
  const buf = fs.readFileSync(f);
  const name = Buffer.from('blk.0.ffn_up.weight');
  const at = buf.indexOf(name) + name.length + 4 + 16;  // n_dims u32, two u64 dims, then the type
  assert.equal(buf.readUInt32LE(at), GgmlType.F32);
  buf.writeUInt32LE(14, at);
  fs.writeFileSync(path.join(dir, 'q6k.gguf'), buf);
  assert.throws(() => loadModel(path.join(dir, 'q6k.gguf')), /'blk\.0\.ffn_up\.weight' has type Q6_K, which we do not read/);
  fs.rmSync(path.join(src, 'tokenizer.model'));
  assert.throws(() => exportGguf(openSource(src), f), /no tokenizer\.model/);
});

test('CLI: export gguf, then info, logits and generate read the .gguf file', { skip }, () => {
  const dir = tmpDir('cli');
  const src = makeFolder(path.join(dir, 'm'), { position: 'rope', layers: 2 });
  const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/baichuan2.js', ...args], { encoding: 'utf8' });
  const f = path.join(dir, 'm.gguf');
  let r = cli('export', 'gguf', '--model', src, '--out', f, '--type', 'q8_0');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /q8_0, 21 tensors/);
  r = cli('info', f, '--json');
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout) as { layers: number; position: string; tensorTypes: Record<string, number>; tokenizer: boolean };
  assert.deepEqual([info.layers, info.position, info.tokenizer, info.tensorTypes.Q8_0], [2, 'rope', true, 2 * 7 + 1]);
  assert.match(r.stderr + cli('info', f).stdout, /no position encoding/);
  r = cli('logits', '--model', f, '--ids', '1,2,3');
  assert.equal(r.status, 0, r.stderr);
  const viaCli = (JSON.parse(r.stdout) as { logits: number[][] }).logits;
  assert.deepEqual(Float32Array.from(viaCli.flat()), logits(loadModel(f), [1, 2, 3]));
  r = cli('generate', '--model', f, '--prompt', 'hello', '--greedy', '--max-new-tokens', '3', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout.trim().split('\n').pop()!) as { ids: number[] }).ids.length, 3);
  r = cli('export', 'gguf', '--model', src, '--out', f, '--type', 'q5_k');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--type must be one of f32, f16, bf16, q8_0, q4_0/);
});

test('reads a GGUF file written by llama.cpp itself (its Baichuan 1 vocabulary test file)', { skip }, () => {
  const f = path.join(DATA, 'tokenizers/baichuan1/ggml-vocab-baichuan.gguf');
  const g = readGgufHeader(f);
  assert.equal(g.version, 3);
  assert.equal(g.kv.get('general.name')!.value, 'Baichuan-7B');
  assert.equal(g.tensors.length, 0);
  const tsv = fs.readFileSync(path.join(DATA, 'tokenizers/baichuan1/vocab.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
  const tok = loadTokenizer(f);
  assert.equal(tok.vocabSize, 64000);
  const TYPES: Record<string, number> = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 };
  tsv.forEach(([id, type, score, piece]) => {
    const i = Number(id);
    if (tok.pieces[i] !== JSON.parse(piece!) || tok.types[i] !== TYPES[type!] || tok.scores[i] !== Math.fround(Number(score))) assert.fail(`token ${i} differs from vocab.tsv`);
  });
  assert.deepEqual(tok.encode('<0x41>').length > 1, true);  // byte pieces are not matched as text
  assert.throws(() => loadModel(f), /GGUF tensor 'token_embd.weight' is missing/);
});
