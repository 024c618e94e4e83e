// Findings of the hardening issue, each reproduced: ids that wrap in i32,
// `| head` killing a command with an EPIPE trace, a config.json whose position
// scheme is missing or disagrees with the shapes, and the one atomic writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor } from '../../src/engine/tensor.js';
import { writeFileAtomic, withAtomicFile } from '../../src/engine/atomic-write.js';
import { BaichuanForCausalLM, checkTokenIds } from '../../src/model/baichuan.js';
import { configFromJSON, positionNotes, PRESETS } from '../../src/model/config.js';
import { sequenceLogits, sumLogProb } from '../../src/infer/log-likelihood.js';

const BIN = path.resolve(process.cwd(), 'bin/baichuan2.js');
const TOK = path.resolve(process.cwd(), '../shared/data/tokenizers/spm-bpe-8000/tokenizer.model');
const haveTok = fs.existsSync(TOK);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-harden-'));
const model = path.join(dir, 'tiny');
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('ids beyond 32 bits are refused, never wrapped (logits --ids 4294967301 was token 5)', { skip: !haveTok && 'no tokenizer in ../shared' }, () => {
  assert.equal(run(['init', '--preset', 'tiny', '--out', model, '--seed', '1', '--tokenizer', TOK]).code, 0);
  for (const id of ['4294967301', '8000', '9007199254740993']) {
    const r = run(['logits', '--model', model, '--ids', `1,${id}`]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /--ids: token id \d+ is outside the vocabulary \[0, 8000\) \(position 1\)/);
    assert.equal(r.out, '');
  }
  const d = run(['detokenize', '--tokenizer', TOK, '--ids', '4294967301']);
  assert.notEqual(d.code, 0);
  assert.match(d.err, /id 4294967301 is outside the vocabulary/);
});

test('library entry points range-check ids before the i32 conversion', () => {
  assert.throws(() => Tensor.from([4294967301], [1], 'i32'), /i32 tensor: 4294967301 does not fit in 32 bits/);
  assert.throws(() => Tensor.from([-2147483649], [1], 'i32'), /does not fit/);
  assert.equal(Tensor.from([2147483647, -2147483648], [2], 'i32').data[0], 2147483647);
  assert.throws(() => checkTokenIds([1, 2 ** 32 + 5], 100, 'x'), /x: token id 4294967301 is outside the vocabulary \[0, 100\) \(position 1\)/);
  const m = new BaichuanForCausalLM(configFromJSON({ ...PRESETS.tiny!, vocab_size: 64, hidden_size: 16, intermediate_size: 48, num_hidden_layers: 1, num_attention_heads: 2 })).initWeights(0).eval();
  assert.throws(() => sequenceLogits(m, [1, 2 ** 32 + 5]), /sequenceLogits: token id 4294967301/);
  assert.throws(() => sumLogProb(m, [1, 2, 2 ** 32 + 1], 1), /sumLogProb: token id 4294967297/);
  assert.equal(sequenceLogits(m, [1, 5]).length, 2 * 64);
});

test('a closed stdout (| head) ends a command quietly with exit 0', { skip: !haveTok && 'no tokenizer in ../shared' }, () => {
  if (!fs.existsSync(model)) assert.equal(run(['init', '--preset', 'tiny', '--out', model, '--seed', '1', '--tokenizer', TOK]).code, 0);
  const ids = Array.from({ length: 64 }, (_, i) => i + 1).join(',');
  const r = spawnSync('bash', ['-c', `set -o pipefail; node ${JSON.stringify(BIN)} logits --model ${JSON.stringify(model)} --ids ${ids} | head -c 100 >/dev/null`], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /EPIPE|Error/);
});

test('config.json: the position scheme says what was chosen and why; a mismatch with the shapes warns', { skip: !haveTok && 'no tokenizer in ../shared' }, () => {
  const base = { vocab_size: 125696, intermediate_size: 13696, max_position_embeddings: 4096 };
  const c13 = configFromJSON({ ...base, hidden_size: 5120, num_hidden_layers: 40, num_attention_heads: 40 });
  assert.match(positionNotes(c13).reason, /no position_embedding: 40 layers x 5120 hidden are the released 13B shapes, which use ALiBi/);
  assert.deepEqual(positionNotes(c13).warnings, []);
  const wrong13 = configFromJSON({ ...base, hidden_size: 5120, num_hidden_layers: 40, num_attention_heads: 40, position_embedding: 'rope' });
  assert.match(positionNotes(wrong13).warnings.join(), /"rope" but 40 layers x 5120 hidden are Baichuan 2 13B's shapes, which was trained with ALiBi/);
  const wrong7 = configFromJSON({ ...base, hidden_size: 4096, num_hidden_layers: 32, num_attention_heads: 32, intermediate_size: 11008, position_embedding: 'alibi' });
  assert.match(positionNotes(wrong7).warnings.join(), /"alibi" but 32 layers x 4096 hidden are Baichuan 2 7B's shapes/);
  assert.throws(() => configFromJSON({ ...base, hidden_size: 4096, num_hidden_layers: 32, num_attention_heads: 32, position_embedding: 'sinusoidal' }), /position_embedding must be "rope" or "alibi", got "sinusoidal"/);
  // on the command line: a folder without the field says what it chose
  if (!fs.existsSync(model)) assert.equal(run(['init', '--preset', 'tiny', '--out', model, '--seed', '1', '--tokenizer', TOK]).code, 0);
  const bare = path.join(dir, 'bare');
  fs.cpSync(model, bare, { recursive: true });
  const cfgFile = path.join(bare, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
  delete cfg.position_embedding;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const r = run(['logits', '--model', bare, '--ids', '1']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /position: rope \(.*config\.json has no position_embedding: 2 layers x 128 hidden are not the 13B shapes, so RoPE/);
  assert.doesNotMatch(run(['logits', '--model', model, '--ids', '1']).err, /position:/);
});

test('the atomic writer: all or nothing, no temporary files left', () => {
  const f = path.join(dir, 'out.json');
  writeFileAtomic(f, 'one');
  writeFileAtomic(f, new Uint8Array([116, 119, 111]));
  assert.equal(fs.readFileSync(f, 'utf8'), 'two');
  assert.throws(() => withAtomicFile(f, (fd) => { fs.writeSync(fd, 'half'); throw new Error('disk full'); }), /disk full/);
  assert.equal(fs.readFileSync(f, 'utf8'), 'two', 'a failed write leaves the old file');
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('out.json')), ['out.json']);
});

test('every writer uses the one atomic helper (no hand-made temp + rename)', () => {
  const offenders: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('atomic-write.ts')) {
        fs.readFileSync(p, 'utf8').split('\n').forEach((l, i) => { if (/\brenameSync\(|\.rename\(/.test(l)) offenders.push(`${p}:${i + 1}`); });
      }
    }
  };
  for (const root of ['src', 'bench']) if (fs.existsSync(root)) walk(root);
  assert.deepEqual(offenders, []);
});
