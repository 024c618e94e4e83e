// PyTorch .bin checkpoints read tensor by tensor: the golden sharded bf16
// checkpoint (written by torch.save) streams to the same bytes as the f32
// golden rounded to bf16; a bigger checkpoint PyTorch writes here (strided and
// offset views, f16, f32) streams to the bytes torch itself hashed; and the
// memory held while streaming stays at one tensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { listWeights } from '../../src/io/weight-files.js';
import { readTorchBin } from '../../src/io/torch-bin.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { readRows, readTensor } from '../../src/io/tensor-source.js';
import { loadModel } from '../../src/io/hf-folder.js';
import { f32ToBf16 } from '../../src/engine/dtype.js';
import { Tensor } from '../../src/engine/tensor.js';
import { GOLDEN, SHARDED_BIN, noGolden, noTorch, tmp, torchCheckpoint } from './fixtures.js';

test('sharded bf16 .bin (torch.save) streams to the f32 golden rounded to bf16, bit for bit', { skip: noGolden }, () => {
  const { files, sources } = listWeights(SHARDED_BIN, 'bin');
  assert.equal(files.format, 'bin');
  assert.equal(files.files.length, 2);
  const f32 = readSafetensors(path.join(GOLDEN, 'tiny-alibi', 'model.safetensors'));
  assert.equal(sources.length, f32.size);
  for (const s of sources) {
    assert.equal(s.dtype, 'BF16', s.name);
    const ref = f32.get(s.name)!;
    assert.deepEqual(s.shape, ref.shape, s.name);
    const want = Uint16Array.from(ref.f32(), (x) => f32ToBf16(x));
    const got = readTensor(s);
    assert.equal(got.dtype, 'bf16');
    assert.deepEqual(new Uint16Array(got.data.buffer, got.data.byteOffset, got.size), want, s.name);
    // a block of rows reads only those rows, with the same bytes
    if (s.shape.length === 2 && s.shape[0]! > 3) {
      const rows = readRows(s, 1, 3);
      assert.deepEqual(rows.shape, [2, s.shape[1]]);
      assert.deepEqual(rows.data, want.subarray(s.shape[1]!, 3 * s.shape[1]!));
    }
  }
  // the whole-file reader agrees with the stream
  const all = new Map([...files.files].flatMap((f) => [...readTorchBin(f)]));
  for (const s of sources) assert.deepEqual(all.get(s.name)!.data, readTensor(s).data);
});

test('a .bin folder loads to the same logits as the same weights from safetensors', { skip: noGolden }, () => {
  const bin = loadModel(SHARDED_BIN);
  // the golden f32 weights rounded to bf16 (what the .bin holds), written as safetensors
  const st = tmp();
  fs.copyFileSync(path.join(SHARDED_BIN, 'config.json'), path.join(st, 'config.json'));
  const f32 = readSafetensors(path.join(GOLDEN, 'tiny-alibi', 'model.safetensors'));
  writeSafetensors(path.join(st, 'model.safetensors'), new Map([...f32].map(([k, t]) => [k, t.astype('bf16')])));
  const ref = loadModel(st);
  const ids = Tensor.from([5, 9, 100, 3, 77, 1], [1, 6], 'i32');
  assert.deepEqual(bin.forward(ids).logits.f32(), ref.forward(ids).logits.f32());
});

/** gc() of this isolate (a flag set at run time, so the suite needs no --expose-gc). */
function gcFn(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

test('a many-tensor sharded .bin written by PyTorch streams to torch\'s own bytes; held memory stays at one tensor', { skip: noTorch }, () => {
  const dir = tmp();
  // 4 layers, hidden 256, vocab 32000: 35 tensors in 2 shards, the largest 16 MB (embedding and head), 39 MB in all
  torchCheckpoint(dir, ['--layers', '4', '--hidden', '256', '--ffn', '688', '--vocab', '32000', '--heads', '8', '--position', 'alibi', '--shards', '3', '--extras', '--hashes']);
  const hashes = JSON.parse(fs.readFileSync(path.join(dir, 'hashes.json'), 'utf8')) as Record<string, string>;
  const gc = gcFn();
  const { sources } = listWeights(dir, 'bin');
  assert.deepEqual(sources.map((s) => s.name).sort(), Object.keys(hashes).sort());
  const total = sources.reduce((a, s) => a + s.bytes, 0);
  const largest = Math.max(...sources.map((s) => s.bytes));
  assert.ok(total > 2 * largest, 'the checkpoint is several times its largest tensor');
  const kinds = new Set(sources.map((s) => s.dtype));
  assert.deepEqual([...kinds].sort(), ['BF16', 'F16', 'F32']);
  // one read at a time, everything earlier collected: external memory after the read = the tensor
  // plus whatever the read allocated and dropped (not yet collected), i.e. any transient copy
  const readAndHash = (i: number): { growth: number; digest: string } => {
    gc();
    const base = process.memoryUsage().arrayBuffers;
    const t = readTensor(sources[i]!);
    const growth = process.memoryUsage().arrayBuffers - base;
    return { growth, digest: crypto.createHash('sha256').update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).digest('hex') };
  };
  const margin = 2 ** 20;  // zip directory, pickle, small buffers
  let peak = 0;
  sources.forEach((s, i) => {
    const { growth, digest } = readAndHash(i);
    assert.equal(digest, hashes[s.name], `${s.name} (${s.dtype} ${JSON.stringify(s.shape)})`);
    // a strided view (extra.transposed) is read as the span it covers, then gathered: two copies of it
    const limit = (s.name === 'extra.transposed' ? 2 : 1) * s.bytes + margin;
    assert.ok(growth <= limit, `${s.name}: reading it grew external memory by ${growth} bytes, more than ${limit} (a transient copy?)`);
    if (s.name !== 'extra.transposed') peak = Math.max(peak, growth);
  });
  assert.ok(peak <= largest + margin, `peak ${peak} > largest tensor ${largest} + ${margin}`);
  fs.rmSync(dir, { recursive: true, force: true });
});
