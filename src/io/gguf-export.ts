// `baichuan2 export gguf`: a model folder (float, or our 8-/4-bit quantised
// one) or a GGUF file, written as a GGUF file that llama.cpp, Ollama and LM
// Studio load as architecture "baichuan". Streaming: each tensor is read,
// converted and written before the next is read, so a 13B model exports in
// the memory of its largest tensor (plus W_pack's three parts).
// Tensor types per --type (as our `quantize`, docs/QUANTIZATION.md):
// - RMSNorm weights are always F32 (as llama.cpp's converter writes 1-D tensors);
// - f32 / f16 / bf16: every matrix in that type;
// - q8_0 / q4_0: the layers' Linears at that type, the head (normalised) at
//   Q8_0, the embedding in its stored float type (decode reads one row).
// A quantised folder's codes and scales are copied into Q8_0 / Q4_0 blocks as
// they are: nothing is re-quantised.
import fs from 'node:fs';
import path from 'node:path';
import { noGrad } from '../engine/autograd.js';
import { l2normRows } from '../engine/ops/norm.js';
import { contiguous, narrow } from '../engine/ops/shape.js';
import { QuantizedWeight, type QuantBits } from '../engine/quant.js';
import type { Tensor } from '../engine/tensor.js';
import { hfName } from '../model/baichuan.js';
import { readModelFile } from '../tokenizer/sentencepiece-model.js';
import { loadModel, readConfig, weightIndex } from './hf-folder.js';
import { quantizedModules, readQuantizationConfig } from './quantized-folder.js';
import { readSafetensors, readSafetensorsHeader, readSafetensorsRaw } from './safetensors.js';
import { GgmlType, ggmlBytes, ggmlTypeName, writeGguf, type GgufTensorEntry } from './gguf.js';
import { vocabKv } from './gguf-tokenizer.js';
import { ggufLayout, ggufSource, isGgufFile, layerCountWarning, modelKv, permuteRows, toBlocks, type GgufTarget, type ModelSource, type SourceTensor } from './gguf-baichuan.js';

export const GGUF_TARGETS: readonly GgufTarget[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'];

export interface ExportOptions {
  /** Default: the source's own type (a float folder's dtype, a quantised folder's bits). */
  type?: GgufTarget;
  /** general.name (default: the folder's name, or the GGUF file's own). */
  name?: string;
  onProgress?: (done: number, total: number) => void;
  /** Rows converted at a time (default: 2^24 elements' worth); the output does not depend on it. */
  chunkRows?: number;
}

export interface ExportReport { file: string; type: GgufTarget; bytes: number; tensors: number; seconds: number; warnings: string[] }

/** A model folder (float or quantised, safetensors or .bin) or a GGUF file, as a ModelSource. */
export function openSource(target: string, tokenizer?: string): ModelSource {
  const src = isGgufFile(target) ? ggufSource(target) : folderSource(target);
  if (tokenizer) src.tokenizer = readModelFile(tokenizer);
  return src;
}

function folderSource(dir: string): ModelSource {
  const config = readConfig(dir);
  const tokFile = path.join(dir, 'tokenizer.model');
  const base = { where: dir, name: path.basename(path.resolve(dir)), config, tokenizer: fs.existsSync(tokFile) ? readModelFile(tokFile) : null, warnings: [] };
  const tensors = new Map<string, SourceTensor>();
  const qc = readQuantizationConfig(dir);
  if (qc) {
    const file = path.join(dir, 'model.safetensors');
    const header = readSafetensorsHeader(file);
    const modules = [...quantizedModules(config), 'lm_head'];
    const quantNames = new Set(modules.flatMap((m) => [`${m}.qweight`, `${m}.scales`]));
    for (const m of modules) {
      const bits = (m === 'lm_head' ? qc.lm_head_bits : qc.bits) as QuantBits;
      const q = header.entries.get(`${m}.qweight`);
      if (!q) throw new Error(`${file}: missing quantised tensor '${m}.qweight'`);
      const N = q.shape[0]!, K = bits === 8 ? q.shape[1]! : q.shape[1]! * 2;
      tensors.set(`${m}.weight`, {
        kind: 'quant', shape: [N, K], bits, groupSize: qc.group_size,
        read: () => {
          const raw = readSafetensorsRaw(file, [`${m}.qweight`, `${m}.scales`]);
          const s = raw.get(`${m}.scales`)!.bytes.slice();
          return new QuantizedWeight(N, K, bits, qc.group_size, raw.get(`${m}.qweight`)!.bytes, new Uint16Array(s.buffer));
        },
      });
    }
    for (const [name, e] of header.entries) if (!quantNames.has(name)) tensors.set(name, floatEntry(file, name, e.dtype, e.shape));
    return { ...base, tensors, headNormalized: true };
  }
  const files = [...weightIndex(dir).keys()];
  if (files.every((f) => f.endsWith('.safetensors'))) {
    for (const file of files)
      for (const [name, e] of readSafetensorsHeader(file).entries) {
        if (name.endsWith('.inv_freq') || name.endsWith('.future_mask')) continue;
        tensors.set(name, floatEntry(file, name, e.dtype, e.shape));
      }
  } else {
    const model = loadModel(dir);  // .bin checkpoints: pickle needs the whole file anyway
    for (const [n, p] of model.namedParameters())
      tensors.set(hfName(n), { kind: 'float', shape: [...p.shape], dtype: p.dtype === 'bf16' ? 'bf16' : 'f32', read: () => p });
  }
  return { ...base, tensors, headNormalized: false };
}

function floatEntry(file: string, name: string, code: string, shape: number[]): SourceTensor {
  const dtype = ({ F32: 'f32', BF16: 'bf16', F16: 'f16' } as const)[code as 'F32'];
  if (!dtype) throw new Error(`${file}: tensor '${name}' has dtype ${code}; expected F32, BF16 or F16`);
  return { kind: 'float', shape, dtype, read: () => readSafetensors(file, [name]).get(name)! };
}

const Q_TYPE: Record<QuantBits, GgmlType> = { 8: GgmlType.Q8_0, 4: GgmlType.Q4_0 };
const F_TYPE = { f32: GgmlType.F32, f16: GgmlType.F16, bf16: GgmlType.BF16 } as const;

function defaultTarget(src: ModelSource): GgufTarget {
  const w = src.tensors.get('model.layers.0.self_attn.W_pack.weight');
  if (!w) throw new Error(`${src.where}: no 'model.layers.0.self_attn.W_pack.weight'`);
  return w.kind === 'quant' ? (w.bits === 8 ? 'q8_0' : 'q4_0') : w.dtype;
}

/** The ggml type a tensor is written in. */
function typeFor(hf: string, st: SourceTensor, target: GgufTarget, where: string): GgmlType {
  if (st.shape.length === 1) return GgmlType.F32;
  if (target === 'f32' || target === 'f16' || target === 'bf16') return F_TYPE[target];
  const bits: QuantBits = target === 'q8_0' ? 8 : 4;
  if (hf === 'model.embed_tokens.weight') return st.kind === 'float' ? F_TYPE[st.dtype] : GgmlType.F32;
  if (hf === 'lm_head.weight') return st.kind === 'quant' ? Q_TYPE[st.bits] : GgmlType.Q8_0;
  if (st.kind === 'quant' && st.bits !== bits)
    throw new Error(`--type ${target}: ${where} holds ${st.bits}-bit weights; they are exported as they are (--type q${st.bits}_0), not re-quantised from ${st.bits} bits`);
  return Q_TYPE[bits];
}

/** Rows converted at a time, so that the f32 copies of a [125696, 5120] head stay near 64 MiB. */
const CHUNK_ELEMENTS = 1 << 24;

/** One row block of a float tensor [n, K] in ggml bytes (normalising its rows first for the head). */
function encodeRows(t: Tensor, type: GgmlType, normalize: boolean): Uint8Array {
  if (normalize) t = l2normRows(t.astype('f32'));
  if (type === GgmlType.Q8_0 || type === GgmlType.Q4_0) return toBlocks(QuantizedWeight.quantize(t.dtype === 'f16' ? t.astype('f32') : t, type === GgmlType.Q8_0 ? 8 : 4, 32));
  const s = t.astype(type === GgmlType.F32 ? 'f32' : type === GgmlType.F16 ? 'f16' : 'bf16').copyStorage();
  return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
}

/** One whole HF tensor in ggml bytes (rows in HF order), converted a block of rows at a time. */
function encode(st: SourceTensor, type: GgmlType, normalize: boolean, chunkRows?: number): Uint8Array {
  return noGrad(() => {
    if (st.kind === 'quant' && (type === GgmlType.Q8_0 || type === GgmlType.Q4_0)) return toBlocks(st.read());
    const t: Tensor = st.kind === 'quant' ? st.read().dequantize() : st.read();
    if (t.ndim === 1) return encodeRows(t, type, false);
    const [N, K] = t.shape as [number, number];
    const rows = chunkRows ?? Math.max(1, Math.floor(CHUNK_ELEMENTS / K));
    if (rows >= N) return encodeRows(t, type, normalize);
    const rowBytes = ggmlBytes(type, K);
    const out = new Uint8Array(N * rowBytes);
    for (let r = 0; r < N; r += rows) out.set(encodeRows(contiguous(narrow(t, 0, r, Math.min(rows, N - r))), type, normalize), r * rowBytes);
    return out;
  });
}

export function exportGguf(src: ModelSource, out: string, o: ExportOptions = {}): ExportReport {
  const t0 = performance.now();
  const cfg = src.config;
  if (!src.tokenizer) throw new Error(`${src.where}: no tokenizer.model; llama.cpp needs the vocabulary inside the GGUF file (pass --tokenizer FILE)`);
  if (src.tokenizer.pieces.length !== cfg.vocabSize) throw new Error(`${src.where}: the tokenizer has ${src.tokenizer.pieces.length} pieces, the model's vocab_size is ${cfg.vocabSize}; llama.cpp needs them equal`);
  const target = o.type ?? defaultTarget(src);
  if (!GGUF_TARGETS.includes(target)) throw new Error(`--type must be one of ${GGUF_TARGETS.join(', ')}, got '${target}'`);
  const warnings = [...src.warnings];
  const lw = layerCountWarning(cfg);
  if (lw) warnings.push(lw);
  const C = cfg.hiddenSize, H = cfg.numAttentionHeads, D = C / H;
  const layout = ggufLayout(cfg);
  let pack: Uint8Array | null = null;  // W_pack of the current layer, encoded once for q, k and v
  let done = 0;
  const entries: GgufTensorEntry[] = layout.map(({ gguf, hf, part }) => {
    const st = src.tensors.get(hf);
    if (!st) throw new Error(`${src.where}: tensor '${hf}' is missing`);
    const want = hf === 'model.embed_tokens.weight' || hf === 'lm_head.weight' ? [cfg.vocabSize, C] : null;
    if (want && (st.shape[0] !== want[0] || st.shape[1] !== want[1])) throw new Error(`${src.where}: '${hf}' has shape [${st.shape}], the config needs [${want}]`);
    const type = typeFor(hf, st, target, src.where);
    const rows = part ? C : st.shape.length === 1 ? 1 : st.shape[0]!;
    const cols = st.shape.length === 1 ? st.shape[0]! : st.shape[1]!;
    if (part && st.shape[0] !== 3 * C) throw new Error(`${src.where}: '${hf}' has ${st.shape[0]} rows, expected 3 x ${C}`);
    if (type !== GgmlType.F32 && type !== GgmlType.F16 && type !== GgmlType.BF16 && cols % 32) throw new Error(`${hf}: ${cols} columns cannot be cut into ${ggmlTypeName(type)} blocks of 32`);
    return {
      name: gguf, dims: st.shape.length === 1 ? [cols] : [cols, rows], type,
      produce: () => {
        o.onProgress?.(++done, layout.length);
        if (!part) return encode(st, type, hf === 'lm_head.weight' && !src.headNormalized, o.chunkRows);
        if (part === 'q') pack = encode(st, type, false, o.chunkRows);
        const rb = ggmlBytes(type, C);
        const i = { q: 0, k: 1, v: 2 }[part];
        const slice = pack!.subarray(i * C * rb, (i + 1) * C * rb);
        if (part === 'v') { pack = null; return slice; }
        return permuteRows(slice, rb, H, D, true);
      },
    };
  });
  const kv = [...modelKv(cfg, o.name ?? src.name, target), ...vocabKv(src.tokenizer, { bos: cfg.bosTokenId, eos: cfg.eosTokenId, pad: cfg.padTokenId })];
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeGguf(out, kv, entries);
  return { file: out, type: target, bytes: fs.statSync(out).size, tensors: entries.length, seconds: (performance.now() - t0) / 1000, warnings };
}
