// `baichuan2 convert`: a model folder's weights (PyTorch .bin, single or
// sharded; or safetensors) rewritten as sharded safetensors in Hugging Face's
// layout: model-0000i-of-0000N.safetensors shards of at most 5 GB (HF's
// default max_shard_size, 5 * 10^9 bytes; a tensor larger than that gets a
// shard of its own), each header with {"format": "pt"}, and
// model.safetensors.index.json = {"metadata": {"total_size": bytes of all
// tensors}, "weight_map": {name: shard}} written as transformers does
// (keys sorted, indent 2). One shard is written as model.safetensors without
// an index, as save_pretrained does. Streaming: one tensor in memory at a time.
// Every other file of the folder (config, tokenizer, modeling code) is copied.
import fs from 'node:fs';
import path from 'node:path';
import { readConfig, writeJSON } from './hf-folder.js';
import { checkOutputFolder, listWeights } from './weight-files.js';
import { FLOAT_DTYPES, decodeTensor, firstNonFinite, type TensorSource } from './tensor-source.js';
import { writeSafetensorsRaw, type RawStreamEntry } from './safetensors-stream.js';

export const HF_MAX_SHARD_BYTES = 5_000_000_000;

export interface ConvertOptions {
  /** Output dtype (default: as stored). */
  dtype?: 'bf16' | 'f32';
  /** Shard size limit in bytes (default 5 GB, as transformers). */
  maxShardBytes?: number;
  /** Scan every tensor for NaN/Inf on the way through (default true). */
  checkFinite?: boolean;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export interface ConvertReport { seconds: number; tensors: number; shards: string[]; totalSize: number }

const CODE = { bf16: 'BF16', f32: 'F32' } as const;
const isWeightFile = (f: string) => /^(pytorch_model.*\.bin|model.*\.safetensors|pytorch_model\.bin\.index\.json|model\.safetensors\.index\.json)$/.test(f);

/** Group tensors into shards as transformers' shard_checkpoint does: in order, a new shard when the next tensor would pass the limit. */
export function planShards<T extends { bytes: number }>(items: T[], maxShardBytes: number): T[][] {
  const shards: T[][] = [];
  let cur: T[] = [], size = 0;
  for (const it of items) {
    if (cur.length && size + it.bytes > maxShardBytes) { shards.push(cur); cur = []; size = 0; }
    cur.push(it);
    size += it.bytes;
  }
  if (cur.length) shards.push(cur);
  return shards;
}

export function convertToSafetensors(src: string, out: string, o: ConvertOptions = {}): ConvertReport {
  const t0 = performance.now();
  checkOutputFolder(src, out, 'convert');
  readConfig(src);  // a model folder with a valid config, before anything is written
  if (fs.existsSync(out)) {
    const old = fs.readdirSync(out).filter(isWeightFile);
    if (old.length) throw new Error(`convert: --out ${out} already holds weights (${old.slice(0, 2).join(', ')}); choose a new or empty folder`);
  }
  const { sources } = listWeights(src, 'bin');
  const tensors: { s: TensorSource; code: string; bytes: number }[] = [];
  for (const s of sources) {
    if (s.name.endsWith('.inv_freq') || s.name.endsWith('.future_mask')) continue;  // buffers, not weights
    if (!(FLOAT_DTYPES as readonly string[]).includes(s.dtype)) throw new Error(`${s.file}: tensor '${s.name}' is stored as ${s.dtype}; a checkpoint must be BF16, F16 or F32`);
    const code = o.dtype ? CODE[o.dtype] : s.dtype;
    const eb = code === 'F32' ? 4 : 2;
    tensors.push({ s, code, bytes: (s.bytes / (s.dtype === 'F32' ? 4 : 2)) * eb });
  }
  const totalIn = tensors.reduce((a, t) => a + t.s.bytes, 0);
  const totalSize = tensors.reduce((a, t) => a + t.bytes, 0);
  const plan = planShards(tensors, o.maxShardBytes ?? HF_MAX_SHARD_BYTES);
  const N = plan.length;
  const names = N === 1 ? ['model.safetensors'] : plan.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(N).padStart(5, '0')}.safetensors`);
  fs.mkdirSync(out, { recursive: true });
  let done = 0;
  const weightMap: Record<string, string> = {};
  plan.forEach((shard, i) => {
    const entries: RawStreamEntry[] = shard.map(({ s, code, bytes }) => ({
      name: s.name, shape: [...s.shape], code, bytes,
      produce: () => {
        const raw = s.readBytes();
        let t = decodeTensor(`${s.file}: tensor '${s.name}'`, s.dtype, s.shape, raw);
        if (o.checkFinite !== false) {
          const bad = firstNonFinite(t);
          if (bad >= 0) throw new Error(`${s.file}: tensor '${s.name}' holds a non-finite value at element ${bad} (corrupt weights?)`);
        }
        done += s.bytes;
        o.onProgress?.(done, totalIn);
        if (code === s.dtype) return raw;
        t = t.astype(code === 'F32' ? 'f32' : 'bf16');
        const st = t.copyStorage();
        return new Uint8Array(st.buffer, st.byteOffset, st.byteLength);
      },
    }));
    writeSafetensorsRaw(path.join(out, names[i]!), entries, { format: 'pt' });
    for (const { s } of shard) weightMap[s.name] = names[i]!;
  });
  if (N > 1) {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(weightMap).sort()) sorted[k] = weightMap[k]!;
    writeJSON(path.join(out, 'model.safetensors.index.json'), { metadata: { total_size: totalSize }, weight_map: sorted });
  }
  // everything else travels along; config.json records the dtype when it changed
  for (const f of fs.readdirSync(src)) {
    const p = path.join(src, f);
    if (isWeightFile(f) || !fs.statSync(p).isFile()) continue;
    if (f === 'config.json' && o.dtype) {
      const cfg = JSON.parse(fs.readFileSync(p, 'utf8')) as Record<string, unknown>;
      writeJSON(path.join(out, f), { ...cfg, torch_dtype: o.dtype === 'f32' ? 'float32' : 'bfloat16' });
    } else {
      fs.copyFileSync(p, path.join(out, f));
    }
  }
  return { seconds: (performance.now() - t0) / 1000, tensors: tensors.length, shards: names, totalSize };
}
