// A bounded load test on loopback: 32 concurrent streaming clients all get
// complete streams ending in [DONE] with the right usage; the same requests
// one at a time give the same texts; concurrent rounds really batch (at least
// 4 rows per decode step, where one at a time is 1), which is where the
// throughput comes from; the process's RSS stays flat over repeated rounds.
// The throughput ratio is printed, not asserted: speed goals live in
// `baichuan2 bench serve` (a timed assertion fails on a loaded 2-core machine).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Engine } from '../../src/serve/engine.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { modelDir } from './fixture.js';

let engine: Engine, srv: RunningServer;
before(async () => {
  // wide enough that reading the weights, not JavaScript, is most of a decode step (as in real models)
  engine = new Engine({ model: modelDir({ hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4, num_attention_heads: 4 }), parallel: 16, maxQueue: 64, threads: 1 });
  srv = await startServer({ engine, modelName: 'tiny', port: 0 });
  await engine.ready;
});
after(async () => { await srv.close(); await engine.close(); });

const CLIENTS = 32, MAX_TOKENS = 24;
const prompt = (i: number) => `client ${i}: the quick brown fox ${'jumps '.repeat(i % 5)}`;

interface StreamResult { text: string; done: boolean; usage: { prompt_tokens: number; completion_tokens: number } | null; tokens: number; finish: string | null }

async function streamOne(i: number): Promise<StreamResult> {
  const r = await fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: prompt(i) }], max_tokens: MAX_TOKENS, seed: i, temperature: 0.8, stream: true, stream_options: { include_usage: true }, logprobs: true }),
  });
  assert.equal(r.status, 200);
  const raw = await r.text();
  const events = raw.split('\n\n').filter(Boolean).map((e) => { assert.ok(e.startsWith('data: '), e); return e.slice(6); });
  const out: StreamResult = { text: '', done: events[events.length - 1] === '[DONE]', usage: null, tokens: 0, finish: null };
  for (const e of events.slice(0, -1)) {
    const j = JSON.parse(e) as { choices: { delta: { content?: string }; finish_reason: string | null; logprobs: { content: unknown[] } | null }[]; usage: StreamResult['usage'] };
    if (j.usage) out.usage = j.usage;
    for (const c of j.choices) {
      out.text += c.delta.content ?? '';
      out.tokens += c.logprobs?.content.length ?? 0;
      if (c.finish_reason) out.finish = c.finish_reason;
    }
  }
  return out;
}

test('32 concurrent streaming clients: complete streams, right usage, the same texts, batched decode steps, flat RSS', async () => {
  const promptTokens = await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
    const r = await fetch(`${srv.url}/tokenize`, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: prompt(i) }] }) });
    return ((await r.json()) as { count: number }).count;
  }));
  const check = (rs: StreamResult[]) => rs.forEach((r, i) => {
    assert.ok(r.done, `client ${i}: stream ends with [DONE]`);
    assert.ok(r.finish === 'length' || r.finish === 'stop', `client ${i}: finish_reason`);
    assert.ok(r.usage, `client ${i}: a usage chunk`);
    assert.equal(r.usage!.prompt_tokens, promptTokens[i], `client ${i}: prompt tokens`);
    assert.equal(r.usage!.completion_tokens, r.tokens, `client ${i}: completion tokens = tokens streamed`);
    if (r.finish === 'length') assert.equal(r.tokens, MAX_TOKENS);
  });
  // warm-up; then, interleaved so that a burst of load from elsewhere hits both, two one-at-a-time
  // runs over the first 16 requests and rounds of all 32 at once. Throughput is tokens per second,
  // the best run of each kind.
  await streamOne(0);
  const serial: StreamResult[] = [];
  let serialRate = 0, concurrentRate = 0;
  const rss: number[] = [], live: number[] = [];
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const rowsPerStep: number[] = [];
  const steps = async (f: () => Promise<void>) => {
    await new Promise((r) => setTimeout(r, 150));  // the worker's stats land
    const a = { ...engine.stats };
    await f();
    await new Promise((r) => setTimeout(r, 150));
    const b = engine.stats;
    rowsPerStep.push((b.decodeTokens - a.decodeTokens) / Math.max(1, b.steps - a.steps));
  };
  const concurrentRound = async () => {
    const t0 = performance.now();
    const together = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => streamOne(i)));
    concurrentRate = Math.max(concurrentRate, together.reduce((n, r) => n + r.tokens, 0) / ((performance.now() - t0) / 1000));
    check(together);
    if (serial.length) assert.deepEqual(together.slice(0, serial.length).map((r) => r.text), serial.map((r) => r.text), 'the same texts as one at a time');
    gc();
    const mu = process.memoryUsage();
    rss.push(mu.rss);
    live.push(mu.heapUsed + mu.arrayBuffers);
  };
  for (let pass = 0; pass < 2; pass++) {
    const t0 = performance.now();
    const run: StreamResult[] = [];
    for (let i = 0; i < CLIENTS / 2; i++) run.push(await streamOne(i));
    serialRate = Math.max(serialRate, run.reduce((n, r) => n + r.tokens, 0) / ((performance.now() - t0) / 1000));
    check(run);
    if (pass === 0) serial.push(...run);
    else assert.deepEqual(run.map((r) => r.text), serial.map((r) => r.text));
    await concurrentRound();
  }
  await steps(concurrentRound);
  await concurrentRound();
  const speedup = concurrentRate / serialRate;
  console.log(`# one at a time ${serialRate.toFixed(0)} tok/s, 32 concurrent ${concurrentRate.toFixed(0)} tok/s (x${speedup.toFixed(2)}); decode rows per step ${rowsPerStep[0]!.toFixed(1)}; RSS MB ${rss.map((r) => (r / 2 ** 20).toFixed(0)).join(' ')}; live MB ${live.map((r) => (r / 2 ** 20).toFixed(0)).join(' ')}`);
  assert.ok(rowsPerStep[0]! >= 4, `a concurrent round decodes ${rowsPerStep[0]!.toFixed(2)} rows per step (16 slots, 32 clients: expected >= 4)`);
  // after the first rounds have settled, repeated rounds do not grow what the process holds: the live
  // heap and array buffers after a GC (RSS itself moves with the allocator's page reuse, so it is printed
  // and only bounded loosely)
  assert.ok(live[3]! - live[1]! < 40 * 2 ** 20, `live heap + buffers grew ${((live[3]! - live[1]!) / 2 ** 20).toFixed(1)} MB over 2 rounds`);
  assert.ok(rss[3]! - rss[1]! < 150 * 2 ** 20, `RSS grew ${((rss[3]! - rss[1]!) / 2 ** 20).toFixed(1)} MB over 2 rounds`);
  assert.equal(engine.load, 0);
});
