// The scheduler of the serving engine (runs in the engine's worker thread):
// a FIFO of waiting sequences, a ContinuousBatch of running ones, and per
// choice the text state: deltas that never split a UTF-8 character, stop
// strings cut out of the text (and held back while they may still be
// forming), log-probabilities. One `tick` = admit waiting sequences into free
// slots, one batch step, emit chunks, retire finished sequences.
import { ContinuousBatch, type StepToken } from '../infer/batch.js';
import { decodeUtf8Lenient, type BpeTokenizer } from '../tokenizer/bpe.js';
import { PieceType } from '../tokenizer/sentencepiece-model.js';
import type { BaichuanForCausalLM } from '../model/baichuan.js';
import type { EngineChunk, EngineStats, FinishReason, GenerationJob, TokenInfo } from './protocol.js';

interface Choice {
  job: Job;
  index: number;
  seq: number | null;   // batch sequence id once admitted
  ids: number[];        // generated ids without eos
  emitted: string;      // text already sent
  pending: { ids: number[]; logprobs: TokenInfo[] };
  finished: boolean;
  firstTokenAt: number;
  lastTokenAt: number;
  prefillSeconds: number;
}

interface Job {
  id: number;
  job: GenerationJob;
  choices: Choice[];
  completionTokens: number;
}

export class Scheduler {
  readonly batch: ContinuousBatch;
  private readonly waiting: Choice[] = [];
  private readonly jobs = new Map<number, Job>();
  private readonly bySeq = new Map<number, Choice>();
  private readonly eos: number;
  private failures: { id: number; message: string }[] = [];

  constructor(model: BaichuanForCausalLM, private readonly tok: BpeTokenizer, o: { slots: number; capacity: number; rowsPerForward?: number },
              private readonly emit: (id: number, chunk: EngineChunk) => void) {
    this.batch = new ContinuousBatch(model, { slots: o.slots, capacity: o.capacity, rowsPerForward: o.rowsPerForward });
    this.eos = model.config.eosTokenId;
  }

  get idle(): boolean {
    return this.waiting.length === 0 && this.batch.active === 0;
  }

  submit(id: number, job: GenerationJob): void {
    const j: Job = { id, job, choices: [], completionTokens: 0 };
    for (let i = 0; i < job.n; i++) {
      const c: Choice = { job: j, index: i, seq: null, ids: [], emitted: '', pending: { ids: [], logprobs: [] }, finished: false, firstTokenAt: 0, lastTokenAt: 0, prefillSeconds: 0 };
      j.choices.push(c);
      this.waiting.push(c);
    }
    this.jobs.set(id, j);
  }

  /** Drop a request: its waiting choices leave the queue, its running ones free their slots now (between steps). */
  cancel(id: number): void {
    const j = this.jobs.get(id);
    if (!j) return;
    for (const c of j.choices) this.retire(c);
    this.jobs.delete(id);
  }

  /** Jobs refused since the last call (their other choices are cancelled). */
  takeFailures(): { id: number; message: string }[] {
    const f = this.failures;
    this.failures = [];
    return f;
  }

  /** Ids of the requests not yet finished. */
  running(): number[] {
    return [...this.jobs.keys()];
  }

  stats(): EngineStats {
    const s = this.batch.stats;
    return { running: this.batch.active, queued: this.waiting.length, batchSize: this.batch.lastBatchSize, slots: this.batch.cache.slots, ...s };
  }

  /** Admit, step once, emit. */
  tick(): void {
    while (this.batch.free > 0 && this.waiting.length) {
      const c = this.waiting.shift()!;
      const g = c.job.job;
      try {
        c.seq = this.batch.add(g.prompt, {
          ...g.sampling, maxNewTokens: g.maxTokens, seed: (g.seed + c.index) >>> 0, frequencyPenalty: g.frequencyPenalty, presencePenalty: g.presencePenalty,
          topLogprobs: g.logprobs, eosTokenId: this.eos,
        });
      } catch (e) {
        // a job the batch refuses fails alone; the others keep running
        this.failures.push({ id: c.job.id, message: (e as Error).message });
        this.cancel(c.job.id);
        continue;
      }
      this.bySeq.set(c.seq, c);
    }
    if (this.batch.active === 0) return;
    for (const t of this.batch.step()) {
      const c = this.bySeq.get(t.seq)!;
      this.onToken(c, t);
    }
  }

  private onToken(c: Choice, t: StepToken): void {
    const now = performance.now();
    if (t.prefill) { c.firstTokenAt = now; c.prefillSeconds = t.prefillSeconds ?? 0; }
    c.lastTokenAt = now;
    c.job.completionTokens++;
    const isEos = t.token === this.eos;
    if (!isEos) c.ids.push(t.token);
    c.pending.ids.push(t.token);
    if (t.logprob) c.pending.logprobs.push({ ...this.info(t.token, t.logprob.logprob), top: t.logprob.top.map((a) => this.info(a.id, a.logprob)) });
    const stops = c.job.job.stop;
    let text = this.tok.decode(c.ids);
    const final = t.done;
    if (!final) text = text.replace(/\ufffd+$/, '');
    let reason: FinishReason | null = final ? (isEos ? 'stop' : 'length') : null;
    // a stop string ends the choice; its text and everything after it are dropped
    let end = text.length;
    if (stops.length) {
      const from = Math.max(0, c.emitted.length - Math.max(...stops.map((s) => s.length)));
      let cut = -1;
      for (const s of stops) {
        const i = text.indexOf(s, from);
        if (i >= 0 && (cut < 0 || i < cut)) cut = i;
      }
      if (cut >= 0) { end = cut; reason = 'stop'; }
      else if (!reason) end = text.length - heldBack(text, stops);
    }
    if (end > c.emitted.length && text.startsWith(c.emitted)) {
      const delta = text.slice(c.emitted.length, end);
      c.emitted = text.slice(0, end);
      this.emit(c.job.id, { type: 'delta', index: c.index, text: delta, tokens: c.pending.ids, ...(t.logprob ? { logprobs: c.pending.logprobs } : {}) });
      c.pending = { ids: [], logprobs: [] };
    } else if (reason && c.pending.ids.length) {
      this.emit(c.job.id, { type: 'delta', index: c.index, text: '', tokens: c.pending.ids, ...(t.logprob ? { logprobs: c.pending.logprobs } : {}) });
      c.pending = { ids: [], logprobs: [] };
    }
    if (reason) this.finish(c, reason);
  }

  private finish(c: Choice, reason: FinishReason): void {
    this.retire(c);
    this.emit(c.job.id, { type: 'finish', index: c.index, finishReason: reason });
    const j = c.job;
    if (!j.choices.every((x) => x.finished)) return;
    this.jobs.delete(j.id);
    const promptTokens = j.job.prompt.length;
    const prefillSeconds = j.choices.reduce((s, x) => s + x.prefillSeconds, 0);
    const decodeTokens = j.completionTokens - j.choices.length;
    const decodeSeconds = Math.max(...j.choices.map((x) => x.lastTokenAt - x.firstTokenAt)) / 1000;
    this.emit(j.id, {
      type: 'usage',
      usage: { promptTokens, completionTokens: j.completionTokens },
      timings: {
        promptTokens, prefillSeconds, prefillTokensPerSecond: prefillSeconds > 0 ? (promptTokens * j.choices.length) / prefillSeconds : 0,
        decodeTokens, decodeSeconds, decodeTokensPerSecond: decodeSeconds > 0 ? decodeTokens / decodeSeconds : 0,
      },
    });
  }

  private retire(c: Choice): void {
    c.finished = true;
    const w = this.waiting.indexOf(c);
    if (w >= 0) this.waiting.splice(w, 1);
    if (c.seq !== null) {
      this.batch.remove(c.seq);
      this.bySeq.delete(c.seq);
      c.seq = null;
    }
  }

  private info(id: number, logprob: number): { id: number; token: string; bytes: number[]; logprob: number } {
    const bytes = tokenBytes(this.tok, id);
    return { id, token: decodeUtf8Lenient(bytes), bytes, logprob };
  }
}

/** The UTF-8 bytes a token contributes to the text (a byte piece is that byte; control pieces none). */
export function tokenBytes(tok: BpeTokenizer, id: number): number[] {
  const piece = tok.pieces[id]!;
  const type = tok.types[id];
  if (type === PieceType.BYTE) return [parseInt(piece.slice(3, 5), 16)];
  if (type === PieceType.CONTROL) return [];
  return [...Buffer.from(piece.replaceAll('\u2581', ' '), 'utf8')];
}

/** Length of the longest suffix of `text` that is a proper prefix of a stop string (held back until it resolves). */
function heldBack(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const s of stops)
    for (let k = Math.min(s.length - 1, text.length); k > best; k--)
      if (text.endsWith(s.slice(0, k))) { best = k; break; }
  return best;
}
