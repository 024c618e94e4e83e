// The serving engine's library API (main thread). Model work runs in a worker
// thread (worker.ts) with continuous batching (scheduler.ts); this side builds
// prompts in Baichuan 2's chat format, resolves sampling settings (explicit
// over generation_config.json over Baichuan's defaults), enforces the context,
// the queue bound and cancellation, and hands out typed chunk streams:
//   const engine = await Engine.start({ model: dir });
//   for await (const c of engine.chatCompletion({ messages }, { signal })) ...
//   const r = await engine.chatCompletion({ messages }).collect();
import fs from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { readConfig } from '../io/hf-folder.js';
import { isGgufFile } from '../io/gguf.js';
import { loadTokenizer } from '../io/tokenizer-file.js';
import type { BpeTokenizer } from '../tokenizer/bpe.js';
import type { BaichuanConfig } from '../model/config.js';
import { fitChatInput, type ChatMessage } from '../infer/chat-format.js';
import { readGenerationConfig, resolveSampling, type GenerationDefaults } from '../infer/generation-config.js';
import { validateSampling } from '../infer/sampling.js';
import type { EngineChunk, EngineStats, FinishReason, FromWorker, GenerationJob, TokenInfo, Timings, ToWorker, Usage, WorkerInit } from './protocol.js';

export type { EngineChunk, EngineStats, FinishReason, TokenInfo, Timings, Usage } from './protocol.js';

export interface EngineOptions {
  /** Model folder (HF layout; quantised folders load transparently). */
  model: string;
  /** tokenizer.model (default: the model folder's). */
  tokenizer?: string;
  /** Sequences decoded together (KV slots). Default 4. */
  parallel?: number;
  /** Positions per slot (default: the model's context length). Memory: 8 * layers * C * ctx bytes per slot. */
  ctx?: number;
  /** Sequences allowed to wait for a slot; beyond that requests get EngineError 429. Default 64. */
  maxQueue?: number;
  /** Largest max_tokens a request may ask for (default: the context). */
  maxTokensCap?: number;
  dtype?: 'f32' | 'bf16';
  /** LoRA adapter folder, applied in the worker by prepareModel (worker.ts). */
  adapter?: string;
  rowsPerForward?: number;
  /** Kernel threads in the worker (default: all cores). */
  threads?: number;
}

/** What a request may set; undefined = the folder's generation_config.json. */
export interface SamplingRequest {
  maxTokens?: number;
  /** 0 = greedy. */
  temperature?: number;
  greedy?: boolean;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  stop?: string | string[];
  seed?: number;
  n?: number;
  /** Report log-probabilities with this many alternatives per token (0 = only the chosen token). */
  logprobs?: number | null;
}

export interface ChatRequest extends SamplingRequest {
  messages: ChatMessage[];
  /** Drop the oldest rounds (and truncate from the left) to fit, as Baichuan's chat(); default: refuse with context_length_exceeded. */
  fitContext?: boolean;
}

export interface CompletionRequest extends SamplingRequest {
  prompt: string | number[];
}

export interface CompletionResult {
  promptTokens: number;
  droppedMessages: number;
  choices: { index: number; text: string; tokens: number[]; logprobs: TokenInfo[] | null; finishReason: FinishReason }[];
  usage: Usage;
  timings: Timings;
}

/** A request the engine refuses, with the HTTP status and OpenAI error fields it maps to. */
export class EngineError extends Error {
  constructor(message: string, readonly status: number, readonly code: string | null, readonly param: string | null = null,
              readonly type = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error') {
    super(message);
  }
}

interface Pending { push: (c: EngineChunk) => void; fail: (e: Error) => void; sequences: number }

/** An async stream of chunks for one request; `collect()` gives the non-streaming result. */
export class EngineStream implements AsyncIterable<EngineChunk> {
  private readonly buf: EngineChunk[] = [];
  private error: Error | null = null;
  private ended = false;
  private wake: (() => void) | null = null;
  private consumed = false;

  constructor(start: EngineChunk) { this.buf.push(start); }

  /** @internal */ push(c: EngineChunk): void {
    this.buf.push(c);
    if (c.type === 'usage') this.ended = true;
    this.wake?.();
  }
  /** @internal */ fail(e: Error): void {
    if (this.ended) return;
    this.error = e;
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<EngineChunk> {
    if (this.consumed) throw new Error('EngineStream: already consumed');
    this.consumed = true;
    for (;;) {
      while (this.buf.length) yield this.buf.shift()!;
      if (this.error) throw this.error;
      if (this.ended) return;
      await new Promise<void>((r) => { this.wake = r; });
      this.wake = null;
    }
  }

  collect(): Promise<CompletionResult> {
    return collectChunks(this);
  }
}

/** The non-streaming form of a chunk stream. */
export async function collectChunks(chunks: AsyncIterable<EngineChunk>): Promise<CompletionResult> {
  const r: CompletionResult = { promptTokens: 0, droppedMessages: 0, choices: [], usage: { promptTokens: 0, completionTokens: 0 }, timings: undefined as unknown as Timings };
  for await (const c of chunks) {
    if (c.type === 'start') { r.promptTokens = c.promptTokens; r.droppedMessages = c.droppedMessages; }
    else if (c.type === 'delta') {
      const ch = (r.choices[c.index] ??= { index: c.index, text: '', tokens: [], logprobs: null, finishReason: 'length' });
      ch.text += c.text;
      ch.tokens.push(...c.tokens);
      if (c.logprobs) (ch.logprobs ??= []).push(...c.logprobs);
    } else if (c.type === 'finish') {
      (r.choices[c.index] ??= { index: c.index, text: '', tokens: [], logprobs: null, finishReason: c.finishReason }).finishReason = c.finishReason;
    } else { r.usage = c.usage; r.timings = c.timings; }
  }
  return r;
}

export class Engine {
  readonly config: BaichuanConfig;
  readonly tokenizer: BpeTokenizer;
  readonly generation: GenerationDefaults;
  /** Positions per slot: the context a request must fit in. */
  readonly contextLength: number;
  readonly parallel: number;
  readonly ready: Promise<void>;
  state: 'loading' | 'ready' | 'failed' | 'closed' = 'loading';
  loadError: string | null = null;
  stats: EngineStats;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private outstanding = 0;
  private readonly maxQueue: number;
  private readonly maxTokensCap: number;

  constructor(readonly options: EngineOptions) {
    const dir = options.model;
    const gguf = isGgufFile(dir);  // a GGUF file carries its config and vocabulary
    if (!gguf && (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())) throw new Error(`model ${dir}: not a directory or a GGUF file`);
    this.config = readConfig(dir);
    this.generation = readGenerationConfig(dir);
    const tokFile = options.tokenizer ?? (gguf ? dir : path.join(dir, 'tokenizer.model'));
    if (!fs.existsSync(tokFile)) throw new Error(`${tokFile}: no tokenizer.model (serving needs one; pass a tokenizer)`);
    this.tokenizer = loadTokenizer(tokFile);
    if (this.tokenizer.vocabSize > this.config.vocabSize) throw new Error(`${tokFile}: ${this.tokenizer.vocabSize} pieces, more than the model's vocab_size ${this.config.vocabSize}`);
    this.parallel = options.parallel ?? 4;
    if (!Number.isInteger(this.parallel) || this.parallel < 1 || this.parallel > 256) throw new Error(`parallel must be an integer in [1, 256], got ${this.parallel}`);
    this.contextLength = options.ctx ?? this.config.modelMaxLength;
    if (!Number.isInteger(this.contextLength) || this.contextLength < 2 || this.contextLength > this.config.modelMaxLength)
      throw new Error(`ctx must be an integer in [2, ${this.config.modelMaxLength}] (the model's context), got ${this.contextLength}`);
    this.maxQueue = options.maxQueue ?? 64;
    this.maxTokensCap = options.maxTokensCap ?? this.contextLength;
    this.stats = { running: 0, queued: 0, batchSize: 0, slots: this.parallel, prefillTokens: 0, prefillSeconds: 0, decodeTokens: 0, decodeSeconds: 0, steps: 0 };
    const init: WorkerInit = { modelDir: dir, tokenizer: tokFile, slots: this.parallel, capacity: this.contextLength, rowsPerForward: options.rowsPerForward, dtype: options.dtype, threads: options.threads, adapter: options.adapter };
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') { this.state = 'ready'; resolve(); }
        else if (m.type === 'load-error') { this.state = 'failed'; this.loadError = m.message; reject(new Error(m.message)); }
        else this.onMessage(m);
      });
      this.worker.on('error', (e) => { this.failAll(e); if (this.state === 'loading') { this.state = 'failed'; this.loadError = e.message; reject(e); } });
      this.worker.on('exit', () => { this.failAll(new Error('engine worker exited')); if (this.state !== 'failed') this.state = 'closed'; });
    });
    this.ready.catch(() => { /* reported through state; awaited by callers */ });
  }

  /** Start an engine and wait until its model is loaded. */
  static async start(o: EngineOptions): Promise<Engine> {
    const e = new Engine(o);
    await e.ready;
    return e;
  }

  /** Sequences waiting or running. */
  get load(): number { return this.outstanding; }

  encode(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /** The prompt ids of a chat, as the model will see it (and what fitContext dropped). */
  chatPrompt(messages: ChatMessage[], fit?: { maxNewTokens: number }): { ids: number[]; droppedMessages: number; truncatedTokens: number } {
    const o = { userTokenId: this.generation.userTokenId, assistantTokenId: this.generation.assistantTokenId };
    try {
      if (fit) return fitChatInput(messages, (t) => this.encode(t), { ...o, modelMaxLength: this.contextLength, maxNewTokens: fit.maxNewTokens });
      return fitChatInput(messages, (t) => this.encode(t), { ...o, modelMaxLength: Infinity, maxNewTokens: 0 });
    } catch (e) {
      throw new EngineError((e as Error).message.replace(/^chat: /, ''), 400, null, 'messages');
    }
  }

  chatCompletion(req: ChatRequest, opts: { signal?: AbortSignal } = {}): EngineStream {
    if (!Array.isArray(req.messages) || req.messages.length === 0) throw new EngineError('messages must be a non-empty array', 400, null, 'messages');
    let fit: { maxNewTokens: number } | undefined;
    if (req.fitContext) fit = { maxNewTokens: Math.min(req.maxTokens ?? this.generation.maxNewTokens, this.contextLength - 1) };
    const { ids, droppedMessages, truncatedTokens } = this.chatPrompt(req.messages, fit);
    return this.run(ids, fit ? { ...req, maxTokens: fit.maxNewTokens } : req, 'messages', { droppedMessages, truncatedTokens }, opts.signal);
  }

  completion(req: CompletionRequest, opts: { signal?: AbortSignal } = {}): EngineStream {
    const ids = typeof req.prompt === 'string' ? this.encode(req.prompt) : req.prompt;
    if (ids.length === 0) throw new EngineError('prompt is empty', 400, null, 'prompt');
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) throw new EngineError(`prompt: token id ${id} is outside the vocabulary [0, ${this.config.vocabSize})`, 400, null, 'prompt');
    return this.run(ids, req, 'prompt', { droppedMessages: 0, truncatedTokens: 0 }, opts.signal);
  }

  private run(ids: number[], req: SamplingRequest, promptParam: string, fitted: { droppedMessages: number; truncatedTokens: number }, signal?: AbortSignal): EngineStream {
    if (this.state === 'loading') throw new EngineError('the model is still loading', 503, 'model_loading');
    if (this.state !== 'ready') throw new EngineError(`the engine is not available (${this.loadError ?? this.state})`, 503, 'engine_unavailable');
    const job = this.job(ids, req, promptParam);
    if (job.n > this.parallel + this.maxQueue) throw new EngineError(`n = ${job.n} is more than the server can hold (${this.parallel + this.maxQueue})`, 400, null, 'n');
    if (this.outstanding + job.n > this.parallel + this.maxQueue) throw new EngineError('the server is busy: the request queue is full, retry later', 429, 'queue_full');
    if (signal?.aborted) throw abortError();
    const id = this.nextId++;
    const stream = new EngineStream({ type: 'start', promptTokens: ids.length, ...fitted });
    this.outstanding += job.n;
    const done = () => {
      if (!this.pending.delete(id)) return;
      this.outstanding -= job.n;
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      if (!this.pending.has(id)) return;
      this.post({ type: 'cancel', id });
      done();
      stream.fail(abortError());
    };
    this.pending.set(id, {
      sequences: job.n,
      push: (c) => { if (c.type === 'usage') done(); stream.push(c); },
      fail: (e) => { done(); stream.fail(e); },
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    this.post({ type: 'submit', id, job });
    return stream;
  }

  /** Validate and resolve a request's settings into a job. */
  private job(prompt: number[], req: SamplingRequest, promptParam: string): GenerationJob {
    const ctx = this.contextLength;
    const bad = (param: string, msg: string) => new EngineError(`${param}: ${msg}`, 400, null, param);
    const intIn = (v: number | undefined, param: string, min: number, max: number) => {
      if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) throw bad(param, `must be an integer in [${min}, ${max}], got ${v}`);
    };
    intIn(req.maxTokens, 'max_tokens', 1, this.maxTokensCap);
    intIn(req.n, 'n', 1, 16);
    intIn(req.logprobs ?? undefined, 'logprobs', 0, 20);
    intIn(req.seed, 'seed', -(2 ** 63), 2 ** 64);
    for (const [v, param] of [[req.frequencyPenalty, 'frequency_penalty'], [req.presencePenalty, 'presence_penalty']] as const)
      if (v !== undefined && !(v >= -2 && v <= 2)) throw bad(param, `must be in [-2, 2], got ${v}`);
    if (req.temperature !== undefined && !(req.temperature >= 0 && req.temperature <= 2)) throw bad('temperature', `must be in [0, 2], got ${req.temperature}`);
    const sampling = resolveSampling({ greedy: req.greedy, temperature: req.temperature, topK: req.topK, topP: req.topP, repetitionPenalty: req.repetitionPenalty }, this.generation);
    try { validateSampling(sampling); } catch (e) { throw bad(/top_k/.test((e as Error).message) ? 'top_k' : /top_p/.test((e as Error).message) ? 'top_p' : 'repetition_penalty', (e as Error).message); }
    const stop = req.stop === undefined ? [] : typeof req.stop === 'string' ? [req.stop] : req.stop;
    if (stop.length > 4 || stop.some((s) => typeof s !== 'string' || s.length === 0)) throw bad('stop', 'up to 4 non-empty strings');
    if (prompt.length >= ctx) throw new EngineError(`This model's maximum context length is ${ctx} tokens; the ${promptParam} has ${prompt.length} tokens, leaving no room for a reply.`, 400, 'context_length_exceeded', promptParam);
    let maxTokens = req.maxTokens;
    if (maxTokens !== undefined && prompt.length + maxTokens > ctx)
      throw new EngineError(`This model's maximum context length is ${ctx} tokens. However, you requested ${prompt.length + maxTokens} tokens (${prompt.length} in the ${promptParam}, ${maxTokens} for the completion).`, 400, 'context_length_exceeded', promptParam);
    maxTokens ??= Math.min(this.generation.maxNewTokens, ctx - prompt.length, this.maxTokensCap);
    const seed = req.seed === undefined ? randomInt(2 ** 32) : Number(BigInt.asUintN(32, BigInt(req.seed)));
    return {
      prompt, n: req.n ?? 1, maxTokens, sampling, seed, stop,
      frequencyPenalty: req.frequencyPenalty ?? 0, presencePenalty: req.presencePenalty ?? 0,
      logprobs: req.logprobs === undefined ? null : req.logprobs,
    };
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'stats') this.stats = m.stats;
    else if (m.type === 'chunks') for (const { id, chunk } of m.items) this.pending.get(id)?.push(chunk);
    else if (m.type === 'failed') this.pending.get(m.id)?.fail(new EngineError(`generation failed: ${m.message}`, 500, 'generation_failed'));
  }

  private failAll(e: Error): void {
    for (const p of [...this.pending.values()]) p.fail(new EngineError(`engine failed: ${e.message}`, 500, 'engine_failed'));
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  /** Stop the worker; running requests fail. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.post({ type: 'stop' });
    await this.worker.terminate();
  }
}

function abortError(): Error {
  const e = new Error('the request was cancelled');
  e.name = 'AbortError';
  return e;
}
