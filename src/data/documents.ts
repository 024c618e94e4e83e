// Reading training documents from .jsonl (a "text" field per line) and .txt
// (one document per file) inputs, streaming. Malformed lines are counted and
// reported with their file and line, never silently used.
import fs from 'node:fs';
import readline from 'node:readline';

export interface ReadStats { documents: number; bytes: number; skipped: { file: string; line: number; reason: string }[] }

export function newReadStats(): ReadStats {
  return { documents: 0, bytes: 0, skipped: [] };
}

function checkInput(file: string): void {
  if (!fs.existsSync(file)) throw new Error(`${file}: input not found`);
  if (!/\.(jsonl|txt)$/.test(file)) throw new Error(`${file}: unsupported input type (expected .jsonl or .txt)`);
}

/** Synchronous iteration (for small corpora and the tokenizer trainer). */
export function* readDocumentsSync(files: readonly string[], stats: ReadStats = newReadStats()): Generator<string> {
  for (const file of files) {
    checkInput(file);
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

/** Streaming iteration (bounded memory) for large inputs. */
export async function* readDocuments(files: readonly string[], stats: ReadStats = newReadStats()): AsyncGenerator<string> {
  for (const file of files) {
    checkInput(file);
    if (file.endsWith('.txt')) {
      const raw = fs.readFileSync(file, 'utf8');
      stats.documents++;
      stats.bytes += Buffer.byteLength(raw);
      yield raw;
      continue;
    }
    const rl = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
    let n = 0;
    for await (const line of rl) {
      const t = parseLine(line, file, ++n, stats);
      if (t !== null) yield t;
    }
  }
}

function parseLine(line: string, file: string, lineNo: number, stats: ReadStats): string | null {
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
  stats.documents++;
  stats.bytes += Buffer.byteLength(t);
  return t;
}
