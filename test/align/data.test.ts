// SFT data: the official label layout on hand-made conversations (checked by
// hand against fine-tune.py's preprocessing), every input format, malformed
// records named by file:line, and `baichuan2 sft encode`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { officialExample, officialEncoder, shiftedTargets, lossTokens } from '../../src/align/labels.js';
import { collectConversations, newConversationStats, parseHhText } from '../../src/align/conversations.js';
import { loadTokenizer } from '../../src/io/tokenizer-file.js';

const X = -100;
// one id per character: a = 97, b = 98, ... (ids need not be in any vocabulary for the layout)
const enc = (s: string) => [...s].map((c) => c.charCodeAt(0));
const u = (content: string) => ({ role: 'user' as const, content });
const a = (content: string) => ({ role: 'assistant' as const, content });

test('official labels: multi-turn, final eos, truncation mid-turn, ending on a user turn, empty value, system', () => {
  const conv = { turns: [u('ab'), a('cd'), u('e'), a('fg')] };
  const full = officialExample(conv, enc);
  assert.deepEqual(full.inputIds, [195, 97, 98, 196, 99, 100, 195, 101, 196, 102, 103, 2]);
  assert.deepEqual(full.labels, [2, X, X, X, 99, 100, 2, X, X, 102, 103, 2]);
  // the loss counts the assistant tokens and the eos after each assistant turn (the user turn's eos label, after the shift)
  assert.deepEqual(shiftedTargets(full.labels), [X, X, X, 99, 100, 2, X, X, 102, 103, 2, X]);
  assert.equal(lossTokens(full.labels), 6);
  // cut in the middle of the second assistant turn: no final eos
  const cut = officialExample(conv, enc, { maxLength: 10 });
  assert.deepEqual(cut.inputIds, [195, 97, 98, 196, 99, 100, 195, 101, 196, 102]);
  assert.deepEqual(cut.labels, [2, X, X, X, 99, 100, 2, X, X, 102]);
  // cut inside the first user turn: nothing to learn
  assert.equal(lossTokens(officialExample(conv, enc, { maxLength: 3 }).labels), 0);
  // a conversation ending on a user turn still gets the final eos in both
  const endsUser = officialExample({ turns: [u('a'), a('b'), u('c')] }, enc);
  assert.deepEqual(endsUser.inputIds, [195, 97, 196, 98, 195, 99, 2]);
  assert.deepEqual(endsUser.labels, [2, X, X, 98, 2, X, 2]);
  // an empty assistant value: only its 196 marker (label -100)
  const empty = officialExample({ turns: [u('a'), a(''), u('')] }, enc);
  assert.deepEqual(empty.inputIds, [195, 97, 196, 195, 2]);
  assert.deepEqual(empty.labels, [2, X, X, 2, 2]);
  // a system prompt goes first with labels -100
  const sys = officialExample({ system: 'S', turns: [u('a'), a('b')] }, enc);
  assert.deepEqual(sys.inputIds, [83, 195, 97, 196, 98, 2]);
  assert.deepEqual(sys.labels, [X, 2, X, X, 98, 2]);
  assert.throws(() => officialExample(conv, enc, { maxLength: 0 }), /positive integer/);
});

test('official labels with the Baichuan 2 tokenizer: plain encode, no BOS', (t) => {
  const file = '../shared/data/tokenizers/baichuan2/tokenizer.model';
  if (!fs.existsSync(file)) { t.skip('needs ../shared/data/tokenizers/baichuan2/tokenizer.model'); return; }
  const tok = loadTokenizer(file);
  const ex = officialExample({ turns: [u('你好'), a('Hello!')] }, (s) => tok.encode(s));
  const hi = tok.encode('你好'), hello = tok.encode('Hello!');
  assert.deepEqual(ex.inputIds, [195, ...hi, 196, ...hello, 2]);
  assert.deepEqual(ex.labels, [2, ...hi.map(() => X), X, ...hello, 2]);
  assert.ok(!ex.inputIds.includes(1), 'no BOS');
  // as the HF slow tokenizer: declared special tokens inside a text are split out first
  const e = officialEncoder(tok);
  assert.deepEqual(e('a</s>b<s><unk>'), [...tok.encode('a'), 2, ...tok.encode('b'), 1, 0]);
  assert.deepEqual(e('你好'), hi);
  assert.deepEqual(e(''), []);
});

test('reader: official .json array, OpenAI .jsonl, Alpaca .jsonl.gz, HH, Parquet; malformed records named file:line', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-sftdata-'));
  const official = path.join(dir, 'official.json');
  fs.writeFileSync(official, JSON.stringify([
    { id: 'x1', conversations: [{ from: 'human', value: 'hi' }, { from: 'gpt', value: 'hello' }] },
    { id: 'x2', conversations: [{ from: 'human', value: 'q' }, { from: 'bot', value: 'r' }] },  // any non-human is the assistant
    { id: 'bad', conversations: [{ from: 'human' }] },
    { id: 'bad2', conversations: 'nope' },
  ]));
  const openai = path.join(dir, 'openai.jsonl');
  fs.writeFileSync(openai, [
    JSON.stringify({ messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'u' }, { role: 'assistant', content: 'v' }] }),
    '{not json',
    JSON.stringify({ messages: [{ role: 'user', content: 'u' }, { role: 'system', content: 'late' }] }),
    '',
    JSON.stringify({ messages: [{ role: 'tool', content: 'x' }] }),
    JSON.stringify({ other: 1 }),
  ].join('\n'));
  const alpaca = path.join(dir, 'alpaca.jsonl.gz');
  fs.writeFileSync(alpaca, zlib.gzipSync([
    JSON.stringify({ instruction: 'Translate', input: '猫', output: 'cat' }),
    JSON.stringify({ instruction: 'Say hi', input: '', output: 'hi' }),
    JSON.stringify({ instruction: 'x' }),
  ].join('\n')));
  const hh = path.join(dir, 'hh.jsonl');
  fs.writeFileSync(hh, [JSON.stringify({ chosen: '\n\nHuman: hello\n\nAssistant: hi there\n\nHuman: bye\n\nAssistant: bye!', rejected: '\n\nHuman: hello\n\nAssistant: go away' }), JSON.stringify({ chosen: 'no markers' })].join('\n'));
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const pq = path.join(dir, 'alpaca.parquet');
  fs.writeFileSync(pq, Buffer.from(parquetWriteBuffer({ columnData: [
    { name: 'instruction', data: ['A', 'B'], type: 'STRING' }, { name: 'input', data: ['', 'in'], type: 'STRING' }, { name: 'output', data: ['a', null], type: 'STRING' },
  ] })));
  const stats = newConversationStats();
  const convs = await collectConversations([official, openai, alpaca, hh, pq], stats);
  assert.equal(convs.length, 2 + 1 + 2 + 1 + 1);
  assert.deepEqual(stats.formats, { official: 2, openai: 1, alpaca: 3, hh: 1 });
  assert.deepEqual(convs[0], { id: 'x1', turns: [u('hi'), a('hello')], where: `${official}:1` });
  assert.deepEqual(convs[1]!.turns, [u('q'), a('r')]);
  assert.deepEqual(convs[2], { id: '2', system: 'be brief', turns: [u('u'), a('v')], where: `${openai}:1` });
  assert.deepEqual(convs[3]!.turns, [u('Translate\n猫'), a('cat')]);
  assert.deepEqual(convs[4]!.turns, [u('Say hi'), a('hi')]);
  assert.deepEqual(convs[5]!.turns, [u('hello'), a('hi there'), u('bye'), a('bye!')]);
  assert.deepEqual(convs[6]!.turns, [u('A'), a('a')]);
  const named = stats.skipped.map((s) => `${path.basename(s.file)}:${s.line} ${s.reason}`);
  assert.deepEqual(named, [
    'official.json:3 conversations[0].value is not a string',
    'official.json:4 "conversations" is a string that is not JSON',
    'openai.jsonl:2 invalid JSON',
    'openai.jsonl:3 messages[1]: a system message may only come first',
    "openai.jsonl:5 messages[0].role 'tool' is not system, user or assistant",
    'openai.jsonl:6 no "conversations", "messages", "instruction"/"output" or "chosen"/"text" field',
    'alpaca.jsonl.gz:3 "output" is not a string',
    'hh.jsonl:2 HH text does not start with "\\n\\nHuman: "',
    'alpaca.parquet:2 "output" is not a string',
  ]);
  assert.deepEqual(parseHhText('\n\nHuman: a\n\nAssistant: '), [u('a'), a('')]);
  await assert.rejects(collectConversations([path.join(dir, 'missing.jsonl')]), /not found/);
  await assert.rejects(collectConversations([path.join(dir, 'x.csv')]), /not found|unsupported/);
});

test('reader: the shared HH-RLHF file reads without a skip', async (t) => {
  const file = '../shared/data/alignment/hh-rlhf/harmless-base-test.jsonl.gz';
  if (!fs.existsSync(file)) { t.skip('needs ../shared/data/alignment/hh-rlhf'); return; }
  const stats = newConversationStats();
  const convs = await collectConversations([file], stats);
  assert.equal(convs.length, 2312);
  assert.equal(stats.skipped.length, 0);
  assert.ok(convs.every((c) => c.turns[0]!.role === 'user' && c.turns.at(-1)!.role === 'assistant'));
});

test('baichuan2 sft encode prints the official unpadded examples', (t) => {
  const tokFile = '../shared/data/tokenizers/baichuan2/tokenizer.model';
  if (!fs.existsSync(tokFile)) { t.skip('needs the Baichuan 2 tokenizer'); return; }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-sftenc-'));
  const data = path.join(dir, 'd.json');
  fs.writeFileSync(data, JSON.stringify([{ id: '1', conversations: [{ from: 'human', value: '1+1=?' }, { from: 'gpt', value: '2' }] }, { id: '2', conversations: 7 }]));
  const r = spawnSync(process.execPath, ['bin/baichuan2.js', 'sft', 'encode', '--tokenizer', tokFile, '--data', data, '--max-length', '6'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { input_ids: number[]; labels: number[] });
  assert.equal(lines.length, 1);
  const tok = loadTokenizer(tokFile);
  const ex = officialExample({ turns: [u('1+1=?'), a('2')] }, (s) => tok.encode(s), { maxLength: 6 });
  assert.deepEqual(lines[0], { input_ids: ex.inputIds, labels: ex.labels });
  assert.equal(lines[0]!.input_ids.length, 6);
  assert.match(r.stderr, /d\.json:2 "conversations" is not an array/);
  const bad = spawnSync(process.execPath, ['bin/baichuan2.js', 'sft', 'encode', '--tokenizer', tokFile, '--data', data, '--max-length', '0'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--max-length/);
});
