// The command line, run as a user would: output formats and exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = path.resolve(process.cwd(), 'bin/baichuan2.js');
const TOK = path.resolve(process.cwd(), '../shared/data/tokenizers/spm-bpe-8000/tokenizer.model');
const haveTok = fs.existsSync(TOK);

function run(args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-cli-'));
const model = path.join(dir, 'tiny');

test('init, info, logits and generate on a tiny model', { skip: !haveTok && 'no tokenizer in ../shared' }, () => {
  let r = run(['init', '--preset', 'tiny', '--out', model, '--seed', '1', '--tokenizer', TOK]);
  assert.equal(r.code, 0, r.err);
  r = run(['info', model, '--json']);
  assert.equal(r.code, 0, r.err);
  const info = JSON.parse(r.out) as { vocab: number; position: string; tokenizer: boolean };
  assert.equal(info.vocab, 8000);
  assert.equal(info.position, 'rope');
  assert.equal(info.tokenizer, true);
  r = run(['logits', '--model', model, '--ids', '1,2,3']);
  assert.equal(r.code, 0, r.err);
  const logits = (JSON.parse(r.out) as { logits: number[][] }).logits;
  assert.equal(logits.length, 3);
  assert.equal(logits[0]!.length, 8000);
  r = run(['generate', '--model', model, '--ids', '5,6,7', '--max-new-tokens', '4', '--greedy', '--json']);
  assert.equal(r.code, 0, r.err);
  const last = JSON.parse(r.out.trim().split('\n').pop()!) as { ids: number[]; text: string };
  assert.equal(last.ids.length, 4);
  assert.equal(typeof last.text, 'string');
  r = run(['chat', '--model', model, '--max-new-tokens', '3'], 'hello\n/reset\n/exit\n');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /assistant> .*\n.*\(history cleared\)/s);
});

test('tokenize and detokenize', { skip: !haveTok && 'no tokenizer in ../shared' }, () => {
  let r = run(['tokenize', '--tokenizer', TOK, '--text', 'Hello world']);
  assert.equal(r.code, 0, r.err);
  const one = JSON.parse(r.out) as { ids: number[]; pieces: string[] };
  assert.equal(one.ids.length, one.pieces.length);
  const jsonl = path.join(dir, 'in.jsonl');
  fs.writeFileSync(jsonl, JSON.stringify({ text: 'two\nlines' }) + '\n' + JSON.stringify({ text: 'x' }) + '\n');
  r = run(['tokenize', '--tokenizer', TOK, '--jsonl', jsonl]);
  assert.equal(r.out.trim().split('\n').length, 2);
  r = run(['detokenize', '--tokenizer', TOK, '--ids', one.ids.join(',')]);
  assert.equal(r.out, 'Hello world\n');
});

test('bad input exits non-zero with a message', { skip: !haveTok && 'no tokenizer in ../shared' }, () => {
  const cases: [string[], RegExp, number][] = [
    [['logits', '--model', model, '--ids', '1,x'], /'x' is not a non-negative integer id/, 2],
    [['logits', '--model', model, '--ids', '8000'], /--ids: token id 8000 is outside the vocabulary/, 2],
    [['generate', '--model', path.join(dir, 'nope'), '--ids', '1'], /not a directory/, 2],
    [['generate', '--model', model], /exactly one of --prompt, --ids/, 2],
    [['generate', '--model', model, '--ids', '1', '--top-p', '2'], /--top-p must be a number in/, 2],
    [['generate', '--model', model, '--ids', '1', '--max-new-tokens', '300'], /exceeds the context length 256/, 1],
    [['tokenize', '--tokenizer', TOK], /exactly one of --text, --file, --jsonl/, 2],
    [['init', '--preset', 'huge', '--out', path.join(dir, 'x')], /neither a preset/, 2],
    [['nonsense'], /unknown command/, 1],
  ];
  for (const [args, re, code] of cases) {
    const r = run(args);
    assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}, stderr ${r.err}`);
    assert.match(r.err, re, args.join(' '));
  }
});
