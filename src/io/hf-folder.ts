// Hugging Face model folders: config.json plus weights in any of the layouts
// the released Baichuan 2 checkpoints use (model.safetensors, sharded
// safetensors with an index, pytorch_model.bin, sharded .bin with an index).
// Every error names the file and tensor. Saving writes safetensors,
// config.json and generation_config.json (and tokenizer.model when given).
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from './safetensors.js';
import { readTorchBin } from './torch-bin.js';
import { configFromJSON, configToJSON, type BaichuanConfig } from '../model/config.js';
import { BaichuanForCausalLM, checkShape, fromHfName, hfName } from '../model/baichuan.js';
import { Tensor } from '../engine/tensor.js';
import type { DType } from '../engine/dtype.js';
import { loadQuantizedModel, readQuantizationConfig } from './quantized-folder.js';
import { isGgufFile, loadGgufModel } from './gguf-baichuan.js';

export interface LoadOptions {
  /** Convert floating weights to this dtype (default: keep the stored dtype; f16 becomes f32). */
  dtype?: 'f32' | 'bf16';
  /** Called with (done, total) tensors, for progress bars. */
  onProgress?: (done: number, total: number) => void;
  /** When a folder holds both, which weights to read (default: safetensors). */
  format?: 'safetensors' | 'bin';
}

export function readConfig(dir: string): BaichuanConfig {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new Error(`${dir}: no config.json (not a Hugging Face model folder)`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  return configFromJSON(j, file);
}

/** Which weight files hold which tensors. */
export function weightIndex(dir: string, format: 'safetensors' | 'bin' = 'safetensors'): Map<string, string[]> {
  const layouts = [['model.safetensors.index.json', 'model.safetensors'], ['pytorch_model.bin.index.json', 'pytorch_model.bin']];
  if (format === 'bin') layouts.reverse();
  for (const [idx] of layouts) {
    const f = path.join(dir, idx!);
    if (!fs.existsSync(f)) continue;
    let j: { weight_map?: Record<string, string> };
    try {
      j = JSON.parse(fs.readFileSync(f, 'utf8')) as typeof j;
    } catch (e) {
      throw new Error(`${f}: invalid JSON (${(e as Error).message})`);
    }
    if (!j.weight_map) throw new Error(`${f}: no weight_map`);
    const byFile = new Map<string, string[]>();
    for (const [name, shard] of Object.entries(j.weight_map)) {
      const p = path.join(dir, shard);
      if (!fs.existsSync(p)) throw new Error(`${f}: shard ${shard} (for ${name}) is missing`);
      if (!byFile.has(p)) byFile.set(p, []);
      byFile.get(p)!.push(name);
    }
    return byFile;
  }
  for (const [, single] of layouts) {
    const p = path.join(dir, single!);
    if (fs.existsSync(p)) return new Map([[p, []]]);
  }
  throw new Error(`${dir}: no weights found (model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json)`);
}

/** `dir` is a model folder or a GGUF file (src/io/gguf-baichuan.ts). */
export function loadModel(dir: string, opts: LoadOptions = {}): BaichuanForCausalLM {
  if (isGgufFile(dir)) return loadGgufModel(dir, opts);
  const config = readConfig(dir);
  const qc = readQuantizationConfig(dir);
  if (qc) return loadQuantizedModel(dir, qc, opts.onProgress);
  const model = new BaichuanForCausalLM(config);
  const expected = new Map([...model.namedParameters()].map(([n, p]) => [hfName(n), p.shape]));
  const seen = new Set<string>();
  const files = weightIndex(dir, opts.format);
  let done = 0;
  for (const [file, names] of files) {
    const tensors = file.endsWith('.safetensors') ? readSafetensors(file, names.length ? names : undefined) : readTorchBin(file);
    for (const [name, t0] of tensors) {
      if (name.endsWith('.inv_freq') || name.endsWith('.future_mask')) continue;  // buffers some exporters save
      const shape = expected.get(name);
      if (!shape) throw new Error(`${file}: unexpected tensor '${name}' (not a Baichuan 2 parameter for this config)`);
      checkShape(`${name}' in '${file}`, t0, shape);
      let t = t0;
      if (t.dtype === 'i32') throw new Error(`${file}: tensor '${name}' is an integer tensor`);
      if (t.dtype === 'f16') t = t.to('f32').detach();
      if (opts.dtype && t.dtype !== opts.dtype) t = t.to(opts.dtype).detach();
      for (let i = 0; i < Math.min(t.size, 4096); i++) {
        const v = t.data[i]!;
        if (t.dtype === 'f32' && !Number.isFinite(v)) throw new Error(`${file}: tensor '${name}' holds non-finite values (corrupt weights?)`);
      }
      model.setParameter(fromHfName(name), t);
      seen.add(name);
      opts.onProgress?.(++done, expected.size);
    }
  }
  const missing = [...expected.keys()].filter((n) => !seen.has(n));
  if (missing.length) throw new Error(`${dir}: weights are missing ${missing.length} tensors, e.g. '${missing.slice(0, 3).join("', '")}'`);
  model.eval();
  return model;
}

export const DEFAULT_GENERATION_CONFIG = {
  pad_token_id: 0, bos_token_id: 1, eos_token_id: 2, user_token_id: 195, assistant_token_id: 196,
  max_new_tokens: 2048, temperature: 0.3, top_k: 5, top_p: 0.85, repetition_penalty: 1.05, do_sample: true,
};

export interface SaveOptions {
  tokenizerModel?: string;
  generationConfig?: Record<string, unknown>;
  /** Write tensors in this dtype (default: as held). */
  dtype?: DType;
}

/** Write an HF folder that transformers (trust_remote_code) and this package can load. Atomic per file. */
export function saveModel(model: BaichuanForCausalLM, dir: string, opts: SaveOptions = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  const tensors: [string, Tensor][] = [...model.namedParameters()].map(([n, p]) => [hfName(n), opts.dtype && p.dtype !== opts.dtype ? p.to(opts.dtype).detach() : p]);
  const dtypes = new Set(tensors.map(([, t]) => t.dtype));
  const config = { ...model.config, torchDtype: dtypes.has('f32') ? 'float32' : 'bfloat16' } as BaichuanConfig;
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeJSON(path.join(dir, 'config.json'), configToJSON(config));
  writeJSON(path.join(dir, 'generation_config.json'), opts.generationConfig ?? DEFAULT_GENERATION_CONFIG);
  if (opts.tokenizerModel) fs.copyFileSync(opts.tokenizerModel, path.join(dir, 'tokenizer.model'));
}

export function writeJSON(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

/** Header-only description of a folder's weights: tensor count and bytes per dtype. */
export function describeWeights(dir: string): { files: string[]; tensors: number } {
  const files = [...weightIndex(dir).keys()];
  let tensors = 0;
  for (const f of files) tensors += f.endsWith('.safetensors') ? readSafetensorsHeader(f).entries.size : 0;
  return { files, tensors };
}
