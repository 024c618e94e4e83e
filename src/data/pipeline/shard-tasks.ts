// The per-shard work of every stage, as plain functions of (task) ->
// (counts): run in worker threads by the pool, or in-process. A task reads
// one input shard and writes its output shard (and key files for the global
// steps) atomically, so a finished shard is never redone on resume.
import { readShard, writeShard, type Doc } from './doc-io.js';
import { writeFileAtomic as writeAtomic } from '../../engine/atomic-write.js';
import { firstFailedRule, type FilterConfig } from './filters.js';
import { CharTrigramScorer, filterSentences, type SentenceScorer } from './quality.js';
import { ModelSentenceScorer } from './model-scorer.js';
import { MinHasher, shingleSet, type MinHashConfig } from './minhash.js';
import { hash64, normalizeForHash, paragraphs, sentences } from './text.js';

export type ShardTask =
  | { kind: 'exact-keys'; input: string; keys: string }
  | { kind: 'filter'; input: string; output: string; filters: FilterConfig }
  | { kind: 'quality'; input: string; output: string; scorerFile: string; threshold: number; minSentenceChars: number; minDocChars: number; model?: { model: string; tokenizer?: string } }
  | { kind: 'unit-keys'; input: string; keys: string; minChars: number }
  | { kind: 'unit-remove'; input: string; output: string; drops: [number, string, number][]; minDocChars: number }
  | { kind: 'minhash'; input: string; keys: string; shingles: string; config: MinHashConfig }
  | { kind: 'remove-ords'; input: string; output: string; drop: number[]; reason: string }
  | { kind: 'weights'; input: string; output: string; sourceWeights: Record<string, number>; qualityMean: number | null; qualityScale: number };

export interface RuleCount { docs: number; bytes: number; examples: string[] }

export interface ShardResult {
  docsIn: number; docsOut: number; bytesIn: number; bytesOut: number;
  rules: Record<string, RuleCount>;
  /** Per-source bytes out (for mixing) and quality sums. */
  sourceBytes: Record<string, number>;
  qualitySum: number; qualityBytes: number;
}

const bytesOf = (t: string) => Buffer.byteLength(t);
const EXAMPLE_CHARS = 240;

function newResult(docs: Doc[]): ShardResult {
  return { docsIn: docs.length, docsOut: 0, bytesIn: docs.reduce((s, d) => s + bytesOf(d.text), 0), bytesOut: 0, rules: {}, sourceBytes: {}, qualitySum: 0, qualityBytes: 0 };
}

function count(r: ShardResult, rule: string, bytes: number, example?: string): void {
  const c = (r.rules[rule] ??= { docs: 0, bytes: 0, examples: [] });
  c.docs++;
  c.bytes += bytes;
  if (example !== undefined && c.examples.length < 3) c.examples.push(example.slice(0, EXAMPLE_CHARS));
}

function finish(r: ShardResult, out: Doc[], file: string): ShardResult {
  writeShard(file, out);
  r.docsOut = out.length;
  for (const d of out) {
    const b = bytesOf(d.text);
    r.bytesOut += b;
    r.sourceBytes[d.source] = (r.sourceBytes[d.source] ?? 0) + b;
    if (d.quality !== undefined) { r.qualitySum += d.quality * b; r.qualityBytes += b; }
  }
  return r;
}

/** A document's paragraphs, each as its sentences. */
function units(text: string): string[][] {
  return paragraphs(text).map((p) => sentences(p));
}

/** Write a shard whose documents pass through unchanged (ingest), with its counts. */
export function writeCountedShard(file: string, docs: Doc[]): ShardResult {
  return finish(newResult(docs), docs, file);
}

let cachedModel: { key: string; scorer: ModelSentenceScorer } | null = null;

/** One model per worker thread, loaded on its first quality task. */
function modelScorer(m: { model: string; tokenizer?: string }): ModelSentenceScorer {
  const key = `${m.model}|${m.tokenizer ?? ''}`;
  if (cachedModel?.key !== key) cachedModel = { key, scorer: ModelSentenceScorer.load(m.model, m.tokenizer) };
  return cachedModel.scorer;
}

export async function runShardTask(t: ShardTask): Promise<ShardResult> {
  const docs = await readShard(t.input);
  const r = newResult(docs);
  switch (t.kind) {
    case 'exact-keys': {
      writeAtomic(t.keys, 'h,ord\n' + docs.map((d) => `${hash64(normalizeForHash(d.text))},${d.ord}`).join('\n') + '\n');
      return r;
    }
    case 'filter': {
      const out: Doc[] = [];
      for (const d of docs) {
        const rule = firstFailedRule(d.text, d.source, t.filters);
        if (rule) count(r, rule, bytesOf(d.text), d.text); else out.push(d);
      }
      return finish(r, out, t.output);
    }
    case 'quality': {
      const scorer: SentenceScorer = t.model ? modelScorer(t.model) : CharTrigramScorer.load(t.scorerFile);
      const out: Doc[] = [];
      for (const d of docs) {
        const f = filterSentences(d.text, scorer, t.threshold, t.minSentenceChars);
        if (f.removedSentences) {
          const c = (r.rules.low_quality_sentences ??= { docs: 0, bytes: 0, examples: [] });
          c.docs += f.removedSentences; c.bytes += bytesOf(d.text) - bytesOf(f.text);
          for (const e of f.examples) if (c.examples.length < 3) c.examples.push(e.slice(0, EXAMPLE_CHARS));
        }
        if (f.text.trim().length < t.minDocChars) { count(r, 'too_short_after_quality', bytesOf(f.text), f.text); continue; }
        out.push({ ...d, text: f.text, quality: f.quality });
      }
      return finish(r, out, t.output);
    }
    case 'unit-keys': {
      const lines = ['h,ord,unit'];
      for (const d of docs) {
        const paras = units(d.text);
        let s = 0;
        paras.forEach((ss, p) => {
          const pn = normalizeForHash(ss.join(''));
          if (pn.length >= t.minChars && ss.length > 1) lines.push(`p${hash64(pn)},${d.ord},${p}`);
          for (const sent of ss) {
            const sn = normalizeForHash(sent);
            if (sn.length >= t.minChars) lines.push(`s${hash64(sn)},${d.ord},${s}`);
            s++;
          }
        });
      }
      writeAtomic(t.keys, lines.join('\n') + '\n');
      return r;
    }
    case 'unit-remove': {
      const byOrd = new Map<number, { p: Set<number>; s: Set<number> }>();
      for (const [ord, kind, unit] of t.drops) {
        const e = byOrd.get(ord) ?? { p: new Set<number>(), s: new Set<number>() };
        (kind === 'p' ? e.p : e.s).add(unit);
        byOrd.set(ord, e);
      }
      const out: Doc[] = [];
      for (const d of docs) {
        const e = byOrd.get(d.ord);
        if (!e) { out.push(d); continue; }
        const paras = units(d.text);
        let s = 0;
        const kept: string[] = [];
        paras.forEach((ss, p) => {
          const keepPara = !e.p.has(p);
          const sents = ss.filter(() => !e.s.has(s++));
          if (keepPara && sents.join('').trim()) kept.push(sents.join(''));
        });
        const text = kept.join('\n\n');
        const removed = bytesOf(d.text) - bytesOf(text);
        const c = (r.rules.repeated_units ??= { docs: 0, bytes: 0, examples: [] });
        c.docs += e.p.size + e.s.size; c.bytes += removed;
        if (c.examples.length < 3) c.examples.push(d.text.slice(0, EXAMPLE_CHARS));
        if (text.trim().length < t.minDocChars) { count(r, 'too_short_after_unit_dedup', bytesOf(text), text); continue; }
        out.push({ ...d, text });
      }
      return finish(r, out, t.output);
    }
    case 'minhash': {
      const mh = new MinHasher(t.config);
      const lines = ['band,key,ord'];
      const sets: Uint32Array[] = [];
      for (const d of docs) {
        const sh = shingleSet(d.text, t.config.shingle);
        sets.push(sh);
        mh.bandKeys(mh.signature(sh)).forEach((k, band) => lines.push(`${band},${k},${d.ord}`));
      }
      // side file for exact verification: [row within the shard, count, ...hashes] per document
      const total = sets.reduce((s, x) => s + x.length + 2, 0);
      const buf = new Uint32Array(total);
      let off = 0;
      sets.forEach((s, i) => { buf[off++] = docs[i]!.ord % 2 ** 24; buf[off++] = s.length; buf.set(s, off); off += s.length; });
      writeAtomic(t.shingles, new Uint8Array(buf.buffer));
      writeAtomic(t.keys, lines.join('\n') + '\n');
      return r;
    }
    case 'remove-ords': {
      const drop = new Set(t.drop);
      const out = docs.filter((d) => { if (!drop.has(d.ord)) return true; count(r, t.reason, bytesOf(d.text), d.text); return false; });
      return finish(r, out, t.output);
    }
    case 'weights': {
      const out = docs.map((d) => {
        const sw = t.sourceWeights[d.source] ?? 1;
        // quality shifts the weight by a factor in [0.5, 2]: 2^((q - mean) / scale), clamped
        const qf = d.quality !== undefined && t.qualityMean !== null ? Math.min(2, Math.max(0.5, 2 ** ((d.quality - t.qualityMean) / t.qualityScale))) : 1;
        return { ...d, weight: sw * qf };
      });
      return finish(r, out, t.output);
    }
  }
}
