// `baichuan2 serve` and `baichuan2 chat` as a user runs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { tinyModelDir } from './fixture.js';

const BIN = path.resolve(process.cwd(), 'bin/baichuan2.js');

test('chat: streams replies through the engine and says when old history is dropped', () => {
  const long = 'The quick brown fox jumps over the lazy dog. '.repeat(5);
  const r = spawnSync(process.execPath, [BIN, 'chat', '--model', tinyModelDir(), '--max-new-tokens', '100', '--seed', '1'], { input: `hello\n${long}\n/exit\n`, encoding: 'utf8', timeout: 240_000 });
  assert.equal(r.status, 0, r.stderr);
  const replies = r.stdout.split('\n').filter((l) => l.startsWith('assistant> '));
  assert.equal(replies.length, 2, r.stdout);
  assert.match(r.stdout, /\(to fit the context of 256 tokens, the oldest 2 messages of the history were left out\)/);
  assert.equal((r.stdout.match(/left out/g) ?? []).length, 1, 'only the turn that dropped history has the notice');
});

test('serve: binds 127.0.0.1, reports its URL, answers, refuses bad flags, stops on SIGINT', async () => {
  const bad = spawnSync(process.execPath, [BIN, 'serve', '--model', tinyModelDir(), '--parallel', '0'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--parallel must be an integer >= 1/);
  const p = spawn(process.execPath, [BIN, 'serve', '--model', tinyModelDir(), '--port', '0', '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      p.stdout.on('data', (d: Buffer) => { out += d.toString(); const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out); if (m && /ready in/.test(out)) resolve(m[1]!); });
      p.on('exit', (c) => reject(new Error(`serve exited ${c}: ${out}`)));
    });
    const r = await fetch(`${url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'hi', max_tokens: 3, seed: 1 }) });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens, 3);
    const code = new Promise<number | null>((res) => p.on('exit', res));
    p.kill('SIGINT');
    assert.equal(await code, 0);
  } finally {
    if (p.exitCode === null) p.kill('SIGKILL');
  }
});
