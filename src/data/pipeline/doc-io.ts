// Documents in and out of the pipeline. Inputs: .jsonl, .jsonl.gz, .parquet
// and .txt, read as a stream; a line that is not valid UTF-8, not JSON, or has
// no string "text" is counted (with file, line and reason) and skipped, never
// fatal. Shards: JSONL (default) or Parquet files of at most `shardDocs`
// documents, each written to a temporary name and renamed, so a shard file
// either exists complete or not at all.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';

/** One document as it flows through the stages. `ord` is its global position (keep-first order). */
export interface Doc {
  ord: number;
  text: string;
  source: string;
  /** Quality score (mean log2 probability per character) once scored. */
  quality?: number;
  /** Sampling weight once mixed. */
  weight?: number;
}

export interface Malformed { file: string; line: number; reason: string }

export interface IngestStats { documents: number; bytes: number; malformed: Malformed[]; malformedCount: Record<string, number> }

export function newIngestStats(): IngestStats {
  return { documents: 0, bytes: 0, malformed: [], malformedCount: {} };
}

function bad(stats: IngestStats, file: string, line: number, reason: string): void {
  stats.malformedCount[reason] = (stats.malformedCount[reason] ?? 0) + 1;
  if (stats.malformed.length < 100) stats.malformed.push({ file, line, reason });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Raw lines as bytes (so invalid UTF-8 can be detected per line). */
async function* byteLines(stream: Readable): AsyncGenerator<Buffer> {
  let rest = Buffer.alloc(0);
  for await (const chunk of stream) {
    let buf = rest.length ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (let i = buf.indexOf(10, start); i >= 0; i = buf.indexOf(10, start)) {
      yield buf.subarray(start, i);
      start = i + 1;
    }
    rest = Buffer.from(buf.subarray(start));
    buf = rest;
  }
  if (rest.length) yield rest;
}

export const INPUT_PATTERN = /\.(jsonl|jsonl\.gz|json\.gz|parquet|txt)$/;

/** Documents of the inputs in order: { text, source } with source = the record's "source" field, else the file name. */
export async function* readInputs(files: readonly string[], stats: IngestStats, sourceField = 'source'): AsyncGenerator<{ text: string; source: string }> {
  for (const file of files) {
    if (!fs.existsSync(file)) throw new Error(`${file}: input not found`);
    if (!INPUT_PATTERN.test(file)) throw new Error(`${file}: unsupported input (expected .jsonl, .jsonl.gz, .parquet or .txt)`);
    const fallback = path.basename(file).replace(INPUT_PATTERN, '');
    if (file.endsWith('.txt')) {
      const b = fs.readFileSync(file);
      let text: string;
      try { text = utf8.decode(b); } catch { bad(stats, file, 1, 'invalid UTF-8'); continue; }
      stats.documents++; stats.bytes += b.length;
      yield { text, source: fallback };
      continue;
    }
    if (file.endsWith('.parquet')) {
      const buf = await asyncBufferFromFile(file);
      let meta;
      try { meta = await parquetMetadataAsync(buf); } catch (e) { throw new Error(`${file}: not a readable Parquet file (${(e as Error).message})`); }
      if (!meta.schema.some((el) => el.name === 'text')) throw new Error(`${file}: Parquet file has no "text" column`);
      const hasSource = meta.schema.some((el) => el.name === sourceField);
      let row = 0;
      for (const rg of meta.row_groups) {
        const n = Number(rg.num_rows);
        const rows = await parquetReadObjects({ file: buf, metadata: meta, columns: hasSource ? ['text', sourceField] : ['text'], rowStart: row, rowEnd: row + n });
        for (const r of rows as Record<string, unknown>[]) {
          row++;
          if (typeof r.text !== 'string') { bad(stats, file, row, 'missing text field'); continue; }
          stats.documents++; stats.bytes += Buffer.byteLength(r.text);
          yield { text: r.text, source: typeof r[sourceField] === 'string' ? (r[sourceField] as string) : fallback };
        }
      }
      continue;
    }
    let input: Readable = fs.createReadStream(file);
    if (file.endsWith('.gz')) input = input.pipe(zlib.createGunzip());
    let lineNo = 0;
    try {
      for await (const raw of byteLines(input)) {
        lineNo++;
        if (raw.length === 0 || (raw.length === 1 && raw[0] === 13)) continue;
        let line: string;
        try { line = utf8.decode(raw); } catch { bad(stats, file, lineNo, 'invalid UTF-8'); continue; }
        let rec: unknown;
        try { rec = JSON.parse(line); } catch { bad(stats, file, lineNo, 'invalid JSON'); continue; }
        const t = (rec as Record<string, unknown> | null)?.text;
        if (typeof t !== 'string') { bad(stats, file, lineNo, 'missing text field'); continue; }
        const s = (rec as Record<string, unknown>)[sourceField];
        stats.documents++; stats.bytes += Buffer.byteLength(t);
        yield { text: t, source: typeof s === 'string' ? s : fallback };
      }
    } catch (e) {
      if ((e as { code?: string }).code === 'Z_DATA_ERROR' || /incorrect header|unexpected end/.test((e as Error).message)) { bad(stats, file, lineNo + 1, 'corrupt gzip (rest of file skipped)'); continue; }
      throw e;
    }
  }
}

export type ShardFormat = 'jsonl' | 'parquet';

export function shardName(i: number, format: ShardFormat): string {
  return `part-${String(i).padStart(5, '0')}.${format}`;
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

export function writeShard(file: string, docs: readonly Doc[]): void {
  if (file.endsWith('.parquet')) {
    const has = (k: keyof Doc) => docs.some((d) => d[k] !== undefined);
    const columnData = [
      { name: 'ord', data: docs.map((d) => d.ord), type: 'DOUBLE' as const },
      { name: 'text', data: docs.map((d) => d.text), type: 'STRING' as const },
      { name: 'source', data: docs.map((d) => d.source), type: 'STRING' as const },
      ...(has('quality') ? [{ name: 'quality', data: docs.map((d) => d.quality ?? null), type: 'DOUBLE' as const }] : []),
      ...(has('weight') ? [{ name: 'weight', data: docs.map((d) => d.weight ?? null), type: 'DOUBLE' as const }] : []),
    ];
    writeAtomic(file, new Uint8Array(parquetWriteBuffer({ columnData })));
    return;
  }
  writeAtomic(file, docs.map((d) => JSON.stringify(d)).join('\n') + (docs.length ? '\n' : ''));
}

export async function readShard(file: string): Promise<Doc[]> {
  if (file.endsWith('.parquet')) {
    const buf = await asyncBufferFromFile(file);
    const rows = (await parquetReadObjects({ file: buf })) as Record<string, unknown>[];
    return rows.map((r) => ({
      ord: Number(r.ord), text: r.text as string, source: r.source as string,
      ...(r.quality !== undefined && r.quality !== null ? { quality: Number(r.quality) } : {}),
      ...(r.weight !== undefined && r.weight !== null ? { weight: Number(r.weight) } : {}),
    }));
  }
  const raw = fs.readFileSync(file, 'utf8');
  return raw.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Doc);
}

export function listShards(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => /^part-\d{5}\.(jsonl|parquet)$/.test(f)).sort().map((f) => path.join(dir, f));
}
