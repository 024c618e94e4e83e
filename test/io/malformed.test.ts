// Malformed safetensors headers, zip archives and pickles: each gives a named
// error (file, tensor, field), never a bare TypeError, and nothing is
// allocated from a size the file cannot back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { readSafetensorsHeader, readSafetensors } from '../../src/io/safetensors.js';
import { ZipReader } from '../../src/io/zip.js';
import { listTorchBin } from '../../src/io/torch-bin.js';
import { unpickle } from '../../src/io/pickle.js';
import { SHARDED_BIN, buildZip, noGolden, tmp } from './fixtures.js';

function safetensorsWith(header: unknown, dataBytes = 16): string {
  const f = path.join(tmp(), 'bad.safetensors');
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  fs.writeFileSync(f, Buffer.concat([len, h, Buffer.alloc(dataBytes)]));
  return f;
}

test('safetensors headers: named errors for every malformed entry', () => {
  const cases: [unknown, RegExp][] = [
    [{ w: { dtype: 'F32', shape: [2] } }, /bad\.safetensors: safetensors header entry 'w' is malformed \(field 'data_offsets': Required\)/],
    [{ w: { dtype: 'F32', shape: [2], data_offsets: [0, 800] } }, /tensor 'w' lies outside the file \(offsets 0\.\.800, data is 16 bytes\)/],
    [{ w: { dtype: 'F32', shape: [2], data_offsets: [12, 8] } }, /tensor 'w' lies outside the file/],
    [{ w: { dtype: 'F32', shape: [1e300, 0], data_offsets: [0, 0] } }, /entry 'w' is malformed \(field 'shape\.0': Number must be less than or equal to 9007199254740991\)/],
    [{ w: { dtype: 'F32', shape: [2.5], data_offsets: [0, 10] } }, /entry 'w' is malformed \(field 'shape\.0': Expected integer, received float\)/],
    [{ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, /field 'shape\.0': Number must be greater than or equal to 0/],
    [{ w: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, /field 'shape': Expected array, received string/],
    [{ w: { dtype: 'F32', shape: [2], data_offsets: [0, 'x'] } }, /field 'data_offsets\.1': Expected number/],
    [{ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 16] } }, /tensor 'w' \[1099511627776, 1099511627776\] F32 needs more bytes than the file holds, header gives 16/],
    [{ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, /tensor 'w' \[3\] F32 needs 12 bytes, header gives 8/],
    [{ w: null }, /entry 'w' is malformed \(entry: Expected object, received null\)/],
    [{ w: { dtype: 'Q9', shape: [2], data_offsets: [0, 8] } }, /tensor 'w' has unknown dtype 'Q9'/],
    [{ __metadata__: { format: 5 } }, /__metadata__ must map strings to strings/],
    [[1, 2], /not a JSON object/],
  ];
  for (const [h, re] of cases) assert.throws(() => readSafetensorsHeader(safetensorsWith(h)), re, JSON.stringify(h));
  // a header length beyond the file
  const f = path.join(tmp(), 'len.safetensors');
  const b = Buffer.alloc(64);
  b.writeBigUInt64LE(2n ** 62n);
  fs.writeFileSync(f, b);
  assert.throws(() => readSafetensors(f), /len\.safetensors: corrupt safetensors header length/);
});

test('zip: sizes and offsets checked before allocation; inflate bounded by the declared size', () => {
  const dir = tmp();
  const write = (name: string, buf: Buffer) => { const f = path.join(dir, name); fs.writeFileSync(f, buf); return f; };
  // an entry that claims 4 GB in a 100-byte archive
  const z = buildZip([{ name: 'a/data.pkl', data: Buffer.from('x'), declaredSize: 0xfffffff0 }]);
  assert.throws(() => new ZipReader(write('huge.bin', z)), /huge\.bin: zip entry 'a\/data\.pkl' is stored but its sizes disagree/);
  // a deflated entry whose declared size is impossible for its compressed size (a bomb)
  const bomb = buildZip([{ name: 'a/data.pkl', data: Buffer.alloc(1000), deflate: true, declaredSize: 0xfffffff0 }]);
  assert.throws(() => new ZipReader(write('bomb.bin', bomb)), /bomb\.bin: zip entry 'a\/data\.pkl' claims 4294967280 bytes from \d+ compressed: not possible for deflate/);
  // a deflated entry that inflates to more than it declares stops at the declared size
  const lie = buildZip([{ name: 'a/data.pkl', data: Buffer.alloc(200_000, 7), deflate: true, declaredSize: 1000 }]);
  const r = new ZipReader(write('lie.bin', lie));
  assert.throws(() => r.readEntry('a/data.pkl'), /lie\.bin: zip entry 'a\/data\.pkl' does not inflate \(.*\)/);
  r.close();
  // an honest deflated entry reads back, in any sub-range
  const ok = new ZipReader(write('ok.bin', buildZip([{ name: 'x', data: Buffer.from('hello world'), deflate: true }])));
  assert.equal(Buffer.from(ok.readRange('x', 6, 5)).toString(), 'world');
  assert.throws(() => ok.readRange('x', 6, 50), /ok\.bin: zip entry 'x' has 11 bytes; bytes 6\.\.56 were asked for/);
  ok.close();
  // an entry past the end of the file
  const trunc = buildZip([{ name: 'x', data: Buffer.alloc(5000) }]);
  const cut = Buffer.concat([trunc.subarray(0, 1000), trunc.subarray(trunc.length - 22 - 47)]);
  cut.writeUInt32LE(1000, cut.length - 22 + 16);  // central directory now at 1000
  assert.throws(() => new ZipReader(write('cut.bin', cut)), /cut\.bin: zip entry 'x' lies outside the file/);
  assert.throws(() => new ZipReader(write('empty.bin', Buffer.alloc(0))), /empty\.bin: not a zip archive/);
  void zlib;
});

test('pickle: malformed opcodes give named errors, not TypeErrors', () => {
  const hooks = { findClass: () => () => null, persistentLoad: () => null };
  const cases: [number[], RegExp][] = [
    [[0x80, 2, 0x52, 0x2e], /f\.pkl: malformed pickle \(stack underflow at byte 2\)/],        // REDUCE on an empty stack
    [[0x4b, 1, 0x4b, 2, 0x52, 0x2e], /call arguments are not a short tuple/],                  // REDUCE(1, 2)
    [[0x4b, 1, 0x29, 0x52, 0x2e], /call of a non-callable/],                                   // 1()
    [[0x68, 9, 0x2e], /memo 9 not set/],                                                        // BINGET of nothing
    [[0x4b, 1, 0x61, 0x2e], /stack underflow|APPEND to a non-list/],
    [[0x28, 0x4b, 1, 0x75, 0x2e], /stack underflow|SETITEMS on a non-dict/],
    [[0x58, 0xff, 0xff, 0xff, 0x7f], /truncated pickle/],                                       // BINUNICODE of 2 GB
    [[0xfe], /unsupported pickle opcode 0xfe/],
  ];
  for (const [bytes, re] of cases) assert.throws(() => unpickle(Uint8Array.from(bytes), hooks, 'f.pkl'), re, JSON.stringify(bytes));
});

test('a .bin whose pickle asks for more of a storage than it holds is refused by name', { skip: noGolden }, () => {
  const src = path.join(SHARDED_BIN, 'pytorch_model-00002-of-00002.bin');
  const buf = Buffer.from(fs.readFileSync(src));
  // shrink one storage entry's recorded size in both directories: the tensor no longer fits
  const zip = new ZipReader(src);
  const e = [...zip.entries.values()].find((x) => /\/data\/\d+$/.test(x.name) && x.size > 1000)!;
  zip.close();
  const f = path.join(tmp(), 'short.bin');
  for (let p = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); p >= 0; p = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), p + 4)) {
    const name = buf.toString('utf8', p + 46, p + 46 + buf.readUInt16LE(p + 28));
    if (name === e.name) { buf.writeUInt32LE(e.size - 2, p + 20); buf.writeUInt32LE(e.size - 2, p + 24); }
  }
  fs.writeFileSync(f, buf);
  assert.throws(() => listTorchBin(f), /short\.bin: tensor '.*' \[.*\] at offset \d+ needs \d+ BF16 elements; its storage holds \d+/);
});
