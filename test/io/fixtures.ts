// Shared fixtures for the checkpoint I/O tests: the golden folders, temp
// folders, Debian's PyTorch (an oracle that writes real .bin files), and a
// minimal zip writer for hand-made archives.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';

export const GOLDEN = path.resolve(process.cwd(), '../shared/data/golden');
export const SHARDED_BIN = path.join(GOLDEN, 'tiny-alibi-bf16-sharded-bin');
export const haveGolden = fs.existsSync(SHARDED_BIN);
export const noGolden = !haveGolden && `../shared/data/golden not found at ${GOLDEN}`;

export const PYTHON = '/usr/bin/python3';
export const haveTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
export const noTorch = !haveTorch && `PyTorch is not installed (Debian python3-torch; .ci/run installs it): ${PYTHON} -c "import torch" failed`;

export function tmp(prefix = 'bc2-io-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function copyDir(src: string): string {
  const d = tmp();
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(d, f));
  for (const f of fs.readdirSync(d)) fs.chmodSync(path.join(d, f), 0o644);
  return d;
}

/** Run bench/torch_bin_checkpoint.py (PyTorch writes the checkpoint). */
export function torchCheckpoint(out: string, args: string[]): void {
  const r = spawnSync(PYTHON, [path.resolve('bench/torch_bin_checkpoint.py'), '--out', out, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`torch_bin_checkpoint.py failed: ${r.stderr}`);
}

/** Run a Python snippet (with torch), returning stdout. */
export function python(code: string): string {
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

export interface ZipInput { name: string; data: Uint8Array; deflate?: boolean; declaredSize?: number }

/** A minimal zip (no zip64): local headers, data, central directory, end record. */
export function buildZip(entries: ZipInput[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let off = 0;
  for (const e of entries) {
    const body = e.deflate ? zlib.deflateRawSync(e.data) : Buffer.from(e.data);
    const name = Buffer.from(e.name);
    const size = e.declaredSize ?? e.data.length;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(e.deflate ? 8 : 0, 8);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(size, 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(e.deflate ? 8 : 0, 10);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(off, 42);
    parts.push(lh, name, body);
    central.push(ch, name);
    off += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(off, 16);
  return Buffer.concat([...parts, cd, end]);
}
