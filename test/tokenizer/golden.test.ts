// Byte-exact SentencePiece compatibility on ../shared/data/tokenizer-golden:
// every document of every model gives exactly the golden ids and pieces, and
// decode reproduces the text wherever SentencePiece itself round-trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readModelFile, serializeModel, parseModel } from '../../src/tokenizer/sentencepiece-model.js';
import { BpeTokenizer, decodeUtf8Lenient } from '../../src/tokenizer/bpe.js';

const DATA = path.resolve(process.cwd(), '../shared/data');
const have = fs.existsSync(path.join(DATA, 'tokenizer-golden'));

function readJsonl<T>(file: string): T[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

for (const name of ['baichuan2', 'spm-bpe-8000', 'spm-bpe-32000']) {
  test(`${name}: golden ids, pieces and round trips`, { skip: !have && 'no ../shared/data' }, () => {
    const tok = new BpeTokenizer(readModelFile(path.join(DATA, 'tokenizers', name, 'tokenizer.model')));
    const docs = readJsonl<{ id: string; text: string }>(path.join(DATA, 'tokenizer-golden/docs.jsonl'));
    const gold = readJsonl<{ id: string; ids: number[]; pieces: string[]; roundtrip: boolean }>(path.join(DATA, `tokenizer-golden/${name}.jsonl`));
    assert.equal(docs.length, gold.length);
    let mismatches = 0;
    docs.forEach((d, i) => {
      const g = gold[i]!;
      assert.equal(g.id, d.id);
      const r = tok.encodeWithPieces(d.text);
      if (JSON.stringify(r.ids) !== JSON.stringify(g.ids) || JSON.stringify(r.pieces) !== JSON.stringify(g.pieces)) {
        mismatches++;
        if (mismatches <= 3) assert.deepEqual({ id: d.id, ids: r.ids, pieces: r.pieces }, { id: d.id, ids: g.ids, pieces: g.pieces });
      }
      if (g.roundtrip) assert.equal(tok.decode(g.ids), d.text, `round trip of ${d.id}`);
    });
    assert.equal(mismatches, 0);
  });
}

test('Baichuan 2 facts: size, special and role pieces, user-defined symbols', { skip: !have && 'no ../shared/data' }, () => {
  const tok = new BpeTokenizer(readModelFile(path.join(DATA, 'tokenizers/baichuan2/tokenizer.model')));
  assert.equal(tok.vocabSize, 125696);
  assert.deepEqual([0, 1, 2, 195, 196].map((i) => tok.pieces[i]), ['<unk>', '<s>', '</s>', '<reserved_106>', '<reserved_107>']);
  assert.deepEqual(tok.encode('a+b').map((i) => tok.pieces[i]), ['a', '+', 'b']);
  assert.deepEqual(tok.encode('x\ny'), [tok.pieceToId('x'), 5, tok.pieceToId('y')]);
  assert.equal(tok.decode([1, ...tok.encode('你好'), 2]), '你好');  // control pieces vanish
  assert.throws(() => tok.decode([125696]), /outside the vocabulary/);
});

test('the model file survives parse -> serialize -> parse', { skip: !have && 'no ../shared/data' }, () => {
  const m = readModelFile(path.join(DATA, 'tokenizers/spm-bpe-8000/tokenizer.model'));
  const again = parseModel(serializeModel(m));
  assert.deepEqual(again.pieces, m.pieces);
  assert.deepEqual(again.normalizer, m.normalizer);
  assert.deepEqual(again.trainerSpec.map((f) => f.no), m.trainerSpec.map((f) => f.no));
  assert.throws(() => parseModel(Uint8Array.from([0x0a, 0xff])), /truncated/);
});

test('lenient UTF-8 decoding replaces each bad byte like SentencePiece', () => {
  assert.equal(decodeUtf8Lenient([0xe4, 0xbd, 0xa0]), '你');
  assert.equal(decodeUtf8Lenient([0xe4, 0xbd]), '\ufffd\ufffd');
  assert.equal(decodeUtf8Lenient([0xff, 0x41]), '\ufffdA');
  assert.equal(decodeUtf8Lenient([0xf0, 0x9f, 0x98, 0x80]), '😀');
});
