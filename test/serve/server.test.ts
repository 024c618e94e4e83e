// The OpenAI-compatible server, driven by the official `openai` client (and raw
// fetch where the wire format itself is the point) against a tiny model:
// streaming = non-streaming for a seed, usage, stop sequences, n > 1, logprobs,
// batch independence over HTTP, every error status and shape, cancellation,
// health while loading, metrics, tokenize, auth, CORS and static-file safety.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { Engine } from '../../src/serve/engine.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { tinyModelDir } from './fixture.js';

let engine: Engine, srv: RunningServer, client: OpenAI;
const MODEL = 'tiny-chat';
const user = (content: string) => [{ role: 'user' as const, content }];

before(async () => {
  engine = new Engine({ model: tinyModelDir(), parallel: 8, maxQueue: 32, threads: 1 });
  srv = await startServer({ engine, modelName: MODEL, port: 0 });
  await engine.ready;
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => { await srv.close(); await engine.close(); });

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* SSE or text */ }
  return { status: r.status, json, text, headers: r.headers };
}

function assertApiError(r: { status: number; json: any }, status: number, param: string | null, code?: string | null): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  const e = r.json?.error;
  assert.ok(e && typeof e.message === 'string' && typeof e.type === 'string' && 'param' in e && 'code' in e, `OpenAI error shape: ${JSON.stringify(r.json)}`);
  assert.equal(e.param, param);
  if (code !== undefined) assert.equal(e.code, code);
}

test('chat: streaming gives the non-streaming text for the same seed; usage counts the tokens', async () => {
  const req = { model: MODEL, messages: [{ role: 'system' as const, content: 'Be brief.' }, ...user('Hello, how are you today?')], max_tokens: 24, seed: 42, temperature: 0.9, top_k: 40 } as const;
  const full = await client.chat.completions.create({ ...req, logprobs: true } as any) as any;
  const text = full.choices[0].message.content as string;
  assert.ok(text.length > 0);
  const tok = await post(`${srv.url}/tokenize`, { messages: req.messages });
  assert.equal(full.usage.prompt_tokens, tok.json.count, 'prompt tokens = the chat prompt as tokenised');
  assert.equal(full.usage.completion_tokens, full.choices[0].logprobs.content.length, 'one logprob entry per generated token');
  if (full.choices[0].finish_reason === 'length') assert.equal(full.usage.completion_tokens, 24);
  assert.equal(full.usage.total_tokens, full.usage.prompt_tokens + full.usage.completion_tokens);
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } } as any) as any;
  let streamed = '', role = '', finish = null, usage: any = null, chunks = 0;
  for await (const c of stream) {
    chunks++;
    if (c.usage) { usage = c.usage; assert.deepEqual(c.choices, [], 'the usage chunk has no choices'); continue; }
    if (c.choices[0].delta.role) role = c.choices[0].delta.role;
    streamed += c.choices[0].delta.content ?? '';
    if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
  }
  assert.ok(chunks > 3);
  assert.equal(role, 'assistant');
  assert.equal(streamed, text);
  assert.equal(finish, full.choices[0].finish_reason);
  assert.equal(usage.completion_tokens, full.usage.completion_tokens);
  assert.equal(usage.prompt_tokens, full.usage.prompt_tokens);
  // the raw wire: role first, [DONE] last
  const raw = await post(`${srv.url}/v1/chat/completions`, { ...req, stream: true });
  const events = raw.text.split('\n\n').filter(Boolean);
  assert.ok(events.every((e) => e.startsWith('data: ')));
  assert.equal(events[events.length - 1], 'data: [DONE]');
  assert.equal(JSON.parse(events[0]!.slice(6)).choices[0].delta.role, 'assistant');
  assert.equal(raw.headers.get('content-type'), 'text/event-stream; charset=utf-8');
});

test('completions: streaming = non-streaming; logprobs in the legacy layout; token-id prompts', async () => {
  const req = { model: MODEL, prompt: 'The quick brown fox', max_tokens: 16, seed: 7, temperature: 0.8 };
  const full = await client.completions.create({ ...req, logprobs: 2 });
  const text = full.choices[0]!.text;
  const lp = full.choices[0]!.logprobs!;
  assert.equal(lp.tokens!.length, full.usage!.completion_tokens);
  assert.equal(lp.token_logprobs!.length, lp.tokens!.length);
  assert.ok(lp.top_logprobs!.every((t) => Object.keys(t).length <= 2 && Object.values(t).every((v) => v <= 0)));
  assert.deepEqual(lp.text_offset!.slice(0, 2), [0, lp.tokens![0]!.length]);
  let streamed = '';
  for await (const c of await client.completions.create({ ...req, stream: true })) streamed += c.choices[0]?.text ?? '';
  assert.equal(streamed, text);
  const ids = (await post(`${srv.url}/tokenize`, { content: 'The quick brown fox' })).json.tokens as number[];
  const byIds = await client.completions.create({ ...req, prompt: ids });
  assert.equal(byIds.choices[0]!.text, text, 'a token-id prompt is the same prompt');
  assert.equal(byIds.usage!.prompt_tokens, ids.length);
  const detok = await post(`${srv.url}/detokenize`, { tokens: ids });
  assert.equal(detok.json.content, 'The quick brown fox');
});

test('stop sequences end the text before the stop string, streaming or not', async () => {
  const req = { model: MODEL, messages: user('Tell me a story.'), max_tokens: 40, seed: 3, temperature: 1, top_k: 0 };
  const base = (await client.chat.completions.create(req)).choices[0]!.message.content!;
  assert.ok(base.length >= 8, base);
  const stop = base.slice(4, 7);
  const cut = base.slice(0, base.indexOf(stop));
  const r = await client.chat.completions.create({ ...req, stop: [stop, 'never-appears'] });
  assert.equal(r.choices[0]!.message.content, cut);
  assert.equal(r.choices[0]!.finish_reason, 'stop');
  let streamed = '';
  for await (const c of await client.chat.completions.create({ ...req, stop, stream: true })) {
    streamed += c.choices[0]?.delta.content ?? '';
    if (c.choices[0]?.finish_reason) assert.equal(c.choices[0].finish_reason, 'stop');
  }
  assert.equal(streamed, cut);
  assert.ok(!streamed.includes(stop));
});

test('n > 1: choice i is the seed + i sample; greedy logprobs pick the top token', async () => {
  const req = { model: MODEL, messages: user('hi there'), max_tokens: 10, temperature: 1.0 };
  const three = await client.chat.completions.create({ ...req, n: 3, seed: 10 });
  assert.deepEqual(three.choices.map((c) => c.index), [0, 1, 2]);
  for (const i of [0, 1, 2]) {
    const one = await client.chat.completions.create({ ...req, seed: 10 + i });
    assert.equal(three.choices[i]!.message.content, one.choices[0]!.message.content, `choice ${i}`);
  }
  const withLp = await client.chat.completions.create({ ...req, n: 3, seed: 10, logprobs: true });
  assert.equal(withLp.usage!.completion_tokens, withLp.choices.reduce((n, c) => n + c.logprobs!.content!.length, 0), 'usage sums the choices');
  assert.deepEqual(withLp.choices.map((c) => c.message.content), three.choices.map((c) => c.message.content));
  const g = await client.chat.completions.create({ ...req, temperature: 0, logprobs: true, top_logprobs: 3 });
  for (const t of g.choices[0]!.logprobs!.content!) {
    assert.equal(t.top_logprobs.length, 3);
    assert.equal(t.top_logprobs[0]!.token, t.token);
    assert.equal(t.top_logprobs[0]!.logprob, t.logprob);
    assert.ok(t.top_logprobs[0]!.logprob >= t.top_logprobs[1]!.logprob && t.top_logprobs[1]!.logprob >= t.top_logprobs[2]!.logprob);
    assert.deepEqual(Buffer.from(t.bytes!).toString('utf8').length > 0 || t.bytes!.length === 0, true);
  }
});

test('a request gets the same tokens alone and among 8 concurrent ones (greedy and seeded)', async () => {
  const prompts = ['alpha', 'The question', '床前明月光', 'apples 12', 'to be or not', 'Hello', '子曰', 'fox'];
  for (const temperature of [0, 0.9]) {
    const req = (p: string, i: number) => ({ model: MODEL, messages: user(p), max_tokens: 16, temperature, seed: 100 + i });
    const alone: string[] = [];
    for (const [i, p] of prompts.entries()) alone.push((await client.chat.completions.create(req(p, i))).choices[0]!.message.content!);
    const together = await Promise.all(prompts.map(async (p, i) => (await client.chat.completions.create(req(p, i))).choices[0]!.message.content!));
    assert.deepEqual(together, alone, `temperature ${temperature}`);
  }
});

test('errors: OpenAI shape and status for bad JSON, bad and unsupported fields, context, model, size', async () => {
  const url = `${srv.url}/v1/chat/completions`;
  assertApiError(await post(url, '{"messages": [', {}), 400, null, 'invalid_json');
  assertApiError(await post(url, { messages: user('x'), temperature: 5 }), 400, 'temperature');
  assertApiError(await post(url, { messages: [] }), 400, 'messages');
  assertApiError(await post(url, { messages: [{ role: 'tool', content: 'x' }] }), 400, 'messages.0.role');
  const tools = await post(url, { messages: user('x'), tools: [{ type: 'function', function: { name: 'f' } }], response_format: { type: 'json_object' } });
  assertApiError(tools, 400, 'tools', 'unsupported_field');
  assert.match(tools.json.error.message, /tools, response_format/);
  assertApiError(await post(url, { messages: user('x'), max_tokens: 0 }), 400, 'max_tokens');
  assertApiError(await post(url, { messages: user('x'), stream_options: { include_usage: true } }), 400, 'stream_options');
  const long = 'The quick brown fox jumps over the lazy dog. '.repeat(6);
  const n = (await post(`${srv.url}/tokenize`, { messages: user(long) })).json.count as number;
  assert.ok(n < 256 && n > 50, `prompt of ${n} tokens`);
  assertApiError(await post(url, { messages: user(long), max_tokens: 256 - n + 1 }), 400, 'messages', 'context_length_exceeded');
  assert.equal((await post(url, { messages: user(long), max_tokens: 256 - n })).status, 200, 'exactly the context fits');
  assertApiError(await post(url, { messages: user(long.repeat(3)) }), 400, 'messages', 'context_length_exceeded');
  assertApiError(await post(`${srv.url}/v1/completions`, { prompt: [1, 2, 99999] }), 400, 'prompt');
  assertApiError(await post(url, { model: 'gpt-4', messages: user('x') }), 404, 'model', 'model_not_found');
  assertApiError(await post(url, { messages: user('x'.repeat(1.1 * 2 ** 20)) }), 413, null, 'request_too_large');
  assertApiError(await post(`${srv.url}/v1/nope`, {}), 404, null);
  // the client library surfaces the same
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: user('x'), tools: [{ type: 'function', function: { name: 'f' } }] }), (e: any) => e.status === 400 && e.param === 'tools');
});

test('auth, CORS and static files: key required on /v1, no CORS unless asked, no escape from the web folder', async () => {
  const web = fs.mkdtempSync(path.join(os.tmpdir(), 'b2-web-'));
  fs.writeFileSync(path.join(web, 'index.html'), '<p>page</p>');
  const secret = path.join(os.tmpdir(), `b2-secret-${process.pid}.txt`);
  fs.writeFileSync(secret, 'SECRET');
  fs.symlinkSync(secret, path.join(web, 'link.txt'));
  const locked = await startServer({ engine, modelName: MODEL, port: 0, apiKey: 'k3y', cors: 'http://app.example', webRoot: web });
  try {
    assertApiError(await post(`${locked.url}/v1/chat/completions`, { messages: user('x') }), 401, null, 'invalid_api_key');
    assertApiError(await post(`${locked.url}/v1/chat/completions`, { messages: user('x') }, { Authorization: 'Bearer wrong' }), 401, null, 'invalid_api_key');
    assert.equal((await fetch(`${locked.url}/v1/models`)).status, 401);
    assertApiError(await post(`${locked.url}/tokenize`, { content: 'x' }), 401, null);
    const ok = await fetch(`${locked.url}/v1/models`, { headers: { Authorization: 'Bearer k3y' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://app.example');
    const locked2 = new OpenAI({ baseURL: `${locked.url}/v1`, apiKey: 'k3y', maxRetries: 0 });
    assert.equal((await locked2.chat.completions.create({ model: MODEL, messages: user('x'), max_tokens: 2 })).choices.length, 1);
    const pre = await fetch(`${locked.url}/v1/chat/completions`, { method: 'OPTIONS' });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    assert.equal((await fetch(`${locked.url}/health`)).status, 200, '/health needs no key');
    assert.equal(await (await fetch(`${locked.url}/`)).text(), '<p>page</p>');
    for (const p of ['/%2e%2e/%2e%2e/package.json', '/..%2f..%2fpackage.json', '/%2e%2e%5cpackage.json', '/link.txt', '/index.html%00.txt', `/${'%2e%2e/'.repeat(12)}etc/passwd`]) {
      const r = await fetch(`${locked.url}${p}`);
      const body = await r.text();
      assert.equal(r.status, 404, `${p} -> ${r.status}`);
      assert.ok(!body.includes('SECRET') && !body.includes('"name"'), p);
    }
  } finally {
    await locked.close();
    fs.rmSync(web, { recursive: true, force: true });
    fs.rmSync(secret, { force: true });
  }
  // the default server: no CORS header, the package's page
  const page = await fetch(`${srv.url}/`);
  assert.equal(page.headers.get('access-control-allow-origin'), null);
  assert.match(await page.text(), /<title>Baichuan 2 chat<\/title>/);
  assert.equal((await fetch(`${srv.url}/app.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
});

test('cancellation frees the slot at the next step; a full queue answers 429', async () => {
  const small = new Engine({ model: tinyModelDir(), parallel: 1, maxQueue: 1, threads: 1 });
  const s2 = await startServer({ engine: small, modelName: MODEL, port: 0 });
  try {
    const health0 = await fetch(`${s2.url}/health`);
    assert.equal(health0.status, 503, '/health is 503 while the model loads');
    assert.equal((await health0.json()).status, 'loading');
    assertApiError(await post(`${s2.url}/v1/chat/completions`, { messages: user('x') }), 503, null, 'model_loading');
    await small.ready;
    assert.equal((await fetch(`${s2.url}/health`)).status, 200);
    const c2 = new OpenAI({ baseURL: `${s2.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const ac = new AbortController();
    const long = await c2.chat.completions.create({ model: MODEL, messages: user('go on'), max_tokens: 240, temperature: 1, seed: 1, stream: true }, { signal: ac.signal });
    const it = long[Symbol.asyncIterator]();
    await it.next(); await it.next();
    const queued = c2.chat.completions.create({ model: MODEL, messages: user('next'), max_tokens: 4, seed: 2 });
    await new Promise((r) => setTimeout(r, 50));
    assertApiError(await post(`${s2.url}/v1/chat/completions`, { messages: user('x'), max_tokens: 2 }), 429, null, 'queue_full');
    const before = small.stats.decodeTokens;
    ac.abort();  // the client disconnects
    const r = await queued;
    assert.equal(r.choices[0]!.message.content!.length > 0, true);
    for (let i = 0; i < 50 && small.load > 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(small.load, 0, 'nothing left waiting or running');
    await new Promise((res) => setTimeout(res, 150));
    assert.equal(small.stats.running, 0);
    assert.ok(small.stats.decodeTokens - before < 120, `the cancelled request stopped decoding (${small.stats.decodeTokens - before} more tokens)`);
    // the engine API: an AbortSignal cancels a stream
    const ac2 = new AbortController();
    const st = small.chatCompletion({ messages: user('again'), maxTokens: 200, seed: 5 }, { signal: ac2.signal });
    const seen: string[] = [];
    await assert.rejects((async () => { for await (const c of st) { seen.push(c.type); if (c.type === 'delta') ac2.abort(); } })(), { name: 'AbortError' });
    assert.ok(seen.includes('delta') && !seen.includes('usage'));
    assert.equal(small.load, 0);
  } finally {
    await s2.close();
    await small.close();
  }
});

test('metrics: Prometheus text with request counters, tokens, gauges and latency histograms', async () => {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(text, /^baichuan2_requests_total\{route="\/v1\/chat\/completions",status="200"\} [1-9]\d*$/m);
  assert.match(text, /^baichuan2_requests_total\{route="\/v1\/chat\/completions",status="400"\} [1-9]\d*$/m);
  assert.match(text, /^baichuan2_completion_tokens_total [1-9]\d*$/m);
  assert.match(text, /^baichuan2_prompt_tokens_total [1-9]\d*$/m);
  assert.match(text, /^# TYPE baichuan2_queue_depth gauge$/m);
  assert.match(text, /^baichuan2_batch_size \d+$/m);
  assert.match(text, /^baichuan2_time_to_first_token_seconds_count [1-9]\d*$/m);
  assert.match(text, /^baichuan2_inter_token_latency_seconds_bucket\{le="\+Inf"\} [1-9]\d*$/m);
  assert.match(text, /^baichuan2_decode_seconds_total [0-9.e-]+$/m);
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [MODEL]);
});
