// Reading training documents from .jsonl (a "text" field per line), .parquet
// (a "text" column, read row group by row group) and .txt (one document per
// file) inputs, streaming. Malformed records are counted and reported with
// their file and line (or row), never silently used.
import fs from 'node:fs';
import readline from 'node:readline';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';

export interface ReadStats { documents: number; bytes: number; skipped: { file: string; line: number; reason: string }[] }

export function newReadStats(): ReadStats {
  return { documents: 0, bytes: 0, skipped: [] };
}

function checkInput(file: string): void {
  if (!fs.existsSync(file)) throw new Error(`${file}: input not found`);
  if (!/\.(jsonl|txt|parquet)$/.test(file)) throw new Error(`${file}: unsupported input type (expected .jsonl, .parquet or .txt)`);
}

/** Synchronous iteration (for small corpora and the tokenizer trainer). */
export function* readDocumentsSync(files: readonly string[], stats: ReadStats = newReadStats()): Generator<string> {
  for (const file of files) {
    checkInput(file);
    if (file.endsWith('.parquet')) throw new Error(`${file}: Parquet is read asynchronously; use readDocuments()`);
    const raw = fs.readFileSync(file, 'utf8');
    if (file.endsWith('.txt')) {
      stats.documents++;
      stats.bytes += Buffer.byteLength(raw);
      yield raw;
      continue;
    }
    const lines = raw.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const t = parseLine(lines[i]!, file, i + 1, stats);
      if (t !== null) yield t;
    }
  }
}

/** A document and its sampling weight (the data pipeline's `weight` field), when it has one. */
export interface DocumentRecord { text: string; weight?: number }

/** Streaming iteration (bounded memory) for large inputs. */
export async function* readDocuments(files: readonly string[], stats: ReadStats = newReadStats()): AsyncGenerator<string> {
  for await (const r of readDocumentRecords(files, stats)) yield r.text;
}

/** Like readDocuments, with each record's sampling weight. */
export async function* readDocumentRecords(files: readonly string[], stats: ReadStats = newReadStats()): AsyncGenerator<DocumentRecord> {
  for (const file of files) {
    checkInput(file);
    if (file.endsWith('.txt')) {
      const raw = fs.readFileSync(file, 'utf8');
      stats.documents++;
      stats.bytes += Buffer.byteLength(raw);
      yield { text: raw };
      continue;
    }
    if (file.endsWith('.parquet')) {
      yield* readParquet(file, stats);
      continue;
    }
    const rl = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
    let n = 0;
    for await (const line of rl) {
      const r = parseRecord(line, file, ++n, stats);
      if (r !== null) yield r;
    }
  }
}

function parseLine(line: string, file: string, lineNo: number, stats: ReadStats): string | null {
  return parseRecord(line, file, lineNo, stats)?.text ?? null;
}

function parseRecord(line: string, file: string, lineNo: number, stats: ReadStats): DocumentRecord | null {
  if (!line.trim()) return null;
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    stats.skipped.push({ file, line: lineNo, reason: 'invalid JSON' });
    return null;
  }
  const t = (rec as { text?: unknown }).text;
  if (typeof t !== 'string') {
    stats.skipped.push({ file, line: lineNo, reason: 'no string "text" field' });
    return null;
  }
  const w = (rec as { weight?: unknown }).weight;
  if (w !== undefined && !(typeof w === 'number' && Number.isFinite(w) && w >= 0)) {
    stats.skipped.push({ file, line: lineNo, reason: '"weight" is not a non-negative number' });
    return null;
  }
  stats.documents++;
  stats.bytes += Buffer.byteLength(t);
  return w === undefined ? { text: t } : { text: t, weight: w };
}

async function* readParquet(file: string, stats: ReadStats): AsyncGenerator<DocumentRecord> {
  let buf;
  let meta;
  try {
    buf = await asyncBufferFromFile(file);
    meta = await parquetMetadataAsync(buf);
  } catch (e) {
    throw new Error(`${file}: not a readable Parquet file (${(e as Error).message})`);
  }
  const hasText = meta.schema.some((el) => el.name === 'text');
  if (!hasText) throw new Error(`${file}: Parquet file has no "text" column`);
  const hasWeight = meta.schema.some((el) => el.name === 'weight');
  let row = 0;
  for (const rg of meta.row_groups) {
    const n = Number(rg.num_rows);
    const rows = await parquetReadObjects({ file: buf, metadata: meta, columns: hasWeight ? ['text', 'weight'] : ['text'], rowStart: row, rowEnd: row + n });
    for (const r of rows) {
      row++;
      const t = (r as { text?: unknown }).text;
      if (typeof t !== 'string') { stats.skipped.push({ file, line: row, reason: 'null or non-string "text"' }); continue; }
      stats.documents++;
      stats.bytes += Buffer.byteLength(t);
      const w = (r as { weight?: unknown }).weight;
      yield typeof w === 'number' && Number.isFinite(w) && w >= 0 ? { text: t, weight: w } : { text: t };
    }
  }
}

/** Every document of the inputs, in order (for the tokenizer trainer). */
export async function collectDocuments(files: readonly string[], stats: ReadStats = newReadStats()): Promise<string[]> {
  const out: string[] = [];
  for await (const t of readDocuments(files, stats)) out.push(t);
  return out;
}
