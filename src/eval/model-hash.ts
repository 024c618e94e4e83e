// A content hash of a model folder: SHA-256 over the names and bytes of
// config.json, the tokenizer and every weight file, in name order. Results
// carry it so a number can be traced to the exact weights; the cache is keyed
// by it so a changed checkpoint never reuses old answers. A memo file keyed
// by each file's name, size and modification time spares a resumed or repeated
// run from reading a 14 GB checkpoint once more just to hash it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const HASHED = /^(config\.json|tokenizer\.model|.*\.safetensors|.*\.bin|.*\.index\.json)$/;

export function hashModelFolder(dir: string, o: { memoFile?: string; onProgress?: (done: number, total: number) => void } = {}): string {
  const { memoFile, onProgress } = o;
  // a GGUF file is hashed alone (it holds the config, tokenizer and weights)
  const single = fs.statSync(dir).isFile();
  const root = single ? path.dirname(dir) : dir;
  const files = single ? [path.basename(dir)] : fs.readdirSync(dir).filter((f) => HASHED.test(f)).sort();
  if (!single && !files.includes('config.json')) throw new Error(`${dir}: no config.json; not a model folder`);
  const key = JSON.stringify(files.map((f) => { const st = fs.statSync(path.join(root, f)); return [f, st.size, st.mtimeMs]; }).concat([[path.resolve(dir)]]));
  let memo: Record<string, string> = {};
  if (memoFile && fs.existsSync(memoFile)) {
    try { memo = JSON.parse(fs.readFileSync(memoFile, 'utf8')) as Record<string, string>; } catch { memo = {}; }
    if (memo[key]) return memo[key]!;
  }
  const digest = hashFiles(root, files, onProgress);
  if (memoFile) {
    fs.mkdirSync(path.dirname(memoFile), { recursive: true });
    fs.writeFileSync(memoFile + '.tmp', JSON.stringify({ ...memo, [key]: digest }));
    fs.renameSync(memoFile + '.tmp', memoFile);
  }
  return digest;
}

function hashFiles(dir: string, files: string[], onProgress?: (done: number, total: number) => void): string {
  const total = files.reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
  const h = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(8 << 20);
  let done = 0;
  for (const f of files) {
    h.update(`${f}\0${fs.statSync(path.join(dir, f)).size}\0`);
    const fd = fs.openSync(path.join(dir, f), 'r');
    try {
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) { h.update(buf.subarray(0, n)); done += n; onProgress?.(done, total); }
    } finally {
      fs.closeSync(fd);
    }
  }
  return h.digest('hex');
}
