// Baichuan 2 <-> llama.cpp's "baichuan" GGUF architecture: tensor names,
// hyper-parameter keys, the q/k row permutation, Q8_0/Q4_0 block layout, and
// reading a GGUF file as a model (`loadModel('x.gguf')`, src/io/hf-folder.ts).
// What llama.cpp expects (its convert_hf_to_gguf.py BaichuanModel and its
// baichuan graph, read for this):
// - W_pack [3C, C] is stored as attn_q, attn_k, attn_v [C, C]; q and k rows are
//   permuted per head because llama.cpp rotates adjacent pairs (x[2i], x[2i+1])
//   while Baichuan rotates halves (x[i], x[i + D/2]): GGUF row 2j + s of a head
//   is HF row s * D/2 + j (s = 0, 1; j < D/2).
// - output.weight is used as a plain Linear (llama.cpp has no NormHead), so we
//   write it with rows L2-normalised, and read it back as already normalised.
// - llama.cpp picks the position scheme from the layer count alone: 32 layers
//   -> RoPE, 40 -> ALiBi (max bias 8), any other count -> no position signal.
//   We also write `baichuan2ts.position_embedding` so our own loader never
//   guesses; for files without it we apply llama.cpp's rule.
// - Q8_0 block = f16 scale + 32 int8; Q4_0 block = f16 scale + 16 bytes, byte i
//   holding element i (low nibble) and i + 16 (high), each q + 8: our 8-bit
//   g32 and 4-bit g32 layouts with the scales interleaved, so no re-quantising.
import { Tensor } from '../engine/tensor.js';
import { QuantizedWeight, type QuantBits } from '../engine/quant.js';
import { noGrad } from '../engine/autograd.js';
import { BaichuanForCausalLM, fromHfName, hfName } from '../model/baichuan.js';
import { configFromJSON, type BaichuanConfig } from '../model/config.js';
import { Linear, NormHead } from '../model/layers.js';
import type { SpModel } from '../tokenizer/sentencepiece-model.js';
import { GgmlType, ggmlTypeName, gv, isGgufFile, kvNumber, kvString, readGgufHeader, readGgufTensorBytes, type GgufFile, type GgufTensorInfo, type GgufValue } from './gguf.js';
import { spModelFromGguf } from './gguf-tokenizer.js';

export const ARCH = 'baichuan';
export { isGgufFile };

/** A model's tensors under their Hugging Face names, each read only when asked for. */
export type SourceTensor =
  | { kind: 'float'; shape: number[]; dtype: 'f32' | 'bf16' | 'f16'; read: () => Tensor }
  | { kind: 'quant'; shape: [number, number]; bits: QuantBits; groupSize: number; read: () => QuantizedWeight };

export interface ModelSource {
  where: string;
  name: string;
  config: BaichuanConfig;
  tensors: Map<string, SourceTensor>;
  /** lm_head rows are already L2-normalised (GGUF files, our quantised folders). */
  headNormalized: boolean;
  tokenizer: SpModel | null;
  /** Things a user should know (e.g. a head that is not normalised). */
  warnings: string[];
}

const LAYER_MAP: [string, string][] = [
  ['input_layernorm', 'attn_norm'], ['self_attn.o_proj', 'attn_output'], ['post_attention_layernorm', 'ffn_norm'],
  ['mlp.gate_proj', 'ffn_gate'], ['mlp.up_proj', 'ffn_up'], ['mlp.down_proj', 'ffn_down'],
];

/** GGUF tensor names in file order, each with the HF tensor it comes from ('q' | 'k' | 'v' for W_pack parts). */
export function ggufLayout(cfg: BaichuanConfig): { gguf: string; hf: string; part?: 'q' | 'k' | 'v' }[] {
  const out: { gguf: string; hf: string; part?: 'q' | 'k' | 'v' }[] = [{ gguf: 'token_embd.weight', hf: 'model.embed_tokens.weight' }];
  for (let i = 0; i < cfg.numHiddenLayers; i++) {
    const l = `model.layers.${i}`, b = `blk.${i}`;
    out.push({ gguf: `${b}.attn_norm.weight`, hf: `${l}.input_layernorm.weight` });
    for (const p of ['q', 'k', 'v'] as const) out.push({ gguf: `${b}.attn_${p}.weight`, hf: `${l}.self_attn.W_pack.weight`, part: p });
    for (const [h, g] of LAYER_MAP.slice(1)) out.push({ gguf: `${b}.${g}.weight`, hf: `${l}.${h}.weight` });
  }
  out.push({ gguf: 'output_norm.weight', hf: 'model.norm.weight' }, { gguf: 'output.weight', hf: 'lm_head.weight' });
  return out;
}

/**
 * Permute the rows of a [H * D, ...] block of rows (each `rowBytes` long) between
 * HF's rotate-half order and llama.cpp's pairwise order. toGguf: out row
 * (h, 2j + s) = in row (h, s * D/2 + j); the inverse when toGguf is false.
 */
export function permuteRows(src: Uint8Array, rowBytes: number, H: number, D: number, toGguf: boolean): Uint8Array {
  const out = new Uint8Array(src.length);
  const half = D / 2;
  for (let h = 0; h < H; h++)
    for (let j = 0; j < half; j++)
      for (let s = 0; s < 2; s++) {
        const g = h * D + 2 * j + s, f = h * D + s * half + j;
        const [from, to] = toGguf ? [f, g] : [g, f];
        out.set(src.subarray(from * rowBytes, (from + 1) * rowBytes), to * rowBytes);
      }
  return out;
}

/** Our (codes, f16 scales) with group 32 -> ggml Q8_0 / Q4_0 blocks. */
export function toBlocks(w: QuantizedWeight): Uint8Array {
  if (w.groupSize !== 32) throw new Error(`GGUF: a ${w.bits}-bit weight with group size ${w.groupSize} has no ggml type (Q8_0 / Q4_0 need 32); quantise with --group-size 32`);
  const qb = w.bits === 8 ? 32 : 16, bb = qb + 2, n = w.scales.length;
  const out = new Uint8Array(n * bb);
  for (let b = 0; b < n; b++) {
    out[b * bb] = w.scales[b]! & 0xff;
    out[b * bb + 1] = w.scales[b]! >> 8;
    out.set(w.q.subarray(b * qb, (b + 1) * qb), b * bb + 2);
  }
  return out;
}

export function fromBlocks(bytes: Uint8Array, N: number, K: number, bits: QuantBits): QuantizedWeight {
  const qb = bits === 8 ? 32 : 16, bb = qb + 2, n = (N * K) / 32;
  if (bytes.length !== n * bb) throw new Error(`GGUF: ${bytes.length} bytes for a [${N}, ${K}] ${bits === 8 ? 'Q8_0' : 'Q4_0'} tensor, expected ${n * bb}`);
  const q = new Uint8Array(n * qb), scales = new Uint16Array(n);
  for (let b = 0; b < n; b++) {
    scales[b] = bytes[b * bb]! | (bytes[b * bb + 1]! << 8);
    q.set(bytes.subarray(b * bb + 2, b * bb + bb), b * qb);
  }
  return new QuantizedWeight(N, K, bits, 32, q, scales);
}

export type GgufTarget = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0';
export const FILE_TYPE: Record<GgufTarget, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, bf16: 32 };

/** The hyper-parameter keys llama.cpp's baichuan loader reads, plus ours. */
export function modelKv(cfg: BaichuanConfig, name: string, target: GgufTarget): [string, GgufValue][] {
  const D = cfg.hiddenSize / cfg.numAttentionHeads;
  return [
    ['general.architecture', gv.str(ARCH)],
    ['general.name', gv.str(name)],
    ['general.file_type', gv.u32(FILE_TYPE[target])],
    ['general.quantization_version', gv.u32(2)],
    [`${ARCH}.tensor_data_layout`, gv.str('Meta AI original pth')],  // as llama.cpp's converter writes (q/k permuted)
    [`${ARCH}.context_length`, gv.u32(cfg.modelMaxLength)],
    [`${ARCH}.embedding_length`, gv.u32(cfg.hiddenSize)],
    [`${ARCH}.block_count`, gv.u32(cfg.numHiddenLayers)],
    [`${ARCH}.feed_forward_length`, gv.u32(cfg.intermediateSize)],
    [`${ARCH}.rope.dimension_count`, gv.u32(D)],
    [`${ARCH}.rope.freq_base`, gv.f32(cfg.ropeTheta)],
    [`${ARCH}.attention.head_count`, gv.u32(cfg.numAttentionHeads)],
    [`${ARCH}.attention.head_count_kv`, gv.u32(cfg.numAttentionHeads)],
    [`${ARCH}.attention.layer_norm_rms_epsilon`, gv.f32(cfg.rmsNormEps)],
    ['baichuan2ts.position_embedding', gv.str(cfg.position)],
    ['baichuan2ts.lm_head_normalized', gv.bool(true)],
  ];
}

/** What llama.cpp will do with this model's positions, or null when it matches the model. */
export function layerCountWarning(cfg: BaichuanConfig): string | null {
  const L = cfg.numHiddenLayers;
  const llama = L === 32 ? 'rope' : L === 40 ? 'alibi' : 'none';
  if (llama === cfg.position) return null;
  const what = { rope: 'RoPE', alibi: 'ALiBi', none: 'no position encoding at all' }[llama];
  return `llama.cpp chooses Baichuan's position scheme from the layer count (32 -> RoPE, 40 -> ALiBi, anything else -> none): this ${L}-layer ${cfg.position === 'rope' ? 'RoPE' : 'ALiBi'} model will run in llama.cpp with ${what}, and its outputs there will be wrong. This package reads the file correctly (baichuan2ts.position_embedding).`;
}

// ---------------------------------------------------------------- reading GGUF

function configFromGguf(g: GgufFile, vocab: number): BaichuanConfig {
  const arch = kvString(g, 'general.architecture');
  if (arch !== ARCH) throw new Error(`${g.file}: general.architecture is '${arch}'; only '${ARCH}' (Baichuan / Baichuan 2) files are read`);
  const k = (key: string, d?: number) => kvNumber(g, `${ARCH}.${key}`, d);
  const H = k('attention.head_count'), C = k('embedding_length'), L = k('block_count');
  const Hkv = k('attention.head_count_kv', H);
  if (Hkv !== H) throw new Error(`${g.file}: ${ARCH}.attention.head_count_kv = ${Hkv} differs from head_count = ${H} (grouped-query attention is not Baichuan 2)`);
  if (k('rope.dimension_count', C / H) !== C / H) throw new Error(`${g.file}: ${ARCH}.rope.dimension_count must equal the head dim ${C / H} (partial RoPE is not Baichuan 2)`);
  let position = kvString(g, 'baichuan2ts.position_embedding');
  if (position === undefined) {
    if (L !== 32 && L !== 40) throw new Error(`${g.file}: ${L} layers and no baichuan2ts.position_embedding: llama.cpp would run this with no position encoding, which is not a Baichuan model we can reproduce`);
    position = L === 32 ? 'rope' : 'alibi';
  }
  const embd = g.tensors.find((t) => t.name === 'token_embd.weight');
  const dtype = embd?.type === GgmlType.F32 ? 'float32' : embd?.type === GgmlType.F16 ? 'float16' : 'bfloat16';
  const ctx = k('context_length');
  return configFromJSON({
    position_embedding: position, vocab_size: vocab, hidden_size: C, intermediate_size: k('feed_forward_length'), num_hidden_layers: L,
    num_attention_heads: H, max_position_embeddings: ctx, model_max_length: ctx, rms_norm_eps: k('attention.layer_norm_rms_epsilon'),
    rope_theta: k('rope.freq_base', 10000), bos_token_id: kvNumber(g, 'tokenizer.ggml.bos_token_id', 1), eos_token_id: kvNumber(g, 'tokenizer.ggml.eos_token_id', 2),
    pad_token_id: kvNumber(g, 'tokenizer.ggml.padding_token_id', 0), torch_dtype: dtype,
  }, `${g.file} (GGUF metadata)`);
}

function floatOf(g: GgufFile, t: GgufTensorInfo, shape: number[], bytes: Uint8Array): Tensor {
  const copy = bytes.slice();
  if (t.type === GgmlType.F32) return Tensor.fromStorage(new Float32Array(copy.buffer), shape, 'f32');
  if (t.type === GgmlType.F16) return Tensor.fromStorage(new Uint16Array(copy.buffer), shape, 'f16');
  if (t.type === GgmlType.BF16) return Tensor.fromStorage(new Uint16Array(copy.buffer), shape, 'bf16');
  throw new Error(`${g.file}: tensor '${t.name}' has type ${ggmlTypeName(t.type)}; expected F32, F16 or BF16`);
}

const QBITS: Partial<Record<number, QuantBits>> = { [GgmlType.Q8_0]: 8, [GgmlType.Q4_0]: 4 };
const FLOAT: Partial<Record<number, 'f32' | 'f16' | 'bf16'>> = { [GgmlType.F32]: 'f32', [GgmlType.F16]: 'f16', [GgmlType.BF16]: 'bf16' };

/** A GGUF file as a ModelSource (tensors are read from the file only when asked for). */
export function ggufSource(file: string): ModelSource {
  const g = readGgufHeader(file);
  const tok = g.kv.has('tokenizer.ggml.model') ? spModelFromGguf(g) : null;
  const byName = new Map(g.tensors.map((t) => [t.name, t]));
  const get = (n: string) => {
    const t = byName.get(n);
    if (!t) throw new Error(`${file}: GGUF tensor '${n}' is missing`);
    if (t.bytes < 0) throw new Error(`${file}: tensor '${n}' has type ${ggmlTypeName(t.type)}, which we do not read (F32, F16, BF16, Q8_0 and Q4_0 are supported; re-quantise with llama.cpp's llama-quantize or export again with this package)`);
    return t;
  };
  const embd = get('token_embd.weight');
  const cfg = configFromGguf(g, embd.dims[1]!);
  if (tok && tok.pieces.length !== cfg.vocabSize) throw new Error(`${file}: the vocabulary has ${tok.pieces.length} tokens, token_embd has ${cfg.vocabSize} rows`);
  const C = cfg.hiddenSize, H = cfg.numAttentionHeads, D = C / H;
  const tensors = new Map<string, SourceTensor>();
  const warnings: string[] = [];
  for (const { gguf, hf, part } of ggufLayout(cfg)) {
    if (part && part !== 'q') continue;
    const parts = part ? ['q', 'k', 'v'].map((p) => get(gguf.replace('attn_q', `attn_${p}`))) : [get(gguf)];
    const t0 = parts[0]!;
    if (parts.some((p) => p.type !== t0.type)) throw new Error(`${file}: ${parts.map((p) => `${p.name} is ${ggmlTypeName(p.type)}`).join(', ')}; q, k and v must share one type`);
    // HF shape [rows, columns] (ggml dims are innermost first)
    const shape = t0.dims.length === 1 ? [t0.dims[0]!] : [(part ? 3 : 1) * t0.dims[1]!, t0.dims[0]!];
    const expected = hf.endsWith('norm.weight') || hf.endsWith('layernorm.weight') ? [C] : null;
    if (expected && (t0.dims.length !== 1 || t0.dims[0] !== C)) throw new Error(`${file}: '${t0.name}' has dims [${t0.dims}], expected [${C}]`);
    // the row bytes of each part; q and k go back to HF's rotate-half order
    const readRows = (): Uint8Array => {
      if (!part) return readGgufTensorBytes(g, t0);
      const rb = t0.bytes / t0.dims[1]!;
      const [q, k, v] = parts.map((p) => readGgufTensorBytes(g, p));
      const out = new Uint8Array(q!.length * 3);
      out.set(permuteRows(q!, rb, H, D, false), 0);
      out.set(permuteRows(k!, rb, H, D, false), q!.length);
      out.set(v!, 2 * q!.length);
      return out;
    };
    const bits = QBITS[t0.type];
    if (bits && hf !== 'model.embed_tokens.weight') {
      const [N, K] = shape as [number, number];
      tensors.set(hf, { kind: 'quant', shape: [N, K], bits, groupSize: 32, read: () => fromBlocks(readRows(), N, K, bits) });
    } else if (bits) {
      // a quantised embedding (llama.cpp's own q8_0 / q4_0 files): dequantised once, to f32
      const [N, K] = shape as [number, number];
      tensors.set(hf, { kind: 'float', shape, dtype: 'f32', read: () => fromBlocks(readRows(), N, K, bits).dequantize() });
    } else {
      const dtype = FLOAT[t0.type];
      if (!dtype) throw new Error(`${file}: tensor '${t0.name}' has type ${ggmlTypeName(t0.type)}, which we do not read`);
      tensors.set(hf, { kind: 'float', shape, dtype, read: () => floatOf(g, t0, shape, readRows()) });
    }
  }
  if (g.kv.get('baichuan2ts.lm_head_normalized')?.value !== true) {
    const head = tensors.get('lm_head.weight')!;
    const w = noGrad(() => head.kind === 'quant' ? head.read().dequantize() : head.read().astype('f32')).f32();
    let worst = 0;
    for (let r = 0; r < Math.min(cfg.vocabSize, 64); r++) {
      let s = 0;
      for (let i = 0; i < C; i++) s += w[r * C + i]! ** 2;
      worst = Math.max(worst, Math.abs(Math.sqrt(s) - 1));
    }
    if (worst > 0.05) warnings.push(`${file}: output.weight rows are not unit-norm (|norm - 1| up to ${worst.toFixed(3)}): the converter did not apply Baichuan 2's NormHead. Used as is, as llama.cpp does.`);
  }
  return { where: file, name: kvString(g, 'general.name') ?? 'baichuan2', config: cfg, tensors, headNormalized: true, tokenizer: tok, warnings };
}

/** Build a model from a source: float tensors as parameters, quantised ones onto the Linears / NormHead. */
export function modelFromSource(src: ModelSource, opts: { dtype?: 'f32' | 'bf16'; onProgress?: (done: number, total: number) => void } = {}): BaichuanForCausalLM {
  const cfg = src.config;
  const model = new BaichuanForCausalLM(cfg);
  const params = [...model.namedParameters()];
  let done = 0;
  for (const [n, p] of params) {
    const name = hfName(n);
    const st = src.tensors.get(name);
    if (!st) throw new Error(`${src.where}: tensor for '${name}' is missing`);
    if (st.shape.length !== p.shape.length || st.shape.some((d, i) => d !== p.shape[i])) throw new Error(`${src.where}: '${name}' has shape [${st.shape}], the config needs [${p.shape}]`);
    if (st.kind === 'quant') {
      const mod = name === 'lm_head.weight' ? model.lm_head : model.getModule(name.replace(/\.weight$/, ''));
      if (!(mod instanceof Linear || mod instanceof NormHead)) throw new Error(`${src.where}: '${name}' is quantised, but only Linear weights and the head can be`);
      mod.quantized = st.read();
    } else {
      let t = st.read();
      if (t.dtype === 'f16') t = t.astype('f32');
      if (opts.dtype && t.dtype !== opts.dtype) t = t.astype(opts.dtype);
      model.setParameter(fromHfName(name), t);
      if (name === 'lm_head.weight' && src.headNormalized) model.lm_head.markRowsNormalized();
    }
    opts.onProgress?.(++done, params.length);
  }
  model.eval();
  return model;
}

export function loadGgufModel(file: string, opts: { dtype?: 'f32' | 'bf16'; onProgress?: (done: number, total: number) => void } = {}): BaichuanForCausalLM {
  const src = ggufSource(file);
  for (const w of src.warnings) process.emitWarning(w);
  return modelFromSource(src, opts);
}

/** Header-only summary of a GGUF file (for `baichuan2 info`). */
export function describeGguf(file: string): { config: BaichuanConfig; types: Record<string, number>; tensors: number; tokenizer: boolean; warning: string | null; name: string } {
  const src = ggufSource(file);
  const g = readGgufHeader(file);
  const types: Record<string, number> = {};
  for (const t of g.tensors) types[ggmlTypeName(t.type)] = (types[ggmlTypeName(t.type)] ?? 0) + 1;
  return { config: src.config, types, tensors: g.tensors.length, tokenizer: !!src.tokenizer, warning: layerCountWarning(src.config), name: src.name };
}
