// Reading documents, streaming, from .jsonl / .jsonl.gz (a "text" field per
// line), .parquet (a "text" column, read row group by row group) and .txt (one
// document per file). The one reader behind `prepare`, `train-tokenizer` and
// the data pipeline. A record that is not valid UTF-8, not JSON, has no string
// "text" or a bad "weight", or lies after a corrupt gzip block, is counted with
// its file, line (or row) and reason and skipped, never silently used.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';

export interface ReadStats { documents: number; bytes: number; skipped: { file: string; line: number; reason: string }[] }

export function newReadStats(): ReadStats {
  return { documents: 0, bytes: 0, skipped: [] };
}

/** Skipped records per reason. */
export function skippedByReason(stats: ReadStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of stats.skipped) out[s.reason] = (out[s.reason] ?? 0) + 1;
  return out;
}

/** A document, where it came from (the record's source field, else the file's name), and its sampling weight if any. */
export interface DocumentRecord { text: string; source: string; weight?: number }

export const INPUT_PATTERN = /\.(jsonl|jsonl\.gz|json\.gz|parquet|txt)$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Default longest line of a .jsonl input (bytes); one document of more is almost surely not text. */
export const MAX_LINE_BYTES = 64 << 20;

/** A line longer than the reader's limit (a binary file, or a file with no newlines). */
export class LineTooLongError extends Error {
  constructor(readonly file: string, readonly line: number, readonly limit: number) {
    super(`${file}:${line}: line longer than ${limit} bytes (the reader's limit, maxLineBytes); is this a JSONL file?`);
    this.name = 'LineTooLongError';
  }
}

/**
 * Lines as raw bytes, so invalid UTF-8 is caught per line. Linear: the pieces of
 * a line that spans chunks are kept as a list and joined once, at its newline
 * (re-copying a growing buffer per chunk made a 16 MB line take seconds).
 */
export async function* byteLines(stream: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>, file = '<stream>', maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let line = 0;
  const check = (n: number) => { if (partBytes + n > maxLineBytes) throw new LineTooLongError(file, line + 1, maxLineBytes); };
  for await (const c of stream) {
    const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    let start = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, i);
      check(piece.length);
      line++;
      yield parts.length ? Buffer.concat([...parts, piece], partBytes + piece.length) : piece;
      parts = [];
      partBytes = 0;
      start = i + 1;
    }
    if (start < chunk.length) {
      const tail = chunk.subarray(start);
      check(tail.length);
      parts.push(tail);
      partBytes += tail.length;
    }
  }
  if (partBytes) yield Buffer.concat(parts, partBytes);
}

function checkWeight(w: unknown): number | undefined | null {
  if (w === undefined || w === null) return undefined;
  return typeof w === 'number' && Number.isFinite(w) && w >= 0 ? w : null;
}

/** Streaming iteration (bounded memory) for large inputs. */
export async function* readDocumentRecords(files: readonly string[], stats: ReadStats = newReadStats(), sourceField = 'source', o: { maxLineBytes?: number; parquetTimeoutMs?: number } = {}): AsyncGenerator<DocumentRecord> {
  const skip = (file: string, line: number, reason: string) => { stats.skipped.push({ file, line, reason }); };
  const accept = (text: string) => { stats.documents++; stats.bytes += Buffer.byteLength(text); };
  for (const file of files) {
    if (!fs.existsSync(file)) throw new Error(`${file}: input not found`);
    if (!INPUT_PATTERN.test(file)) throw new Error(`${file}: unsupported input type (expected .jsonl, .jsonl.gz, .parquet or .txt)`);
    const fallbackSource = path.basename(file).replace(INPUT_PATTERN, '');
    if (file.endsWith('.txt')) {
      let text: string;
      try { text = utf8.decode(fs.readFileSync(file)); } catch { skip(file, 1, 'invalid UTF-8'); continue; }
      accept(text);
      yield { text, source: fallbackSource };
      continue;
    }
    if (file.endsWith('.parquet')) {
      yield* readParquet(file, stats, sourceField, fallbackSource, o.parquetTimeoutMs ?? PARQUET_ROW_GROUP_TIMEOUT_MS);
      continue;
    }
    let input: Readable = fs.createReadStream(file);
    if (file.endsWith('.gz')) input = input.pipe(zlib.createGunzip());
    let lineNo = 0;
    try {
      for await (const raw of byteLines(input as AsyncIterable<Buffer>, file, o.maxLineBytes)) {
        lineNo++;
        let line: string;
        try { line = utf8.decode(raw); } catch { skip(file, lineNo, 'invalid UTF-8'); continue; }
        if (!line.trim()) continue;
        let rec: Record<string, unknown> | null;
        try { rec = JSON.parse(line) as Record<string, unknown> | null; } catch { skip(file, lineNo, 'invalid JSON'); continue; }
        const text = rec?.text;
        if (typeof text !== 'string') { skip(file, lineNo, 'missing text field'); continue; }
        const weight = checkWeight(rec!.weight);
        if (weight === null) { skip(file, lineNo, 'weight is not a non-negative number'); continue; }
        const s = rec![sourceField];
        accept(text);
        yield { text, source: typeof s === 'string' ? s : fallbackSource, ...(weight !== undefined ? { weight } : {}) };
      }
    } catch (e) {
      const err = e as { code?: string; message: string };
      if (err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR' || /incorrect header|unexpected end/.test(err.message)) { skip(file, lineNo + 1, 'corrupt gzip (rest of file skipped)'); continue; }
      throw e;
    }
  }
}

/** Longest a Parquet row group may take to decode before the file is declared corrupt (ms). */
export const PARQUET_ROW_GROUP_TIMEOUT_MS = 120_000;

async function* readParquet(file: string, stats: ReadStats, sourceField: string, fallbackSource: string, timeoutMs: number): AsyncGenerator<DocumentRecord> {
  // decoded in a worker, so a file that sends the decoder into an endless loop is stopped
  const worker = new Worker(new URL('./parquet-worker.js', import.meta.url), { workerData: { file, sourceField } });
  type Msg = { kind: 'meta'; groups: number } | { kind: 'rows'; start: number; rows: Record<string, unknown>[] } | { kind: 'error'; message: string } | { kind: 'done' };
  const next = () => new Promise<Msg>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file}: a Parquet row group took more than ${timeoutMs / 1000} s to decode; the file is corrupt (or raise the limit)`)), timeoutMs);
    const done = () => { clearTimeout(timer); worker.off('message', onMsg); worker.off('error', onErr); };
    const onMsg = (m: Msg) => { done(); resolve(m); };
    const onErr = (e: Error) => { done(); reject(new Error(`${file}: not a readable Parquet file (${e.message})`)); };
    worker.on('message', onMsg);
    worker.on('error', onErr);
  });
  try {
    let m = await next();
    while (m.kind !== 'done') {
      if (m.kind === 'error') throw new Error(`${file}: ${m.message}`);
      if (m.kind === 'rows') {
        let row = m.start;
        for (const r of m.rows) {
          row++;
          if (typeof r.text !== 'string') { stats.skipped.push({ file, line: row, reason: 'missing text field' }); continue; }
          const weight = checkWeight(r.weight);
          if (weight === null) { stats.skipped.push({ file, line: row, reason: 'weight is not a non-negative number' }); continue; }
          stats.documents++;
          stats.bytes += Buffer.byteLength(r.text);
          const s = r.source;
          yield { text: r.text, source: typeof s === 'string' ? s : fallbackSource, ...(weight !== undefined ? { weight } : {}) };
        }
      }
      const reply = next();
      worker.postMessage('next');
      m = await reply;
    }
  } finally {
    await worker.terminate();
  }
}

/** The texts only. */
export async function* readDocuments(files: readonly string[], stats: ReadStats = newReadStats()): AsyncGenerator<string> {
  for await (const r of readDocumentRecords(files, stats)) yield r.text;
}

/** Every document of the inputs, in order (for the tokenizer trainer). */
export async function collectDocuments(files: readonly string[], stats: ReadStats = newReadStats()): Promise<string[]> {
  const out: string[] = [];
  for await (const t of readDocuments(files, stats)) out.push(t);
  return out;
}
