// The `data` commands from the command line: a stage runs and reports, and bad
// flags, configs and inputs fail with a message (exit 2 for flags, 1 for data).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const cli = (...a: string[]) => spawnSync(process.execPath, [path.resolve('bin/baichuan2.js'), 'data', ...a], { encoding: 'utf8', timeout: 120_000 });

test('data commands: a stage runs; stats describes inputs; bad input is refused with a message', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-datacli-'));
  const input = path.join(dir, 'in.jsonl');
  const text = (i: number) => `Record ${i} describes a quiet street with old trees and a bakery that opens early every morning.`;
  fs.writeFileSync(input, [0, 1, 2, 1, 3].map((i) => JSON.stringify({ text: text(i), source: 'web' })).join('\n') + '\n');

  const ok = cli('dedup-exact', '--input', input, '--out', path.join(dir, 'out'));
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^4 documents/);
  assert.ok(fs.existsSync(path.join(dir, 'out', 'report.md')) && fs.existsSync(path.join(dir, 'out', 'manifest.json')));

  const stats = cli('stats', input);
  assert.equal(stats.status, 0, stats.stderr);
  assert.equal(JSON.parse(stats.stdout).documents, 5);

  const badFormat = cli('dedup-exact', '--input', input, '--out', path.join(dir, 'x'), '--format', 'csv');
  assert.equal(badFormat.status, 2);
  assert.match(badFormat.stderr, /format/);
  assert.equal(cli('dedup-near', '--input', input, '--out', path.join(dir, 'y'), '--bands', '64', '--rows', '4').status, 2);
  assert.equal(cli('mix', '--input', input, '--out', path.join(dir, 'z'), '--weights', 'web').status, 2);
  const rules = path.join(dir, 'rules.json');
  fs.writeFileSync(rules, '{"min_chars": ');
  const badRules = cli('filter', '--input', input, '--out', path.join(dir, 'w'), '--rules', rules);
  assert.equal(badRules.status, 2);
  assert.match(badRules.stderr, /--rules .*invalid JSON/);

  const missing = cli('dedup-exact', '--input', path.join(dir, 'nope.jsonl'), '--out', path.join(dir, 'v'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope\.jsonl: input not found/);
  const cfg = path.join(dir, 'p.json');
  fs.writeFileSync(cfg, JSON.stringify({ inputs: [input], out: path.join(dir, 'u'), stagez: [] }));
  const badCfg = cli('run', '--config', cfg);
  assert.equal(badCfg.status, 1);
  assert.match(badCfg.stderr, /Unrecognized key.*stagez/);
});
