// The pipeline, in the paper's order (SPEC §2): ingest → exact dedup →
// heuristic filters → sentence-level quality filter → sentence/paragraph
// dedup → document-level near dedup (MinHash + LSH) → mixing weights. Each
// stage reads the previous stage's shards and writes its own under
// <out>/stages/NN-name/; a shard's output and its counts are written
// atomically, and a finished stage leaves _stage.json, so a killed run
// resumes at the stage and shard where it stopped and produces the same
// output. Global steps (hash grouping, LSH buckets) run in DuckDB.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listShards, shardName, type Doc } from './doc-io.js';
import { writeFileAtomic } from '../../engine/atomic-write.js';
import { collectDocuments, newReadStats, readDocumentRecords, skippedByReason } from '../documents.js';
import type { PipelineConfig, StageName } from './config.js';
import { runShardTasks } from './pool.js';
import { writeCountedShard, type ShardResult, type ShardTask } from './shard-tasks.js';
import { exactDuplicateOrds, lshCandidatePairs, repeatedUnits, type DuckOptions } from './duck.js';
import { CharTrigramScorer, referenceThreshold } from './quality.js';
import { ModelSentenceScorer } from './model-scorer.js';
import { Components, jaccard } from './minhash.js';

export interface StageReport {
  stage: string;
  docsIn: number; docsOut: number; bytesIn: number; bytesOut: number;
  rules: Record<string, { docs: number; bytes: number; examples: string[] }>;
  seconds: number;
  extra?: Record<string, unknown>;
}

export interface PipelineResult { stages: StageReport[]; finalDir: string; shards: string[] }

export type Log = (msg: string) => void;
export type ShardProgress = (stage: string, done: number, total: number) => void;

// ord = shard * 2^24 + row: the global keep-first order, unique up to 16M docs per shard
const ORD_SHARD = 2 ** 24;

const STAGE_DIRS: Record<StageName | 'ingest', string> = { ingest: '00-ingest', exact: '01-exact', filter: '02-filter', quality: '03-quality', units: '04-units', near: '05-near', mix: '06-mix' };

function stageDone(dir: string): StageReport | null {
  const f = path.join(dir, '_stage.json');
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as StageReport) : null;
}

function markDone(dir: string, r: StageReport): void {
  const f = path.join(dir, '_stage.json');
  writeFileAtomic(f, JSON.stringify(r, null, 1));
}

/** A shard's counts, saved beside it once the shard is complete (resume skips shards that have them). */
function saveStats(output: string, r: ShardResult): void {
  const f = output + '.stats.json';
  writeFileAtomic(f, JSON.stringify(r));
}

function loadStats(output: string): ShardResult | null {
  const f = output + '.stats.json';
  return fs.existsSync(f) && fs.existsSync(output) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as ShardResult) : null;
}

async function ingest(c: PipelineConfig, dir: string, log: Log): Promise<StageReport> {
  const t0 = performance.now();
  fs.rmSync(dir, { recursive: true, force: true });  // ingest restarts from scratch when it did not finish
  fs.mkdirSync(dir, { recursive: true });
  const stats = newReadStats();
  let shard = 0;
  let buf: Doc[] = [];
  const flush = () => {
    if (!buf.length) return;
    const file = path.join(dir, shardName(shard, c.format));
    saveStats(file, writeCountedShard(file, buf));
    shard++;
    buf = [];
  };
  for await (const d of readDocumentRecords(c.inputs, stats, c.source_field)) {
    buf.push({ ord: shard * ORD_SHARD + buf.length, text: d.text, source: d.source });
    if (buf.length >= c.shard_docs) flush();
  }
  flush();
  const byReason = skippedByReason(stats);
  const malformed = stats.skipped.length;
  log(`ingest: ${stats.documents} documents, ${(stats.bytes / 1e6).toFixed(1)} MB in ${shard} shards${malformed ? `; ${malformed} malformed records skipped (${JSON.stringify(byReason)})` : ''}`);
  const rules = Object.fromEntries(Object.entries(byReason).map(([k, v]) => [`malformed: ${k}`, { docs: v, bytes: 0, examples: stats.skipped.filter((m) => m.reason === k).slice(0, 3).map((m) => `${m.file}:${m.line}`) }]));
  return { stage: 'ingest', docsIn: stats.documents + malformed, docsOut: stats.documents, bytesIn: stats.bytes, bytesOut: stats.bytes, rules, seconds: (performance.now() - t0) / 1000, extra: { malformed: stats.skipped.slice(0, 100) } };
}

/** Run per-shard tasks, skipping shards whose output and counts already exist. */
async function mapShards(stage: string, inputs: string[], make: (input: string, i: number) => ShardTask, outputOf: (input: string, i: number) => string, c: PipelineConfig, progress?: ShardProgress): Promise<ShardResult[]> {
  const results = new Array<ShardResult>(inputs.length);
  const todo: number[] = [];
  inputs.forEach((inp, i) => {
    const saved = loadStats(outputOf(inp, i));
    if (saved) results[i] = saved; else todo.push(i);
  });
  let done = inputs.length - todo.length;
  const tasks = todo.map((i) => make(inputs[i]!, i));
  await runShardTasks(tasks, {
    workers: c.workers,
    onResult: (j, res) => {
      // counts are saved as each shard finishes, so a killed run redoes only unfinished shards
      const i = todo[j]!;
      results[i] = res;
      saveStats(outputOf(inputs[i]!, i), res);
      progress?.(stage, ++done, inputs.length);
      faultInjection(stage, done);
    },
  });
  return results;
}

/**
 * Test hook: BAICHUAN2_DATA_KILL_AT='<stage label>:<n>' kills this process with SIGKILL once n shards of
 * that step are finished, so the resume test interrupts at a known point instead of racing a timer.
 */
function faultInjection(stage: string, done: number): void {
  const spec = process.env.BAICHUAN2_DATA_KILL_AT;
  if (spec && spec === `${stage}:${done}`) process.kill(process.pid, 'SIGKILL');
}

function summarize(stage: string, results: ShardResult[], t0: number, extra?: Record<string, unknown>): StageReport {
  const r: StageReport = { stage, docsIn: 0, docsOut: 0, bytesIn: 0, bytesOut: 0, rules: {}, seconds: (performance.now() - t0) / 1000, extra };
  for (const s of results) {
    r.docsIn += s.docsIn; r.docsOut += s.docsOut; r.bytesIn += s.bytesIn; r.bytesOut += s.bytesOut;
    for (const [k, v] of Object.entries(s.rules)) {
      const e = (r.rules[k] ??= { docs: 0, bytes: 0, examples: [] });
      e.docs += v.docs; e.bytes += v.bytes;
      for (const x of v.examples) if (e.examples.length < 3) e.examples.push(x);
    }
  }
  return r;
}

const shardOf = (ord: number) => Math.floor(ord / ORD_SHARD);

function groupByShard<T>(items: T[], ordOf: (t: T) => number, nShards: number): T[][] {
  const out = Array.from({ length: nShards }, () => [] as T[]);
  for (const it of items) out[shardOf(ordOf(it))]!.push(it);
  return out;
}

async function readReference(files: string[]): Promise<string[]> {
  const texts = await collectDocuments(files);
  if (!texts.length) throw new Error(`quality: the reference files ${files.join(', ')} hold no documents`);
  return texts;
}

export async function runPipeline(c: PipelineConfig, o: { log?: Log; progress?: ShardProgress } = {}): Promise<PipelineResult> {
  const log = o.log ?? (() => {});
  fs.mkdirSync(c.out, { recursive: true });
  const stagesDir = path.join(c.out, 'stages');
  const duck = (name: string): DuckOptions => ({ memoryLimit: c.memory_limit, threads: c.workers ?? os.availableParallelism(), tempDir: path.join(c.out, 'tmp', name) });
  const reports: StageReport[] = [];

  const ingestDir = path.join(stagesDir, STAGE_DIRS.ingest);
  const doneIngest = stageDone(ingestDir);
  if (doneIngest) { reports.push(doneIngest); log('ingest: done earlier'); }
  else { const r = await ingest(c, ingestDir, log); markDone(ingestDir, r); reports.push(r); }

  let inputs = listShards(ingestDir);
  const order = (['exact', 'filter', 'quality', 'units', 'near', 'mix'] as const).filter((s) => c.stages.includes(s));
  for (const stage of order) {
    const dir = path.join(stagesDir, STAGE_DIRS[stage]);
    const keysDir = path.join(dir, 'keys');
    const prev = stageDone(dir);
    if (prev) { reports.push(prev); inputs = listShards(dir); log(`${stage}: done earlier`); continue; }
    fs.mkdirSync(keysDir, { recursive: true });
    const t0 = performance.now();
    const out = (inp: string) => path.join(dir, path.basename(inp));
    const keyFile = (inp: string) => path.join(keysDir, path.basename(inp).replace(/\.(jsonl|parquet)$/, '.csv'));
    let report: StageReport;
    switch (stage) {
      case 'exact': {
        await mapShards('exact: hashing', inputs, (input) => ({ kind: 'exact-keys', input, keys: keyFile(input) }), keyFile, c, o.progress);
        const drop = await exactDuplicateOrds(keysDir, duck(stage));
        const byShard = groupByShard(drop, (x) => x, inputs.length ? 1 + Math.max(...inputs.map(shardIndex)) : 0);
        const res = await mapShards('exact: removing', inputs, (input) => ({ kind: 'remove-ords', input, output: out(input), drop: byShard[shardIndex(input)] ?? [], reason: 'exact_duplicate' }), out, c, o.progress);
        report = summarize('exact dedup', res, t0);
        break;
      }
      case 'filter': {
        const res = await mapShards('filter', inputs, (input) => ({ kind: 'filter', input, output: out(input), filters: c.filter }), out, c, o.progress);
        report = summarize('heuristic filters', res, t0);
        break;
      }
      case 'quality': {
        const scorerFile = path.join(dir, 'scorer.json');
        const model = typeof c.quality.scorer === 'object' ? c.quality.scorer : undefined;
        let threshold: number;
        const calib = path.join(dir, 'threshold.json');
        if (fs.existsSync(calib) && fs.existsSync(scorerFile)) threshold = (JSON.parse(fs.readFileSync(calib, 'utf8')) as { threshold: number }).threshold;
        else {
          const ref = await readReference(c.quality.reference);
          // calibrate on reference documents the trigram model did not see (every 5th): scored
          // in-sample, its own training text looks better than any new text and the threshold is too high
          const heldOut = ref.length >= 5 ? ref.filter((_, i) => i % 5 === 4) : ref;
          const trigram = CharTrigramScorer.train(ref.length >= 5 ? ref.filter((_, i) => i % 5 !== 4) : ref);
          const scorer = model ? ModelSentenceScorer.load(model.model, model.tokenizer) : trigram;
          threshold = referenceThreshold(scorer, model ? ref : heldOut, c.quality.threshold_quantile, c.quality.min_sentence_chars);
          trigram.save(scorerFile);
          fs.writeFileSync(calib, JSON.stringify({ threshold, quantile: c.quality.threshold_quantile, referenceDocs: ref.length, scorer: model ?? 'char-trigram' }));
        }
        log(`quality: ${model ? `model ${model.model}` : 'char-trigram'} scorer, threshold ${threshold.toFixed(3)} bits/char (the ${c.quality.threshold_quantile} quantile of the reference's sentences)`);
        // a model scorer holds a model per worker: one worker keeps memory to one copy
        const cq = model ? { ...c, workers: 1 } : c;
        const res = await mapShards('quality', inputs, (input) => ({ kind: 'quality', input, output: out(input), scorerFile, threshold, minSentenceChars: c.quality.min_sentence_chars, minDocChars: c.quality.min_doc_chars, model }), out, cq, o.progress);
        report = summarize('sentence quality', res, t0, { threshold });
        break;
      }
      case 'units': {
        await mapShards('units: hashing', inputs, (input) => ({ kind: 'unit-keys', input, keys: keyFile(input), minChars: c.units.min_chars }), keyFile, c, o.progress);
        const drops = await repeatedUnits(keysDir, duck(stage));
        const byShard = groupByShard(drops, (d) => d[0], inputs.length ? 1 + Math.max(...inputs.map(shardIndex)) : 0);
        const res = await mapShards('units: removing', inputs, (input) => ({ kind: 'unit-remove', input, output: out(input), drops: byShard[shardIndex(input)] ?? [], minDocChars: c.units.min_doc_chars }), out, c, o.progress);
        report = summarize('sentence/paragraph dedup', res, t0, { repeatedUnits: drops.length });
        break;
      }
      case 'near': {
        const shDir = path.join(dir, 'shingles');
        fs.mkdirSync(shDir, { recursive: true });
        const shFile = (inp: string) => path.join(shDir, path.basename(inp).replace(/\.(jsonl|parquet)$/, '.u32'));
        await mapShards('near: minhash', inputs, (input) => ({ kind: 'minhash', input, keys: keyFile(input), shingles: shFile(input), config: c.near }), keyFile, c, o.progress);
        const pairs = await lshCandidatePairs(keysDir, duck(stage));
        const sets = new ShingleSets(inputs.map(shFile));
        const comps = new Components();
        let verified = 0;
        for (const [a, b] of pairs) if (jaccard(sets.get(a), sets.get(b)) >= c.near.threshold) { comps.union(a, b); verified++; }
        const drop = comps.nonRepresentatives();
        log(`near: ${pairs.length} candidate pairs, ${verified} at Jaccard >= ${c.near.threshold}, ${drop.length} documents removed`);
        const byShard = groupByShard(drop, (x) => x, inputs.length ? 1 + Math.max(...inputs.map(shardIndex)) : 0);
        const res = await mapShards('near: removing', inputs, (input) => ({ kind: 'remove-ords', input, output: out(input), drop: byShard[shardIndex(input)] ?? [], reason: 'near_duplicate' }), out, c, o.progress);
        report = summarize('document near dedup', res, t0, { candidatePairs: pairs.length, verifiedPairs: verified });
        break;
      }
      case 'mix': {
        const weights = mixWeights(inputs.map((f) => loadStats(f)!), c);
        const res = await mapShards('mix', inputs, (input) => ({ kind: 'weights', input, output: out(input), sourceWeights: weights.sourceWeights, qualityMean: weights.qualityMean, qualityScale: c.mix.quality_scale }), out, c, o.progress);
        report = summarize('mixing', res, t0, { ...weights });
        fs.writeFileSync(path.join(c.out, 'mix.json'), JSON.stringify(weights, null, 2) + '\n');
        break;
      }
    }
    fs.rmSync(path.join(c.out, 'tmp'), { recursive: true, force: true });
    markDone(dir, report);
    reports.push(report);
    log(`${report.stage}: ${report.docsIn} -> ${report.docsOut} documents, ${(report.bytesIn / 1e6).toFixed(2)} -> ${(report.bytesOut / 1e6).toFixed(2)} MB in ${report.seconds.toFixed(1)} s`);
    inputs = listShards(dir);
  }
  const finalDir = inputs.length ? path.dirname(inputs[0]!) : ingestDir;
  return { stages: reports, finalDir, shards: inputs };
}

function shardIndex(file: string): number {
  return Number(/part-(\d{5})\./.exec(path.basename(file))![1]);
}

/** Random access to the shingle sets written by the minhash tasks ([row, n, ...hashes] per document), a few shards cached. */
class ShingleSets {
  private cache = new Map<number, Map<number, Uint32Array>>();
  constructor(private readonly files: string[]) {}
  get(ord: number): Uint32Array {
    const s = shardOf(ord);
    let sets = this.cache.get(s);
    if (!sets) {
      if (this.cache.size >= 8) this.cache.delete(this.cache.keys().next().value!);  // bounded memory
      const file = this.files.find((f) => shardIndex(f) === s);
      if (!file) throw new Error(`near: no shingle file for shard ${s}`);
      const b = fs.readFileSync(file);
      const u = new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      sets = new Map();
      for (let off = 0; off < u.length;) { const row = u[off]!, n = u[off + 1]!; sets.set(row, u.subarray(off + 2, off + 2 + n)); off += n + 2; }
      this.cache.set(s, sets);
    }
    const set = sets.get(ord % ORD_SHARD);
    if (!set) throw new Error(`near: document ${ord} has no shingle set`);
    return set;
  }
}

export interface MixWeights {
  categories: Record<string, { bytes: number; share: number; target: number; weight: number }>;
  sourceWeights: Record<string, number>;
  qualityMean: number | null;
}

/**
 * Category weights w_c = target_c / share_c (natural share when no target), so the sampled stream has the
 * target mix. Computed from the counts the previous stage saved per shard (bytes per source, quality sums).
 */
function mixWeights(prev: (ShardResult | null)[], c: PipelineConfig): MixWeights {
  if (prev.some((r) => r === null)) throw new Error('mix: the previous stage left a shard without its counts; delete its folder and run again');
  const catOf = (source: string) => Object.entries(c.mix.categories).find(([, re]) => new RegExp(re).test(source))?.[0] ?? source;
  const bytes = new Map<string, number>();
  const sourceCat = new Map<string, string>();
  let qSum = 0, qBytes = 0;
  for (const r of prev as ShardResult[]) {
    for (const [source, b] of Object.entries(r.sourceBytes)) {
      const cat = catOf(source);
      sourceCat.set(source, cat);
      bytes.set(cat, (bytes.get(cat) ?? 0) + b);
    }
    qSum += r.qualitySum;
    qBytes += r.qualityBytes;
  }
  const total = [...bytes.values()].reduce((a, b) => a + b, 0) || 1;
  const targets = c.mix.weights;
  const targetTotal = Object.keys(targets).length ? [...bytes.keys()].reduce((s, k) => s + (targets[k] ?? 0), 0) : 0;
  for (const k of Object.keys(targets)) {
    if (bytes.has(k)) continue;
    const cats = [...bytes.keys()];
    throw new Error(`mix: category '${k}' has no documents; the ${cats.length} categories are ${cats.slice(0, 8).join(', ')}${cats.length > 8 ? ', …' : ''} ` +
      `(a category is the first mix.categories regex matching a document's source, else the source itself; set source_field to the field that names it)`);
  }
  const categories: MixWeights['categories'] = {};
  for (const [k, b] of bytes) {
    const share = b / total;
    const target = targetTotal > 0 ? (targets[k] ?? 0) / targetTotal : share;
    categories[k] = { bytes: b, share, target, weight: share > 0 ? target / share : 0 };
  }
  const sourceWeights = Object.fromEntries([...sourceCat].map(([s, cat]) => [s, categories[cat]!.weight]));
  return { categories, sourceWeights, qualityMean: qBytes > 0 ? qSum / qBytes : null };
}
