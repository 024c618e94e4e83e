// The pipeline's documents and shards (its inputs are read by
// src/data/documents.ts). Shards: JSONL (default) or Parquet files of at most
// `shard_docs` documents, each written to a temporary name and renamed, so a shard file
// either exists complete or not at all.
import fs from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { writeFileAtomic } from '../../engine/atomic-write.js';

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

export type ShardFormat = 'jsonl' | 'parquet';

export function shardName(i: number, format: ShardFormat): string {
  return `part-${String(i).padStart(5, '0')}.${format}`;
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
    writeFileAtomic(file, new Uint8Array(parquetWriteBuffer({ columnData })));
    return;
  }
  writeFileAtomic(file, docs.map((d) => JSON.stringify(d)).join('\n') + (docs.length ? '\n' : ''));
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
