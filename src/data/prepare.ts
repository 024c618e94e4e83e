// `prepare`: documents -> token shards (uint32, EOS after every document)
// with a manifest, tokenised on worker threads. Batches are numbered and
// written in order, so the output is identical for any number of workers.
// Every k-th document goes to the validation split (deterministic). A training
// document with a sampling weight w (the data pipeline's `mix` stage) is
// written floor(w) times plus once more with probability frac(w), decided by a
// hash of its index, so the token stream follows the mix; validation documents
// are written once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadTokenizer } from '../io/tokenizer-file.js';
import { readDocumentRecords, newReadStats, type ReadStats } from './documents.js';
import { sha256, type Manifest, type ShardInfo } from './shards.js';
import { murmur32 } from './pipeline/text.js';
import { writeFileAtomic } from '../engine/atomic-write.js';

export interface PrepareOptions {
  tokenizer: string;
  inputs: string[];
  out: string;
  /** Share of documents held out for validation (default 0.05, at least one document). */
  valFraction?: number;
  shardTokens?: number;
  workers?: number;
  onProgress?: (docs: number) => void;
}

/** A uniform number in [0, 1) from a document index. */
const unitHash = (i: number) => murmur32(String(i)) / 4294967296;

export async function prepare(o: PrepareOptions): Promise<{ manifest: Manifest; stats: ReadStats }> {
  const tokFile = fs.statSync(o.tokenizer).isDirectory() ? path.join(o.tokenizer, 'tokenizer.model') : o.tokenizer;
  const tok = loadTokenizer(tokFile);
  const eos = tok.pieceToId('</s>');
  const every = Math.max(2, Math.round(1 / (o.valFraction ?? 0.05)));
  const shardTokens = o.shardTokens ?? 1 << 24;
  fs.mkdirSync(o.out, { recursive: true });
  const nWorkers = Math.max(1, Math.min(o.workers ?? os.cpus().length, 16));
  const workerUrl = new URL('./tokenize-worker.js', import.meta.url);
  const workers = Array.from({ length: nWorkers }, () => new Worker(workerUrl, { workerData: { tokenizer: tokFile, eos } }));
  const pending = new Map<number, (t: Uint32Array) => void>();
  for (const w of workers) {
    w.on('message', (m: { id: number; tokens: Uint32Array }) => { pending.get(m.id)!(m.tokens); pending.delete(m.id); });
    w.on('error', (e) => { throw e; });
  }
  const splits = { train: { shards: [] as ShardInfo[], buf: [] as Uint32Array[], n: 0, docs: 0, bytes: 0 }, val: { shards: [] as ShardInfo[], buf: [] as Uint32Array[], n: 0, docs: 0, bytes: 0 } };
  const flush = (name: 'train' | 'val', final: boolean) => {
    const s = splits[name];
    while (s.n >= shardTokens || (final && s.n > 0)) {
      const all = new Uint32Array(s.n);
      let off = 0;
      for (const b of s.buf) { all.set(b, off); off += b.length; }
      const take = Math.min(shardTokens, s.n);
      const chunk = all.subarray(0, take);
      const file = `${name}-${String(s.shards.length).padStart(5, '0')}.bin`;
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      writeFileAtomic(path.join(o.out, file), bytes);
      s.shards.push({ file, tokens: take, sha256: sha256(bytes) });
      s.buf = take < all.length ? [all.slice(take)] : [];
      s.n -= take;
    }
  };
  const stats = newReadStats();
  try {
    return await tokenizeAll();
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));  // also when an input fails
  }

  async function tokenizeAll(): Promise<{ manifest: Manifest; stats: ReadStats }> {
  let batchId = 0, docIndex = 0;
  const inflight: Promise<void>[] = [];
  let results = new Map<number, { train: Uint32Array; val: Uint32Array }>();
  let nextToWrite = 0;
  const drain = () => {
    while (results.has(nextToWrite)) {
      const r = results.get(nextToWrite)!;
      results.delete(nextToWrite++);
      for (const name of ['train', 'val'] as const) {
        if (r[name].length) { splits[name].buf.push(r[name]); splits[name].n += r[name].length; }
        flush(name, false);
      }
    }
  };
  const send = (texts: string[], isVal: boolean[]) => {
    const id = batchId++;
    const w = workers[id % nWorkers]!;
    const trainTexts = texts.filter((_, i) => !isVal[i]), valTexts = texts.filter((_, i) => isVal[i]);
    const ask = (t: string[], sub: number) => new Promise<Uint32Array>((resolve) => {
      if (!t.length) { resolve(new Uint32Array(0)); return; }
      pending.set(id * 2 + sub, resolve);
      w.postMessage({ id: id * 2 + sub, texts: t });
    });
    inflight.push(Promise.all([ask(trainTexts, 0), ask(valTexts, 1)]).then(([train, val]) => { results.set(id, { train, val }); drain(); }));
  };
  let batch: string[] = [], isVal: boolean[] = [], batchBytes = 0;
  let weighted = false, sampledTrain = 0;
  for await (const { text, weight } of readDocumentRecords(o.inputs, stats)) {
    const index = docIndex++;
    const v = index % every === every - 1;
    const split = v ? splits.val : splits.train;
    split.docs++;
    split.bytes += Buffer.byteLength(text);
    if (weight !== undefined) weighted = true;
    const copies = v || weight === undefined ? 1 : Math.floor(weight) + (unitHash(index) < weight - Math.floor(weight) ? 1 : 0);
    if (!v) sampledTrain += copies;
    for (let c = 0; c < copies; c++) {
      batch.push(text);
      isVal.push(v);
      batchBytes += text.length;
    }
    if (batchBytes > 1 << 20) {
      send(batch, isVal);
      batch = []; isVal = []; batchBytes = 0;
      if (inflight.length >= 2 * nWorkers) await inflight.shift();
      o.onProgress?.(docIndex);
    }
  }
  if (batch.length) send(batch, isVal);
  await Promise.all(inflight);
  drain();
  flush('train', true);
  flush('val', true);
  results = new Map();
  if (stats.documents === 0) throw new Error('prepare: the inputs hold no documents');
  if (splits.val.docs === 0) throw new Error('prepare: too few documents for a validation split');
  const manifest: Manifest = {
    format: 'baichuan2-ts-shards-v1',
    tokenizer: { file: path.resolve(tokFile), sha256: sha256(fs.readFileSync(tokFile)), vocabSize: tok.vocabSize },
    eosTokenId: eos,
    documents: { train: splits.train.docs, val: splits.val.docs },
    bytes: { train: splits.train.bytes, val: splits.val.bytes },
    train: splits.train.shards,
    val: splits.val.shards,
    ...(weighted ? { sampledTrainDocuments: sampledTrain } : {}),
  };
  const mf = path.join(o.out, 'manifest.json');
  writeFileAtomic(mf, JSON.stringify(manifest, null, 2) + '\n');
  return { manifest, stats };
  }
}
