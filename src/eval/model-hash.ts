// A content hash of a model folder: SHA-256 over the names and bytes of
// config.json, the tokenizer and every weight file, in name order. Results
// carry it so a number can be traced to the exact weights; the cache is keyed
// by it so a changed checkpoint never reuses old answers. A memo file spares a
// resumed or repeated run from reading a 14 GB checkpoint once more: its key
// per file is name, size, inode, mtime and ctime in nanoseconds (ctime is set
// by the kernel on every write and by `touch -r` itself, so it cannot be put
// back from user space) plus a SHA-256 of the file's content when it is small
// (<= 64 MiB) or of 256 evenly spaced 64 KiB blocks and both ends when large.
// A same-size edit with mtime restored (`touch -r`) therefore misses the memo.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../engine/atomic-write.js';

const HASHED = /^(config\.json|tokenizer\.model|.*\.safetensors|.*\.bin|.*\.index\.json)$/;

export function hashModelFolder(dir: string, o: { memoFile?: string; onProgress?: (done: number, total: number) => void } = {}): string {
  const { memoFile, onProgress } = o;
  // a GGUF file is hashed alone (it holds the config, tokenizer and weights)
  const single = fs.statSync(dir).isFile();
  const root = single ? path.dirname(dir) : dir;
  const files = single ? [path.basename(dir)] : fs.readdirSync(dir).filter((f) => HASHED.test(f)).sort();
  if (!single && !files.includes('config.json')) throw new Error(`${dir}: no config.json; not a model folder`);
  const key = JSON.stringify(files.map((f) => fileFingerprint(path.join(root, f))).concat([[path.resolve(dir)]]));
  let memo: Record<string, string> = {};
  if (memoFile && fs.existsSync(memoFile)) {
    try { memo = JSON.parse(fs.readFileSync(memoFile, 'utf8')) as Record<string, string>; } catch { memo = {}; }
    if (memo[key]) return memo[key]!;
  }
  const digest = hashFiles(root, files, onProgress);
  if (memoFile) {
    fs.mkdirSync(path.dirname(memoFile), { recursive: true });
    writeFileAtomic(memoFile, JSON.stringify({ ...memo, [key]: digest }));
  }
  return digest;
}

const FULL_LIMIT = 64 << 20, BLOCK = 64 << 10, BLOCKS = 256;

/** Memo key of one file: metadata the kernel maintains plus a hash of (a spread sample of) its bytes. */
export function fileFingerprint(file: string): (string | number)[] {
  const st = fs.statSync(file, { bigint: true });
  const size = Number(st.size);
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(size <= FULL_LIMIT ? Math.max(1, size) : BLOCK);
    if (size <= FULL_LIMIT) {
      let off = 0;
      for (let n; off < size && (n = fs.readSync(fd, buf, off, size - off, off)) > 0;) off += n;
      h.update(buf.subarray(0, off));
    } else {
      for (let i = 0; i <= BLOCKS; i++) {
        const pos = Math.floor(((size - BLOCK) * i) / BLOCKS);
        const n = fs.readSync(fd, buf, 0, BLOCK, pos);
        h.update(`${pos}:`).update(buf.subarray(0, n));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return [path.basename(file), size, String(st.ino), String(st.mtimeNs), String(st.ctimeNs), h.digest('hex')];
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
