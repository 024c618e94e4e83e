// Hugging Face model folders: config.json plus weights in any of the layouts
// the released Baichuan 2 checkpoints use (model.safetensors, sharded
// safetensors with an index, pytorch_model.bin, sharded .bin with an index).
// Every error names the file and tensor. Saving writes safetensors,
// config.json and generation_config.json (and tokenizer.model when given).
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../engine/atomic-write.js';
import { writeSafetensors } from './safetensors.js';
import { listWeights, type WeightFormat } from './weight-files.js';
import { FLOAT_DTYPES, firstNonFinite, readTensor } from './tensor-source.js';
import { configFromJSON, configToJSON, type BaichuanConfig } from '../model/config.js';
import { BaichuanForCausalLM, fromHfName, hfName } from '../model/baichuan.js';
import type { NormHead } from '../model/layers.js';
import { Tensor, shapeStr } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { l2normRows } from '../engine/ops/norm.js';
import { narrow } from '../engine/ops/shape.js';
import type { DType } from '../engine/dtype.js';
import { loadQuantizedModel, readQuantizationConfig } from './quantized-folder.js';
import { describeGguf, isGgufFile, loadGgufModel } from './gguf-baichuan.js';

export interface LoadOptions {
  /** Convert floating weights to this dtype (default: keep the stored dtype; f16 becomes f32). */
  dtype?: 'f32' | 'bf16';
  /** Called with (done, total) tensors, for progress bars. */
  onProgress?: (done: number, total: number) => void;
  /** Called with (done, total) bytes read, for progress bars with an ETA. */
  onBytes?: (done: number, total: number) => void;
  /** When a folder holds both, which weights to read (default: safetensors). */
  format?: WeightFormat;
  /** Scan every element of every tensor for NaN/Inf (default true; about 1 s per 10 GB of bf16, see BENCHMARKS.md). */
  checkFinite?: boolean;
  /**
   * Load for inference only: the NormHead rows are normalised in place once (in blocks of rows),
   * instead of keeping the stored head and a normalised copy of it. Logits are identical; training
   * such a model starts from the normalised head (the forward pass is the same, the gradient scale is not).
   */
  inference?: boolean;
}

/** The config of a model folder (config.json) or of a GGUF file (its baichuan.* keys). */
export function readConfig(dir: string): BaichuanConfig {
  if (isGgufFile(dir)) return describeGguf(dir).config;
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

/** Which weight files hold which tensors (listed from each file's header or pickle). */
export function weightIndex(dir: string, format: WeightFormat = 'safetensors'): Map<string, string[]> {
  const byFile = new Map<string, string[]>();
  for (const s of listWeights(dir, format).sources) {
    if (!byFile.has(s.file)) byFile.set(s.file, []);
    byFile.get(s.file)!.push(s.name);
  }
  return byFile;
}

/** Buffers some exporters save beside the parameters; not weights. */
const isBuffer = (name: string) => name.endsWith('.inv_freq') || name.endsWith('.future_mask');

/**
 * Load a model folder tensor by tensor: each tensor is read from its file into its own
 * buffer and becomes the parameter (no second copy), so the peak is the weights' size
 * plus one tensor when a dtype conversion is asked for.
 */
export function loadModel(dir: string, opts: LoadOptions = {}): BaichuanForCausalLM {
  if (isGgufFile(dir)) return loadGgufModel(dir, opts);
  const config = readConfig(dir);
  const qc = readQuantizationConfig(dir);
  if (qc) return loadQuantizedModel(dir, qc, opts.onProgress);
  const model = new BaichuanForCausalLM(config);
  const expected = new Map([...model.namedParameters()].map(([n, p]) => [hfName(n), p.shape]));
  const { sources } = listWeights(dir, opts.format);
  // every name, shape and dtype is checked from the headers before a byte of weights is read
  const wanted = sources.filter((s) => !isBuffer(s.name));
  for (const s of wanted) {
    const shape = expected.get(s.name);
    if (!shape) throw new Error(`${s.file}: unexpected tensor '${s.name}' (not a Baichuan 2 parameter for this config)`);
    if (s.shape.length !== shape.length || s.shape.some((d, i) => d !== shape[i])) throw new Error(`tensor '${s.name}' in '${s.file}' has shape ${shapeStr(s.shape)}, the config needs ${shapeStr(shape)}`);
    if (!(FLOAT_DTYPES as readonly string[]).includes(s.dtype)) throw new Error(`${s.file}: tensor '${s.name}' is stored as ${s.dtype}; a checkpoint must be BF16, F16 or F32`);
  }
  const have = new Set(wanted.map((s) => s.name));
  const missing = [...expected.keys()].filter((n) => !have.has(n));
  if (missing.length) throw new Error(`${dir}: weights are missing ${missing.length} tensors, e.g. '${missing.slice(0, 3).join("', '")}'`);
  const totalBytes = wanted.reduce((a, s) => a + s.bytes, 0);
  let done = 0, doneBytes = 0;
  for (const s of wanted) {
    let t = readTensor(s);
    if (t.dtype === 'f16') t = t.astype('f32');
    if (opts.dtype && t.dtype !== opts.dtype) t = t.astype(opts.dtype);
    if (opts.checkFinite !== false) {
      const bad = firstNonFinite(t);
      if (bad >= 0) throw new Error(`${s.file}: tensor '${s.name}' holds a non-finite value (${readOne(t, bad)} at element ${bad}): corrupt weights? (checkFinite: false skips this scan)`);
    }
    model.setParameter(fromHfName(s.name), t);
    doneBytes += s.bytes;
    opts.onProgress?.(++done, wanted.length);
    opts.onBytes?.(doneBytes, totalBytes);
  }
  model.eval();
  if (opts.inference) normalizeHeadInPlace(model.lm_head);
  return model;
}

function readOne(t: Tensor, i: number): number {
  return Tensor.fromStorage(t.data.subarray(t.offset + i, t.offset + i + 1) as Tensor['data'], [1], t.dtype).toArray()[0]!;
}

/** Rows per block when normalising the head in place (4096 x 5120 f32 = 80 MiB of scratch). */
const HEAD_BLOCK_ROWS = 4096;

/** Normalise the NormHead's stored rows in place (block by block, the same per-row arithmetic as l2normRows) and mark it. */
export function normalizeHeadInPlace(head: NormHead): void {
  const w = head.parameters()[0]!;  // [V, C], its only parameter
  if (!w.isContiguous()) throw new Error('internal: lm_head weight is not contiguous');
  const [V, C] = w.shape as [number, number];
  noGrad(() => {
    for (let r = 0; r < V; r += HEAD_BLOCK_ROWS) {
      const n = Math.min(HEAD_BLOCK_ROWS, V - r);
      const y = l2normRows(narrow(w, 0, r, n));
      if (y.offset !== 0 || y.dtype !== w.dtype) throw new Error('internal: l2normRows gave an unexpected layout');
      (w.data as unknown as { set(a: ArrayLike<number>, at: number): void }).set(y.data, w.offset + r * C);
    }
  });
  head.markRowsNormalized();
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
  const tensors: [string, Tensor][] = [...model.namedParameters()].map(([n, p]) => [hfName(n), opts.dtype && p.dtype !== opts.dtype ? p.astype(opts.dtype) : p]);
  const dtypes = new Set(tensors.map(([, t]) => t.dtype));
  const config = { ...model.config, torchDtype: dtypes.has('f32') ? 'float32' : 'bfloat16' } as BaichuanConfig;
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeJSON(path.join(dir, 'config.json'), configToJSON(config));
  writeJSON(path.join(dir, 'generation_config.json'), opts.generationConfig ?? DEFAULT_GENERATION_CONFIG);
  if (opts.tokenizerModel) fs.copyFileSync(opts.tokenizerModel, path.join(dir, 'tokenizer.model'));
}

export function writeJSON(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** Header-only description of a folder's weights: files, tensor count and stored bytes per dtype. */
export function describeWeights(dir: string): { files: string[]; tensors: number; format: WeightFormat; bytesByDtype: Record<string, number> } {
  const { files, sources } = listWeights(dir);
  const bytesByDtype: Record<string, number> = {};
  for (const s of sources) bytesByDtype[s.dtype] = (bytesByDtype[s.dtype] ?? 0) + s.bytes;
  return { files: files.files, tensors: sources.length, format: files.format, bytesByDtype };
}
