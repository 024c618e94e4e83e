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
