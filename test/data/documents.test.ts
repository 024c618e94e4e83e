// The JSONL line reader: linear in the line length (a 16 MB line used to be
// re-copied once per 64 KB chunk: 3.4 s), and a line over the limit is a
// named error with its file and line, not an unbounded allocation.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { byteLines, LineTooLongError, newReadStats, readDocumentRecords } from '../../src/data/documents.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-docs-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('documents: a 16 MB line is read with linear copying', async () => {
  const file = path.join(dir, 'long.jsonl');
  const text = 'x'.repeat(16 << 20);
  fs.writeFileSync(file, JSON.stringify({ text: 'short' }) + '\n' + JSON.stringify({ text }) + '\n' + JSON.stringify({ text: 'end' }));
  // count the bytes Buffer.concat copies while reading (the quadratic reader copied ~2 GB here)
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], n?: number) => { const b = concat(list, n); copied += b.length; return b; }) as typeof Buffer.concat;
  const docs: string[] = [];
  try {
    for await (const r of readDocumentRecords([file])) docs.push(r.text);
  } finally { Buffer.concat = concat; }
  assert.deepEqual(docs.map((d) => d.length), [5, 16 << 20, 3]);
  assert.equal(docs[1], text);
  const size = fs.statSync(file).size;
  assert.ok(copied <= 2 * size, `copied ${copied} bytes for a ${size}-byte file`);
});

test('documents: a line longer than the limit is a LineTooLongError naming file and line', async () => {
  const file = path.join(dir, 'binary.jsonl');
  fs.writeFileSync(file, '{"text": "a"}\n' + 'z'.repeat(300_000));
  const stats = newReadStats();
  await assert.rejects(async () => { for await (const _ of readDocumentRecords([file], stats, 'source', { maxLineBytes: 100_000 })) { /* read */ } },
    (e: Error) => e instanceof LineTooLongError && e.message.startsWith(`${file}:2: line longer than 100000 bytes`));
  assert.equal(stats.documents, 1);
  // lines split at every possible chunk boundary come out whole
  const lines = ['ab', '', 'cdef', 'g'];
  const bytes = Buffer.from(lines.join('\n'));
  for (let cut = 0; cut <= bytes.length; cut++) {
    const got: string[] = [];
    for await (const l of byteLines([bytes.subarray(0, cut), bytes.subarray(cut)])) got.push(l.toString());
    assert.deepEqual(got, lines, `cut at ${cut}`);
  }
});

// found by the fuzzer: a mutated Parquet file on which the decoder loops for ever; the
// reader decodes in a worker and stops it at the row-group time limit, naming the file
const HANGING_PARQUET = '50415231150615e80215ec025c15081500150815000000008000000080415231150615e80215ec025c1508150015081500150415000000030fb201441d00000048656c6c6f20776f726c642c2068050df09a746f6b656e697a65722e30000000e4bda0e5a5bdefbc8ce4b896e7958ce38082e68891e4bbace8aeade7bb83e4b880e4b8aae5b08fe6a8a1e59e8be380822100000064656620662878293a0a2020202072657475726e2078202a2032202023203132333400000074686520717569636b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920646f672034322074696d657315061544153a5c1508150015081500150415000000030f200000050104f03f050708000040090824e03f00000000000008401504193c4804726f6f74150400150c2502180474657874250000150a25021806776569676874001608191c192c26081c150c1915001918047465787415021608169603169a0326083c3600280fe4bda0e5a5bdefbc8ce4b896e7958d181048656c6c6f20776f726c642c2068656c121200191c15061500150200000026a2031c150a19150019180677656967687415021608166e166426a2033c3600280800000000000008401808000000000000e03f360000191c150615001502000000168404160836fe03002809687970617271756574192c1c00001c000000db00000050415231';

test('documents: a Parquet file that hangs the decoder is stopped with an error naming it', async () => {
  const file = path.join(dir, 'hang.parquet');
  fs.writeFileSync(file, Buffer.from(HANGING_PARQUET, 'hex'));
  await assert.rejects(async () => { for await (const _ of readDocumentRecords([file], newReadStats(), 'source', { parquetTimeoutMs: 1500 })) { /* read */ } },
    (e: Error) => e.message.startsWith(`${file}: a Parquet row group took more than 1.5 s to decode`));
});
