// The OpenAI-compatible HTTP server (node:http) over an Engine:
//   POST /v1/chat/completions, POST /v1/completions (JSON or Server-Sent Events),
//   GET /v1/models, GET /health, GET /metrics, POST /tokenize, POST /detokenize,
//   and the web chat page at / (static files from one folder).
// Safe by default: the CLI binds 127.0.0.1; with an API key every /v1 route (and
// /tokenize, /detokenize) needs `Authorization: Bearer KEY`; bodies are capped
// (413); no CORS headers unless an origin is given. Errors have OpenAI's shape.
import http from 'node:http';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { collectChunks, Engine, EngineError, type EngineChunk, type EngineStream, type SamplingRequest, type TokenInfo } from './engine.js';
import { ChatCompletionBody, CompletionBody, DetokenizeBody, TokenizeBody, apiError, contentText, zodError, type ApiError } from './schemas.js';
import { Metrics } from './metrics.js';
import { resolveStatic, webRoot } from './static.js';
import type { ChatMessage } from '../infer/chat-format.js';

export interface ServerOptions {
  engine: Engine;
  host?: string;
  port?: number;
  apiKey?: string;
  /** Allowed browser origin (Access-Control-Allow-Origin); none by default. */
  cors?: string;
  /** Request body cap in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** The model id clients name (default: the folder's name). */
  modelName: string;
  /** Folder of the web page (default: the package's src/serve/web). */
  webRoot?: string;
}

export interface RunningServer {
  url: string;
  server: http.Server;
  metrics: Metrics;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly body: ApiError) { super(body.error.message); }
}

const FINGERPRINT = 'baichuan2-ts';

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const metrics = new Metrics();
  const root = o.webRoot ?? webRoot();
  const maxBody = o.maxBodyBytes ?? 1 << 20;
  const key = o.apiKey ? Buffer.from(o.apiKey) : null;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routeName(req.method ?? 'GET', url.pathname);
    res.on('finish', () => metrics.request(route, res.statusCode));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (o.cors) {
      res.setHeader('Access-Control-Allow-Origin', o.cors);
      res.setHeader('Vary', 'Origin');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, POST, OPTIONS', 'Access-Control-Allow-Headers': 'Authorization, Content-Type', 'Access-Control-Max-Age': '600' });
        res.end();
        return;
      }
    }
    handle(req, res, url).catch((e: unknown) => {
      const err = e instanceof HttpError ? e : e instanceof EngineError ? new HttpError(e.status, apiError(e.message, e.type, e.param, e.code))
        : new HttpError(500, apiError(`internal error: ${(e as Error).message}`, 'server_error'));
      if (res.headersSent) { if (!res.writableEnded) { res.write(`data: ${JSON.stringify(err.body)}\n\n`); res.end(); } return; }
      sendJSON(res, err.status, err.body);
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const p = url.pathname, m = req.method ?? 'GET';
    const api = p.startsWith('/v1/') || p === '/tokenize' || p === '/detokenize';
    if (api && key) {
      const h = req.headers.authorization ?? '';
      const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '');
      if (given.length !== key.length || !timingSafeEqual(given, key))
        throw new HttpError(401, apiError(h ? 'Incorrect API key provided.' : 'Missing API key: send Authorization: Bearer KEY.', 'invalid_request_error', null, 'invalid_api_key'));
    }
    if (p === '/health' && m === 'GET') {
      const e = o.engine;
      if (e.state === 'ready') return sendJSON(res, 200, { status: 'ok', model: o.modelName, slots: e.parallel, running: e.stats.running, queued: e.stats.queued });
      return sendJSON(res, 503, { status: e.state === 'loading' ? 'loading' : 'unavailable', ...(e.loadError ? { error: e.loadError } : {}) });
    }
    if (p === '/metrics' && m === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(metrics.render(o.engine.stats, o.engine.state === 'ready'));
      return;
    }
    if (p === '/v1/models' && m === 'GET') return sendJSON(res, 200, { object: 'list', data: [modelCard()] });
    if (p.startsWith('/v1/models/') && m === 'GET') {
      const id = decodeURIComponent(p.slice('/v1/models/'.length));
      if (id !== o.modelName) throw notFoundModel(id);
      return sendJSON(res, 200, modelCard());
    }
    if (p === '/v1/chat/completions' && m === 'POST') return chat(req, res, parse(ChatCompletionBody, await readJSON(req)));
    if (p === '/v1/completions' && m === 'POST') return completion(req, res, parse(CompletionBody, await readJSON(req)));
    if (p === '/tokenize' && m === 'POST') {
      const b = parse(TokenizeBody, await readJSON(req));
      checkModel(b.model);
      const tokens = 'content' in b ? o.engine.encode(b.content) : o.engine.chatPrompt(toMessages(b.messages)).ids;
      return sendJSON(res, 200, { tokens, count: tokens.length });
    }
    if (p === '/detokenize' && m === 'POST') {
      const b = parse(DetokenizeBody, await readJSON(req));
      checkModel(b.model);
      const V = o.engine.tokenizer.vocabSize;
      const badAt = b.tokens.findIndex((t) => t >= V);
      if (badAt >= 0) throw new HttpError(400, apiError(`tokens.${badAt}: id ${b.tokens[badAt]} is outside the vocabulary [0, ${V})`, 'invalid_request_error', `tokens.${badAt}`, 'invalid_value'));
      return sendJSON(res, 200, { content: o.engine.tokenizer.decode(b.tokens) });
    }
    if (api) throw new HttpError(404, apiError(`unknown route ${m} ${p}`, 'invalid_request_error', null, 'unknown_route'));
    if (m === 'GET' || m === 'HEAD') {
      const f = resolveStatic(root, p);
      if (f) {
        res.writeHead(200, { 'Content-Type': f.type, 'Content-Length': f.body.length, 'Cache-Control': 'no-cache', 'Content-Security-Policy': "default-src 'self'; connect-src 'self'" });
        res.end(m === 'HEAD' ? undefined : f.body);
        return;
      }
    }
    throw new HttpError(404, apiError(`not found: ${p}`, 'invalid_request_error', null, 'not_found'));
  }

  function modelCard() {
    return { id: o.modelName, object: 'model', created: 0, owned_by: 'baichuan2-ts', context_length: o.engine.contextLength };
  }
  function notFoundModel(id: string): HttpError {
    return new HttpError(404, apiError(`The model '${id}' does not exist; this server serves '${o.modelName}'.`, 'invalid_request_error', 'model', 'model_not_found'));
  }
  function checkModel(model: string | undefined): void {
    if (model !== undefined && model !== o.modelName) throw notFoundModel(model);
  }

  async function readJSON(req: http.IncomingMessage): Promise<unknown> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody) { req.resume(); throw tooLarge(); }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > maxBody) { req.resume(); throw tooLarge(); }
      chunks.push(c as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      throw new HttpError(400, apiError(`the body is not valid JSON (${(e as Error).message})`, 'invalid_request_error', null, 'invalid_json'));
    }
  }
  function tooLarge(): HttpError {
    return new HttpError(413, apiError(`the request body exceeds ${maxBody} bytes`, 'invalid_request_error', null, 'request_too_large'));
  }

  function sampling(b: ChatCompletionBody | CompletionBody, maxTokens: number | null | undefined, logprobs: number | null): SamplingRequest {
    const u = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);
    return {
      maxTokens: u(maxTokens), temperature: u(b.temperature), topP: u(b.top_p), topK: u(b.top_k), repetitionPenalty: u(b.repetition_penalty),
      frequencyPenalty: u(b.frequency_penalty), presencePenalty: u(b.presence_penalty), stop: u(b.stop), seed: u(b.seed), n: u(b.n), logprobs,
    };
  }

  function streamOptions(b: ChatCompletionBody | CompletionBody): boolean {
    if (b.stream_options && !b.stream) throw new HttpError(400, apiError('stream_options is only allowed with stream: true', 'invalid_request_error', 'stream_options', 'invalid_value'));
    return !!b.stream_options?.include_usage;
  }

  async function chat(req: http.IncomingMessage, res: http.ServerResponse, b: ChatCompletionBody): Promise<void> {
    checkModel(b.model);
    const includeUsage = streamOptions(b);
    if (b.max_tokens != null && b.max_completion_tokens != null && b.max_tokens !== b.max_completion_tokens)
      throw new HttpError(400, apiError('max_tokens and max_completion_tokens disagree; give one', 'invalid_request_error', 'max_completion_tokens', 'invalid_value'));
    if (b.top_logprobs != null && !b.logprobs) throw new HttpError(400, apiError('top_logprobs needs logprobs: true', 'invalid_request_error', 'top_logprobs', 'invalid_value'));
    const top = b.logprobs ? b.top_logprobs ?? 0 : null;
    const ac = abortOnClose(req, res);
    const t0 = performance.now();
    const stream = o.engine.chatCompletion({ messages: toMessages(b.messages), ...sampling(b, b.max_completion_tokens ?? b.max_tokens, top) }, { signal: ac.signal });
    const id = `chatcmpl-${randomUUID()}`, created = Math.floor(Date.now() / 1000);
    const base = { id, created, model: o.modelName, system_fingerprint: FINGERPRINT };
    const lp = (l: TokenInfo[] | undefined) => (l ? { content: l.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes, top_logprobs: t.top.map((a) => ({ token: a.token, logprob: a.logprob, bytes: a.bytes })) })) } : null);
    if (b.stream) {
      const sse = openSSE(res);
      const started = new Set<number>();
      for await (const c of timed(stream, t0)) {
        const chunk = (choices: unknown[], usage?: unknown) => sse({ ...base, object: 'chat.completion.chunk', choices, ...(includeUsage ? { usage: usage ?? null } : {}) });
        if (c.type === 'delta' || c.type === 'finish') {
          if (!started.has(c.index)) { started.add(c.index); chunk([{ index: c.index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]); }
          if (c.type === 'delta' && (c.text || c.logprobs)) chunk([{ index: c.index, delta: { content: c.text }, logprobs: lp(c.logprobs), finish_reason: null }]);
          if (c.type === 'finish') chunk([{ index: c.index, delta: {}, logprobs: null, finish_reason: c.finishReason }]);
        } else if (c.type === 'usage') {
          if (includeUsage) chunk([], { ...usageBody(c.usage), timings: c.timings });
        }
      }
      sse(null);
      return;
    }
    const r = await collectTimed(stream, t0);
    sendJSON(res, 200, {
      ...base, object: 'chat.completion',
      choices: r.choices.map((ch) => ({ index: ch.index, message: { role: 'assistant', content: ch.text }, logprobs: top === null ? null : lp(ch.logprobs ?? []), finish_reason: ch.finishReason })),
      usage: usageBody(r.usage), timings: r.timings,
    });
  }

  async function completion(req: http.IncomingMessage, res: http.ServerResponse, b: CompletionBody): Promise<void> {
    checkModel(b.model);
    const includeUsage = streamOptions(b);
    const prompt = typeof b.prompt === 'string' ? b.prompt : typeof b.prompt[0] === 'string' ? (b.prompt[0] as string) : (b.prompt as number[]);
    const top = b.logprobs ?? null;
    const ac = abortOnClose(req, res);
    const t0 = performance.now();
    const stream = o.engine.completion({ prompt, ...sampling(b, b.max_tokens, top) }, { signal: ac.signal });
    const id = `cmpl-${randomUUID()}`, created = Math.floor(Date.now() / 1000);
    const base = { id, object: 'text_completion', created, model: o.modelName, system_fingerprint: FINGERPRINT };
    const offsets = new Map<number, number>();
    const lp = (index: number, l: TokenInfo[] | undefined) => {
      if (!l) return null;
      let off = offsets.get(index) ?? 0;
      const text_offset = l.map((t) => { const at = off; off += t.token.length; return at; });
      offsets.set(index, off);
      return { tokens: l.map((t) => t.token), token_logprobs: l.map((t) => t.logprob), top_logprobs: l.map((t) => Object.fromEntries(t.top.map((a) => [a.token, a.logprob]))), text_offset };
    };
    if (b.stream) {
      const sse = openSSE(res);
      for await (const c of timed(stream, t0)) {
        const chunk = (choices: unknown[], usage?: unknown) => sse({ ...base, choices, ...(includeUsage ? { usage: usage ?? null } : {}) });
        if (c.type === 'delta' && (c.text || c.logprobs)) chunk([{ index: c.index, text: c.text, logprobs: lp(c.index, c.logprobs), finish_reason: null }]);
        else if (c.type === 'finish') chunk([{ index: c.index, text: '', logprobs: null, finish_reason: c.finishReason }]);
        else if (c.type === 'usage' && includeUsage) chunk([], { ...usageBody(c.usage), timings: c.timings });
      }
      sse(null);
      return;
    }
    const r = await collectTimed(stream, t0);
    sendJSON(res, 200, {
      ...base,
      choices: r.choices.map((ch) => ({ index: ch.index, text: ch.text, logprobs: top === null ? null : lp(ch.index, ch.logprobs ?? []), finish_reason: ch.finishReason })),
      usage: usageBody(r.usage), timings: r.timings,
    });
  }

  /** Pass chunks through, recording TTFT, inter-token gaps and token counts. */
  async function* timed(stream: EngineStream, t0: number): AsyncGenerator<EngineChunk> {
    const last = new Map<number, number>();
    let first = true;
    for await (const c of stream) {
      if (c.type === 'delta' && c.tokens.length) {
        const now = performance.now();
        if (first) { metrics.ttft.observe((now - t0) / 1000); first = false; }
        const prev = last.get(c.index);
        if (prev !== undefined) for (let i = 0; i < c.tokens.length; i++) metrics.interToken.observe((now - prev) / 1000 / c.tokens.length);
        last.set(c.index, now);
      } else if (c.type === 'usage') {
        metrics.promptTokens += c.usage.promptTokens;
        metrics.completionTokens += c.usage.completionTokens;
      }
      yield c;
    }
  }

  function collectTimed(stream: EngineStream, t0: number) {
    return collectChunks(timed(stream, t0));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8080, o.host ?? '127.0.0.1', () => resolve());
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${host}:${a.port}`, server, metrics,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function parse<T extends z.ZodTypeAny>(schema: T, body: unknown): z.infer<T> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, apiError('the body must be a JSON object', 'invalid_request_error', null, 'invalid_value'));
  const r = schema.safeParse(body);
  if (!r.success) throw new HttpError(400, zodError(r.error));
  return r.data as z.infer<T>;
}

function toMessages(ms: ChatCompletionBody['messages']): ChatMessage[] {
  return ms.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: contentText(m.content) }));
}

function usageBody(u: { promptTokens: number; completionTokens: number }) {
  return { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens };
}

function sendJSON(res: http.ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(s) });
  res.end(s);
}

/** SSE writer: each call sends one `data:` event; null sends [DONE] and ends. */
function openSSE(res: http.ServerResponse): (data: unknown) => void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  return (data) => {
    if (res.writableEnded) return;
    if (data === null) { res.write('data: [DONE]\n\n'); res.end(); return; }
    res.write(`data: ${JSON.stringify(data)}\n\n`);
  };
}

/** Abort the engine request when the client goes away before the response ends. */
function abortOnClose(req: http.IncomingMessage, res: http.ServerResponse): AbortController {
  const ac = new AbortController();
  res.on('close', () => { if (!res.writableFinished) ac.abort(); });
  req.on('aborted', () => ac.abort());
  return ac;
}

function routeName(method: string, p: string): string {
  const known = ['/v1/chat/completions', '/v1/completions', '/v1/models', '/health', '/metrics', '/tokenize', '/detokenize'];
  if (known.includes(p)) return p;
  if (p.startsWith('/v1/models/')) return '/v1/models/:id';
  if (p.startsWith('/v1/')) return 'other_api';
  return method === 'GET' ? 'static' : 'other';
}
