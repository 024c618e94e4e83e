// Token shards, the one shard format: flat little-endian uint32 files plus
// manifest.json (written by `baichuan2 prepare`, read by training through
// src/train/packed-loader.ts). Documents are separated by EOS.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { z } from 'zod';

export interface ShardInfo { file: string; tokens: number; sha256: string }

export interface Manifest {
  format: 'baichuan2-ts-shards-v1';
  tokenizer: { file: string; sha256: string; vocabSize: number };
  eosTokenId: number;
  documents: { train: number; val: number };
  bytes: { train: number; val: number };
  train: ShardInfo[];
  val: ShardInfo[];
  /** Present when inputs carried sampling weights (data pipeline `mix`): training documents after up/down-sampling. */
  sampledTrainDocuments?: number;
}

const ShardSchema = z.object({
  // a plain file name in the data folder: a manifest cannot point outside it
  file: z.string().regex(/^(?!\.\.?$)[A-Za-z0-9._-]+$/, 'must be a file name inside the data folder (letters, digits, . _ -)'),
  tokens: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER / 4),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits'),
});

const ManifestSchema = z.object({
  format: z.literal('baichuan2-ts-shards-v1'),
  tokenizer: z.object({ file: z.string(), sha256: z.string(), vocabSize: z.number().int().min(1).max(2 ** 31 - 1) }).passthrough(),
  eosTokenId: z.number().int().min(0),
  documents: z.object({ train: z.number().int().min(0), val: z.number().int().min(0) }).passthrough(),
  bytes: z.object({ train: z.number().min(0), val: z.number().min(0) }).passthrough(),
  train: z.array(ShardSchema),
  val: z.array(ShardSchema),
  sampledTrainDocuments: z.number().int().min(0).optional(),
}).passthrough();

export function readManifest(dir: string): Manifest {
  const f = path.join(dir, 'manifest.json');
  if (!fs.existsSync(f)) throw new Error(`${dir}: no manifest.json (run \`baichuan2 prepare\` first)`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(f, 'utf8'));
  } catch (e) {
    throw new Error(`${f}: invalid JSON (${(e as Error).message})`);
  }
  const format = (raw as { format?: unknown } | null)?.format;
  if (format !== 'baichuan2-ts-shards-v1') throw new Error(`${f}: unknown format ${JSON.stringify(format)}`);
  const r = ManifestSchema.safeParse(raw);
  if (!r.success) throw new Error(`${f}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const m = r.data as Manifest;
  if (m.eosTokenId >= m.tokenizer.vocabSize) throw new Error(`${f}: eosTokenId ${m.eosTokenId} is outside the vocabulary (${m.tokenizer.vocabSize})`);
  return m;
}

export function sha256(buf: Uint8Array): string {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

/** Load and verify every shard of a split into one token array. */
export function loadSplit(dir: string, shards: ShardInfo[], vocabSize: number, verify = true): Uint32Array {
  // sizes first, so a manifest claiming more tokens than its files hold allocates nothing
  for (const sh of shards) {
    const f = path.join(dir, sh.file);
    if (!fs.existsSync(f)) throw new Error(`${f}: shard missing`);
    const size = fs.statSync(f).size;
    if (size !== sh.tokens * 4) throw new Error(`${f}: shard has ${size} bytes, the manifest says ${sh.tokens} tokens (${sh.tokens * 4} bytes): truncated or corrupt`);
  }
  const total = shards.reduce((s, x) => s + x.tokens, 0);
  const out = new Uint32Array(total);
  let off = 0;
  for (const sh of shards) {
    const f = path.join(dir, sh.file);
    const buf = fs.readFileSync(f);
    if (buf.length !== sh.tokens * 4) throw new Error(`${f}: shard has ${buf.length} bytes, the manifest says ${sh.tokens} tokens (${sh.tokens * 4} bytes): truncated or corrupt`);
    if (verify && sha256(buf) !== sh.sha256) throw new Error(`${f}: checksum mismatch: the shard is corrupt`);
    const view = new Uint32Array(buf.buffer, buf.byteOffset, sh.tokens);
    for (let i = 0; i < view.length; i++) if (view[i]! >= vocabSize) throw new Error(`${f}: token ${view[i]} at ${i} is outside the vocabulary (${vocabSize})`);
    out.set(view, off);
    off += sh.tokens;
  }
  return out;
}
