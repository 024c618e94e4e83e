// The memoised model-folder hash must never be stale: a same-size edit with the
// old mtime put back (`touch -r`) must miss the memo, for a small file (hashed
// whole for the key) and a large one whose changed byte lies between the
// sampled 64 KiB blocks (blocks 122 and 123 of 80 MiB span 39,945,728-40,011,264
// and 40,273,153-...): that one is
// caught by the ctime the kernel set.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashModelFolder } from '../../src/eval/model-hash.js';

function folder(weightBytes: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-mhash-'));
  fs.writeFileSync(path.join(dir, 'config.json'), '{"hidden_size": 8}\n');
  const w = Buffer.alloc(weightBytes);
  for (let i = 0; i < w.length; i += 4096) w[i] = i & 255;
  fs.writeFileSync(path.join(dir, 'model.safetensors'), w);
  return dir;
}

/** Flip one byte at `pos`, then put the old mtime back the way a user would (`touch -r`). */
function sneakyEdit(file: string, pos: number): void {
  const ref = `${file}.ref`;
  fs.copyFileSync(file, ref, fs.constants.COPYFILE_FICLONE);
  const st = fs.statSync(file, { bigint: true });
  assert.equal(spawnSync('touch', ['-r', file, ref]).status, 0, 'touch -r');
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, pos);
  b[0] = b[0]! ^ 0xff;
  fs.writeSync(fd, b, 0, 1, pos);
  fs.closeSync(fd);
  assert.equal(spawnSync('touch', ['-r', ref, file]).status, 0, 'touch -r');
  fs.rmSync(ref);
  assert.equal(fs.statSync(file, { bigint: true }).mtimeNs, st.mtimeNs, 'mtime restored to the nanosecond');
  assert.equal(fs.statSync(file, { bigint: true }).size, st.size, 'same size');
}

for (const [what, bytes, pos] of [['small file', 1 << 20, 123_457], ['large file (sampled)', 80 << 20, 40_100_000]] as const) {
  test(`model hash: a one-byte change with the mtime put back is seen (${what})`, async () => {
    const dir = folder(bytes);
    try {
      const memo = path.join(dir, 'memo', 'hashes.json');
      const a = hashModelFolder(dir, { memoFile: memo });
      assert.equal(hashModelFolder(dir, { memoFile: memo }), a);
      await new Promise((r) => setTimeout(r, 20));  // a later kernel clock tick for ctime
      sneakyEdit(path.join(dir, 'model.safetensors'), pos);
      const b = hashModelFolder(dir, { memoFile: memo });
      assert.notEqual(b, a, 'the memo returned the old hash for changed weights');
      assert.equal(b, hashModelFolder(dir), 'the memo holds the real hash');
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
}
