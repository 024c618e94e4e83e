// Runs one task against a model: fits each prompt into the context (dropping
// few-shot examples from the end when needed), scores or generates, executes
// code in the sandbox, and aggregates per subject. Every finished item is
// appended to a JSONL cache keyed by a hash of the item and settings, so an
// interrupted run resumes where it stopped and a finished one re-scores
// instantly. Deterministic: greedy decoding (or seeded sampling for pass@k)
// and a fixed item order.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { EvalLM } from './lm.js';
import { corpusBleu } from './metrics/bleu.js';
import { extractBbhAnswer, extractLastNumber, extractMathAnswer, mathEquivalent, numbersEqual } from './metrics/answers.js';
import { passAtK } from './metrics/pass-at-k.js';
import { assertSandboxUsable, runPython, type SandboxOptions } from './sandbox.js';
import type { ChoiceItem, CodeItem, EvalItem, GenItem, Task } from './tasks/types.js';
import { CEVAL_SUBJECTS } from './tasks/ceval-subjects.js';

export interface RunOptions {
  /** JSONL cache file (created if absent). */
  cacheFile?: string;
  /** At most this many items, taken round-robin across subjects so each subject is represented. */
  limit?: number;
  /** Code tasks: samples per problem (default 1, greedy); with n > 1, temperature sampling. */
  samples?: number;
  temperature?: number;
  seed?: number;
  sandbox?: SandboxOptions;
  onProgress?: (done: number, total: number) => void;
}

export interface SubjectScore { score: number; n: number }

export interface TaskResult {
  task: string;
  title: string;
  metric: string;
  /** Headline number: accuracy and pass@k in percent, BLEU 0-100, or bits/byte. */
  score: number;
  n: number;
  perSubject: Record<string, SubjectScore>;
  extra: Record<string, number>;
  settings: { shots: number; protocol: string; limit: number | null; samples: number; temperature: number; source: string };
  /** Items whose prompt did not fit with all examples; `shotsDropped` counts the examples removed in total. */
  fitting: { itemsWithFewerShots: number; shotsDropped: number; leftTruncated: number };
  seconds: number;
  cachedItems: number;
  /** Code tasks: the sandbox layers the programs ran under. */
  isolation?: string[];
}

type ItemRecord = Record<string, unknown> & { id: string; subject: string };

/** Take items round-robin over subjects, keeping each subject's order. */
export function limitItems<T extends { subject: string }>(items: T[], limit?: number): T[] {
  if (limit === undefined || limit >= items.length) return items;
  const groups = new Map<string, T[]>();
  for (const it of items) groups.set(it.subject, [...(groups.get(it.subject) ?? []), it]);
  const out: T[] = [];
  for (let round = 0; out.length < limit; round++)
    for (const g of groups.values()) if (round < g.length && out.length < limit) out.push(g[round]!);
  const chosen = new Set(out);
  return items.filter((it) => chosen.has(it));  // task order, not round order
}

function readCache(file: string | undefined): Map<string, ItemRecord> {
  const m = new Map<string, ItemRecord>();
  if (!file || !fs.existsSync(file)) return m;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const { key, rec } = JSON.parse(line) as { key: string; rec: ItemRecord };
      m.set(key, rec);
    } catch { /* a line cut by an interruption: that item is simply redone */ }
  }
  return m;
}

interface Fitted { prompt: string; shotsUsed: number; truncated: boolean }

/** Header + as many examples as fit with `reserve` tokens to spare, + query. */
export function fitPrompt(lm: EvalLM, item: Exclude<EvalItem, { kind: 'ppl' }>, reserve: number): Fitted {
  const budget = lm.maxLength - reserve;
  for (let k = item.shots.length; k >= 0; k--) {
    const prompt = item.header + item.shots.slice(0, k).join('') + item.query;
    const fits = lm.encode(prompt).length <= budget;
    if (fits || k === 0) return { prompt, shotsUsed: k, truncated: !fits };
  }
  throw new Error('unreachable');
}

export async function runTask(lm: EvalLM, task: Task, o: RunOptions = {}): Promise<TaskResult> {
  const t0 = performance.now();
  const items = limitItems(task.items, o.limit);
  const samples = o.samples ?? 1;
  const temperature = samples > 1 ? (o.temperature ?? 0.8) : 0;
  // refuse before any generation when generated code could not be contained
  const isolation = items.some((it) => it.kind === 'code') ? assertSandboxUsable(o.sandbox) : undefined;
  const cache = readCache(o.cacheFile);
  if (o.cacheFile) fs.mkdirSync(path.dirname(o.cacheFile), { recursive: true });
  const records: ItemRecord[] = [];
  let cachedItems = 0;
  const fitting = { itemsWithFewerShots: 0, shotsDropped: 0, leftTruncated: 0 };
  for (const [i, item] of items.entries()) {
    const settings = item.kind === 'code' ? { samples, temperature, seed: o.seed ?? 0, maxLength: lm.maxLength } : { maxLength: lm.maxLength };
    const key = crypto.createHash('sha256').update(JSON.stringify({ item, settings })).digest('hex');
    let rec = cache.get(key);
    if (rec) cachedItems++;
    else {
      rec = await runItem(lm, item, samples, temperature, o);
      if (o.cacheFile) fs.appendFileSync(o.cacheFile, JSON.stringify({ key, rec }) + '\n');
    }
    if (typeof rec.shotsUsed === 'number' && item.kind !== 'ppl' && rec.shotsUsed < item.shots.length) {
      fitting.itemsWithFewerShots++;
      fitting.shotsDropped += item.shots.length - rec.shotsUsed;
    }
    if (rec.truncated) fitting.leftTruncated++;
    records.push(rec);
    o.onProgress?.(i + 1, items.length);
  }
  const { score, perSubject, extra } = aggregate(task, records, samples);
  return {
    task: task.name, title: task.title, metric: task.metric, score, n: records.length, perSubject, extra,
    settings: { shots: task.shots, protocol: task.protocol, limit: o.limit ?? null, samples, temperature, source: task.source },
    fitting, seconds: (performance.now() - t0) / 1000, cachedItems, ...(isolation ? { isolation } : {}),
  };
}

const maxNew = (lm: EvalLM, item: GenItem | CodeItem) => Math.min(item.maxNewTokens, Math.floor(lm.maxLength / 2));

async function runItem(lm: EvalLM, item: EvalItem, samples: number, temperature: number, o: RunOptions): Promise<ItemRecord> {
  const base = { id: item.id, subject: item.subject };
  if (item.kind === 'ppl') {
    const nll = -lm.logLikelihood(item.tokens, item.from);
    return { ...base, nll, tokens: item.tokens.length - item.from, bytes: item.bytes };
  }
  if (item.kind === 'choice') return runChoice(lm, item);
  const budget = maxNew(lm, item);
  const fit = fitPrompt(lm, item, budget);
  const fitInfo = { shotsUsed: fit.shotsUsed, truncated: fit.truncated, maxNewTokens: budget };
  if (item.kind === 'gen') {
    const [completion] = lm.complete(fit.prompt, { maxNewTokens: budget, stop: item.stop });
    return { ...base, ...fitInfo, completion: completion!, ...judge(item, completion!) };
  }
  const completions = lm.complete(fit.prompt, { maxNewTokens: budget, stop: item.stop, n: samples, temperature, seed: o.seed ?? 0 });
  const runs = [];
  for (const c of completions) runs.push(await runPython(item.before + c + item.after, o.sandbox));
  return { ...base, ...fitInfo, completions, passed: runs.map((r) => r.status === 'passed'), statuses: runs.map((r) => r.status), isolation: runs[0]?.isolation ?? [] };
}

function runChoice(lm: EvalLM, item: ChoiceItem): ItemRecord {
  const longest = Math.max(...item.options.map((op) => lm.encode(op).length));
  const fit = fitPrompt(lm, item, longest);
  const logprobs = lm.scoreContinuations(fit.prompt, item.options);
  let pred = 0;
  logprobs.forEach((lp, i) => { if (lp > logprobs[pred]!) pred = i; });
  return { id: item.id, subject: item.subject, shotsUsed: fit.shotsUsed, truncated: fit.truncated, logprobs, pred, gold: item.gold, correct: pred === item.gold };
}

function judge(item: GenItem, completion: string): { pred: string | null; gold: string; correct?: boolean } {
  switch (item.check) {
    case 'number': { const pred = extractLastNumber(completion); return { pred, gold: item.gold, correct: numbersEqual(pred, item.gold) }; }
    case 'math': { const pred = extractMathAnswer(completion); return { pred, gold: item.gold, correct: mathEquivalent(pred, item.gold) }; }
    case 'exact': { const pred = extractBbhAnswer(completion); return { pred, gold: item.gold, correct: pred === item.gold.trim() }; }
    case 'bleu': return { pred: completion.trim(), gold: item.gold };
  }
}

function aggregate(task: Task, recs: ItemRecord[], samples: number): Pick<TaskResult, 'score' | 'perSubject' | 'extra'> {
  const bySubject = new Map<string, ItemRecord[]>();
  for (const r of recs) bySubject.set(r.subject, [...(bySubject.get(r.subject) ?? []), r]);
  const perSubject: Record<string, SubjectScore> = {};
  const extra: Record<string, number> = {};
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  if (task.metric === 'accuracy') {
    for (const [s, rs] of bySubject) perSubject[s] = { score: 100 * mean(rs.map((r) => (r.correct ? 1 : 0))), n: rs.length };
    extra.macro = mean(Object.values(perSubject).map((p) => p.score));
    if (task.name === 'ceval') {
      // C-Eval's leaderboard also reports its four categories
      const byCat = new Map<string, number[]>();
      for (const r of recs) { const cat = CEVAL_SUBJECTS[r.subject]?.category ?? 'Other'; byCat.set(cat, [...(byCat.get(cat) ?? []), r.correct ? 1 : 0]); }
      for (const [cat, xs] of byCat) extra[`category: ${cat}`] = 100 * mean(xs);
    }
    return { score: 100 * mean(recs.map((r) => (r.correct ? 1 : 0))), perSubject, extra };
  }
  if (task.metric === 'pass@1') {
    const counts = recs.map((r) => (r.passed as boolean[]).filter(Boolean).length);
    for (const k of [1, 10, 100]) if (k <= samples) extra[`pass@${k}`] = 100 * mean(counts.map((c) => passAtK(samples, c, k)));
    for (const [s, rs] of bySubject) perSubject[s] = { score: 100 * mean(rs.map((r) => passAtK(samples, (r.passed as boolean[]).filter(Boolean).length, 1))), n: rs.length };
    return { score: extra['pass@1']!, perSubject, extra };
  }
  if (task.metric === 'bleu') {
    for (const [s, rs] of bySubject) {
      const tokenizer = (task.items.find((it) => it.subject === s) as GenItem | undefined)?.bleuTokenizer ?? '13a';
      perSubject[s] = { score: corpusBleu(rs.map((r) => r.pred as string), [rs.map((r) => r.gold as string)], tokenizer).score, n: rs.length };
    }
    return { score: mean(Object.values(perSubject).map((p) => p.score)), perSubject, extra };
  }
  const nll = recs.reduce((s, r) => s + (r.nll as number), 0);
  const tokens = recs.reduce((s, r) => s + (r.tokens as number), 0);
  const bytes = recs.reduce((s, r) => s + (r.bytes as number), 0);
  extra.natsPerToken = nll / tokens;
  extra.perplexity = Math.exp(nll / tokens);
  extra.tokens = tokens;
  extra.bytes = bytes;
  const bpb = nll / Math.LN2 / bytes;
  for (const [s, rs] of bySubject) perSubject[s] = { score: bpb, n: rs.length };
  return { score: bpb, perSubject, extra };
}
