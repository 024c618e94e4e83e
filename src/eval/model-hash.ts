// A content hash of a model folder: SHA-256 over the names and bytes of
// config.json, the tokenizer and every weight file, in name order. Results
// carry it so a number can be traced to the exact weights; the cache is keyed
// by it so a changed checkpoint never reuses old answers.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const HASHED = /^(config\.json|tokenizer\.model|.*\.safetensors|.*\.bin|.*\.index\.json)$/;

export function hashModelFolder(dir: string, onProgress?: (done: number, total: number) => void): string {
  const files = fs.readdirSync(dir).filter((f) => HASHED.test(f)).sort();
  if (!files.includes('config.json')) throw new Error(`${dir}: no config.json; not a model folder`);
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
