// Finding and reading benchmark files as published: a task accepts its own
// folder or the parent folder of all benchmarks, and reads .jsonl(.gz),
// .json, .csv and zipped CSV without reformatting.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { ZipReader } from '../../io/zip.js';
import { parseCsvRecords } from '../csv.js';

/** `data` itself when `probe` exists inside it, else `data/folder` when it does there. */
export function resolveData(data: string, folder: string, probe: string): string {
  for (const dir of [data, path.join(data, folder)]) if (fs.existsSync(path.join(dir, probe))) return dir;
  throw new Error(`${folder}: cannot find ${probe} under ${data} or ${path.join(data, folder)}`);
}

export function readText(file: string): string {
  const buf = fs.readFileSync(file);
  return (file.endsWith('.gz') ? zlib.gunzipSync(buf) : buf).toString('utf8');
}

/** JSON lines; a bad line is an error that names the file and line. */
export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  return readText(file).split('\n').flatMap((line, i) => {
    if (!line.trim()) return [];
    try { return [JSON.parse(line) as T]; } catch (e) { throw new SyntaxError(`${file}:${i + 1}: ${(e as Error).message}`); }
  });
}

export function readJson<T>(file: string): T {
  try { return JSON.parse(readText(file)) as T; } catch (e) { throw new SyntaxError(`${file}: ${(e as Error).message}`); }
}

export function readCsv(file: string): Record<string, string>[] {
  return parseCsvRecords(readText(file), file);
}

/** CSV files inside a zip (C-Eval's ceval-exam.zip), by entry name. */
export function readZippedCsvs(zipFile: string, prefix: string): Map<string, Record<string, string>[]> {
  const zip = new ZipReader(zipFile);
  try {
    const out = new Map<string, Record<string, string>[]>();
    for (const name of [...zip.entries.keys()].sort())
      if (name.startsWith(prefix) && name.endsWith('.csv')) out.set(name, parseCsvRecords(Buffer.from(zip.readEntry(name)).toString('utf8'), `${zipFile}:${name}`));
    return out;
  } finally {
    zip.close();
  }
}

export function listFiles(dir: string, ext: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith(ext)).sort().map((f) => path.join(dir, f));
}
