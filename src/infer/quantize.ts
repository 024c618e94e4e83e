// Weight-only quantisation of a model folder (`baichuan2 quantize`) and
// loading one back. What is quantised, and why:
// - every Linear of every layer (W_pack, o_proj, gate_proj, up_proj,
//   down_proj) at the requested bits and group size: they are ~97% of the
//   bytes a decode step reads;
// - the NormHead: its rows are L2-normalised first (what NormHead does at
//   run time), then stored at 8 bits whatever --bits says, because the output
//   layer is the most sensitive and is read once per token;
// - the embedding and the RMSNorm weights stay in their stored dtype: decode
//   reads one embedding row per token, so quantising it saves memory only.
// On disk: safetensors with `<module>.qweight` (I8 [N, K] at 8 bits, U8
// [N, K/2] at 4 bits) and `<module>.scales` (F16 [N, K/G]); config.json gets a
// `quantization_config`. docs/QUANTIZATION.md has the byte layout.
// Memory: the source (safetensors or PyTorch .bin, single or sharded) is read
// one tensor at a time into one reused buffer; the head is normalised and
// quantised in blocks of rows, so the peak is about the largest kept tensor
// (the embedding) plus the quantised head, never the model.
import fs from 'node:fs';
import path from 'node:path';
import { noGrad } from '../engine/autograd.js';
import { l2normRows } from '../engine/ops/norm.js';
import { QuantizedWeight, type QuantBits } from '../engine/quant.js';
import { readConfig, writeJSON } from '../io/hf-folder.js';
import { checkOutputFolder, listWeights } from '../io/weight-files.js';
import { FLOAT_DTYPES, decodeTensor, readRows, type TensorSource } from '../io/tensor-source.js';
import { HEAD_BITS, QUANT_METHOD, quantizedModules, readQuantizationConfig, type QuantizationConfig } from '../io/quantized-folder.js';
import { writeSafetensorsRaw, type RawStreamEntry } from '../io/safetensors-stream.js';

export interface QuantizeReport { seconds: number; bytesIn: number; bytesOut: number; tensors: number }

/** Rows of the head normalised and quantised at a time (4096 x 5120 f32 = 80 MiB). */
const HEAD_BLOCK_ROWS = 4096;

export function quantizeModelFolder(src: string, out: string, o: { bits: QuantBits; groupSize: number; onProgress?: (doneBytes: number, totalBytes: number) => void }): QuantizeReport {
  const t0 = performance.now();
  checkOutputFolder(src, out, 'quantize');
  if (readQuantizationConfig(src)) throw new Error(`${src}: already quantised`);
  const cfg = readConfig(src);
  QuantizedWeight.check(cfg.hiddenSize, cfg.hiddenSize, o.bits, o.groupSize);
  if (cfg.intermediateSize % o.groupSize) throw new Error(`quantize: intermediate_size ${cfg.intermediateSize} is not a multiple of the group size ${o.groupSize}`);
  const tensors = tensorSources(src);
  const linear = new Set(quantizedModules(cfg));
  const expected = new Set([...linear].map((m) => `${m}.weight`).concat('lm_head.weight'));
  for (const n of expected) if (!tensors.some((t) => t.name === n)) throw new Error(`${src}: weights lack '${n}'`);
  const totalBytes = tensors.reduce((a, t) => a + t.bytes, 0);
  // one read buffer for all the Linears (the largest of them), reused tensor after tensor
  const scratch = new Uint8Array(Math.max(0, ...tensors.filter((t) => linear.has(t.name.replace(/\.weight$/, ''))).map((t) => t.bytes)));
  const entries: RawStreamEntry[] = [];
  let pending: { q: Uint8Array; scales: Uint16Array } | null = null;
  let bytesIn = 0;
  const bump = (t: TensorSource) => { bytesIn += t.bytes; o.onProgress?.(bytesIn, totalBytes); };
  for (const t of tensors) {
    const module = t.name.replace(/\.weight$/, '');
    const head = t.name === 'lm_head.weight';
    if (linear.has(module) || head) {
      const bits: QuantBits = head ? HEAD_BITS : o.bits;
      const [N, K] = t.shape as [number, number];
      entries.push({
        name: `${module}.qweight`, shape: bits === 8 ? [N, K] : [N, K / 2], code: bits === 8 ? 'I8' : 'U8', bytes: bits === 8 ? N * K : (N * K) / 2,
        produce: () => {
          pending = head ? quantizeHead(t, o.groupSize) : QuantizedWeight.quantize(decodeTensor(`${t.file}: tensor '${t.name}'`, t.dtype, t.shape, t.readBytes(0, N, scratch)), bits, o.groupSize);
          bump(t);
          return pending.q;
        },
      });
      entries.push({
        name: `${module}.scales`, shape: [N, K / o.groupSize], code: 'F16', bytes: ((N * K) / o.groupSize) * 2,
        produce: () => { const sc = pending!.scales; pending = null; return new Uint8Array(sc.buffer, sc.byteOffset, sc.byteLength); },
      });
    } else {
      // kept as stored (f16 becomes bf16, the same size): the stored bytes go straight through
      entries.push({
        name: t.name, shape: [...t.shape], code: t.dtype === 'F32' ? 'F32' : 'BF16', bytes: t.bytes,
        produce: () => {
          bump(t);
          if (t.dtype !== 'F16') return t.readBytes();
          const st = decodeTensor(t.name, t.dtype, t.shape, t.readBytes()).astype('bf16').data;
          return new Uint8Array(st.buffer, st.byteOffset, st.byteLength);
        },
      });
    }
  }
  fs.mkdirSync(out, { recursive: true });
  writeSafetensorsRaw(path.join(out, 'model.safetensors'), entries, { format: 'pt', quantization: `${o.bits}-bit g${o.groupSize}` });
  const config = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  const qc: QuantizationConfig = { quant_method: QUANT_METHOD, bits: o.bits, group_size: o.groupSize, lm_head_bits: HEAD_BITS, lm_head_normalized: true, modules_not_converted: ['model.embed_tokens', 'model.norm', '*layernorm'] };
  writeJSON(path.join(out, 'config.json'), { ...config, quantization_config: qc });
  for (const f of ['tokenizer.model', 'generation_config.json', 'tokenizer_config.json', 'special_tokens_map.json'])
    if (fs.existsSync(path.join(src, f))) fs.copyFileSync(path.join(src, f), path.join(out, f));
  return { seconds: (performance.now() - t0) / 1000, bytesIn, bytesOut: fs.statSync(path.join(out, 'model.safetensors')).size, tensors: entries.length };
}

/**
 * The head [V, C]: rows L2-normalised in f32 (what NormHead does at run time), then quantised at
 * HEAD_BITS, a block of rows at a time (rows are independent in both steps, so the result is the
 * same as for the whole matrix).
 */
function quantizeHead(t: TensorSource, groupSize: number): { q: Uint8Array; scales: Uint16Array } {
  const [V, C] = t.shape as [number, number];
  const rowCodes = HEAD_BITS === 8 ? C : C / 2;
  const q = new Uint8Array(V * rowCodes), scales = new Uint16Array((V * C) / groupSize);
  for (let r = 0; r < V; r += HEAD_BLOCK_ROWS) {
    const n = Math.min(HEAD_BLOCK_ROWS, V - r);
    const w = noGrad(() => l2normRows(readRows(t, r, r + n).astype('f32')));
    const b = QuantizedWeight.quantize(w, HEAD_BITS, groupSize);
    q.set(b.q, r * rowCodes);
    scales.set(b.scales, (r * C) / groupSize);
  }
  return { q, scales };
}

/** The folder's float tensors (safetensors or .bin, single or sharded), each read only when needed. */
function tensorSources(src: string): TensorSource[] {
  const out: TensorSource[] = [];
  for (const t of listWeights(src).sources) {
    if (t.name.endsWith('.inv_freq') || t.name.endsWith('.future_mask')) continue;
    if (!(FLOAT_DTYPES as readonly string[]).includes(t.dtype)) throw new Error(`${t.file}: tensor '${t.name}' has dtype ${t.dtype}; expected a BF16, F16 or F32 checkpoint`);
    out.push(t);
  }
  return out;
}
