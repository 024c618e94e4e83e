// The one atomic file writer: data goes to a temporary name in the same
// folder, is fsync'd, then renamed over the target (and the folder fsync'd), so
// a reader or a crash sees the old file or the new one, never half of one.
// Every writer of outputs a run depends on (checkpoints, manifests, shards,
// tokenizers, caches, reports) goes through here. It lives in engine/ because
// it is the one layer every other layer may import.
import fs from 'node:fs';
import path from 'node:path';

let counter = 0;

function tempName(target: string): string {
  return `${target}.tmp-${process.pid}-${counter++}`;
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try { fd = fs.openSync(dir, 'r'); fs.fsyncSync(fd); } catch { /* some filesystems refuse a directory fsync: the rename is still atomic */ } finally { if (fd !== undefined) fs.closeSync(fd); }
}

/** Write `fill`'s output to `file` atomically; `fill` gets an fd open for writing on the temporary file. */
export function withAtomicFile(file: string, fill: (fd: number) => void): void {
  const tmp = tempName(file);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    fill(fd);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try { fs.renameSync(tmp, file); } catch (e) { fs.rmSync(tmp, { force: true }); throw e; }
  fsyncDir(path.dirname(path.resolve(file)));
}

/** Write `data` to `file` atomically (temp name + fsync + rename). */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  withAtomicFile(file, (fd) => {
    let buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    while (buf.byteLength) buf = buf.subarray(fs.writeSync(fd, buf));
  });
}

/** A temporary folder beside `final` to build a directory in before `commitDir`. */
export function tempDirFor(final: string): string {
  const tmp = tempName(final);
  fs.rmSync(tmp, { recursive: true, force: true });
  return tmp;
}

/** Put a finished folder `tmp` (its files written with the helpers above) in place of `final`. */
export function commitDir(tmp: string, final: string): void {
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  fsyncDir(path.dirname(path.resolve(final)));
}
