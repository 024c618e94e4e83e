// The global steps (grouping hashes across all shards, grouping LSH buckets)
// run in DuckDB over the key files the shard tasks wrote: it spills to disk
// when a grouping does not fit in its memory limit, so these steps stay
// bounded in memory however large the corpus. Each function returns only the
// (small) answer: which items to drop.
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

export interface DuckOptions { memoryLimit: string; threads: number; tempDir: string }

async function withDuck<T>(o: DuckOptions, fn: (query: (sql: string) => Promise<Record<string, unknown>[]>) => Promise<T>): Promise<T> {
  fs.mkdirSync(o.tempDir, { recursive: true });
  const inst = await DuckDBInstance.create(':memory:', { memory_limit: o.memoryLimit, threads: String(o.threads), temp_directory: o.tempDir });
  const con = await inst.connect();
  try {
    return await fn(async (sql) => (await con.runAndReadAll(sql)).getRowObjects() as Record<string, unknown>[]);
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

const quote = (p: string) => `'${p.replaceAll("'", "''")}'`;
const glob = (dir: string) => quote(path.join(dir, '*.csv'));

/** Documents whose normalised-text hash occurred at a smaller ordinal: the later copies. */
export function exactDuplicateOrds(keysDir: string, o: DuckOptions): Promise<number[]> {
  return withDuck(o, async (q) => {
    const rows = await q(`select k.ord as ord from read_csv(${glob(keysDir)}, header = true, columns = {'h': 'VARCHAR', 'ord': 'BIGINT'}) k
      join (select h, min(ord) as first from read_csv(${glob(keysDir)}, header = true, columns = {'h': 'VARCHAR', 'ord': 'BIGINT'}) group by h) g
      on k.h = g.h where k.ord <> g.first order by k.ord`);
    return rows.map((r) => Number(r.ord));
  });
}

/**
 * Paragraphs and sentences whose normalised hash occurred earlier (in a smaller ordinal, or
 * earlier in the same document): [ord, 'p' | 's', unit index] for each later occurrence.
 */
export function repeatedUnits(keysDir: string, o: DuckOptions): Promise<[number, string, number][]> {
  return withDuck(o, async (q) => {
    const src = `read_csv(${glob(keysDir)}, header = true, columns = {'h': 'VARCHAR', 'ord': 'BIGINT', 'unit': 'INTEGER'})`;
    const rows = await q(`select ord, substr(h, 1, 1) as kind, unit from (
        select h, ord, unit, row_number() over (partition by h order by ord, unit) as rn from ${src}) where rn > 1 order by ord, kind, unit`);
    return rows.map((r) => [Number(r.ord), String(r.kind), Number(r.unit)] as [number, string, number]);
  });
}

/** Candidate pairs from LSH buckets: each bucket member paired with the bucket's smallest ordinal (a star, not a clique). */
export function lshCandidatePairs(keysDir: string, o: DuckOptions): Promise<[number, number][]> {
  return withDuck(o, async (q) => {
    const src = `read_csv(${glob(keysDir)}, header = true, columns = {'band': 'INTEGER', 'key': 'BIGINT', 'ord': 'BIGINT'})`;
    const rows = await q(`with b as (select * from ${src}),
        m as (select band, key, min(ord) as first from b group by band, key having count(*) > 1)
      select distinct m.first as a, b.ord as b from m join b on m.band = b.band and m.key = b.key where b.ord <> m.first order by a, b`);
    return rows.map((r) => [Number(r.a), Number(r.b)] as [number, number]);
  });
}
