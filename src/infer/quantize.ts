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
import fs from 'node:fs';
import path from 'node:path';
import { noGrad } from '../engine/autograd.js';
import { l2normRows } from '../engine/ops/norm.js';
import { QuantizedWeight, type QuantBits } from '../engine/quant.js';
import { hfName } from '../model/baichuan.js';
import { loadModel, readConfig, weightIndex, writeJSON } from '../io/hf-folder.js';
import { readSafetensors, readSafetensorsHeader } from '../io/safetensors.js';
import type { Tensor } from '../engine/tensor.js';
import { HEAD_BITS, QUANT_METHOD, quantizedModules, readQuantizationConfig, type QuantizationConfig } from '../io/quantized-folder.js';
import { writeSafetensorsRaw, type RawStreamEntry } from '../io/safetensors-stream.js';

export interface QuantizeReport { seconds: number; bytesIn: number; bytesOut: number; tensors: number }

export function quantizeModelFolder(src: string, out: string, o: { bits: QuantBits; groupSize: number; onProgress?: (done: number, total: number) => void }): QuantizeReport {
  const t0 = performance.now();
  if (readQuantizationConfig(src)) throw new Error(`${src}: already quantised`);
  const cfg = readConfig(src);
  QuantizedWeight.check(cfg.hiddenSize, cfg.hiddenSize, o.bits, o.groupSize);
  if (cfg.intermediateSize % o.groupSize) throw new Error(`quantize: intermediate_size ${cfg.intermediateSize} is not a multiple of the group size ${o.groupSize}`);
  const tensors = tensorSources(src);
  const linear = new Set(quantizedModules(cfg));
  const entries: RawStreamEntry[] = [];
  let pending: QuantizedWeight | null = null;
  let bytesIn = 0, done = 0;
  const bump = () => o.onProgress?.(++done, tensors.length);
  for (const { name: hf, shape, dtype, bytes, read } of tensors) {
    bytesIn += bytes;
    const module = hf.replace(/\.weight$/, '');
    const head = hf === 'lm_head.weight';
    if (linear.has(module) || head) {
      const bits: QuantBits = head ? HEAD_BITS : o.bits;
      const [N, K] = shape as [number, number];
      entries.push({
        name: `${module}.qweight`, shape: bits === 8 ? [N, K] : [N, K / 2], code: bits === 8 ? 'I8' : 'U8', bytes: bits === 8 ? N * K : (N * K) / 2,
        produce: () => {
          const p = read();
          const w = head ? noGrad(() => l2normRows(p.to('f32'))) : p;
          pending = QuantizedWeight.quantize(w, bits, o.groupSize);
          bump();
          return pending.q;
        },
      });
      entries.push({
        name: `${module}.scales`, shape: [N, K / o.groupSize], code: 'F16', bytes: ((N * K) / o.groupSize) * 2,
        produce: () => { const sc = pending!.scales; pending = null; return new Uint8Array(sc.buffer, sc.byteOffset, sc.byteLength); },
      });
    } else {
      // kept as stored (f16 becomes bf16, the same size)
      entries.push({
        name: hf, shape, code: dtype === 'f32' ? 'F32' : 'BF16', bytes,
        produce: () => {
          bump();
          let t = read();
          if (t.dtype === 'f16') t = t.to('bf16').detach();
          const st = t.copyStorage();
          return new Uint8Array(st.buffer, st.byteOffset, st.byteLength);
        },
      });
    }
  }
  const expected = new Set(quantizedModules(cfg).map((m) => `${m}.weight`).concat('lm_head.weight'));
  for (const n of expected) if (!tensors.some((t) => t.name === n)) throw new Error(`${src}: weights lack '${n}'`);
  fs.mkdirSync(out, { recursive: true });
  writeSafetensorsRaw(path.join(out, 'model.safetensors'), entries, { format: 'pt', quantization: `${o.bits}-bit g${o.groupSize}` });
  const config = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  const qc: QuantizationConfig = { quant_method: QUANT_METHOD, bits: o.bits, group_size: o.groupSize, lm_head_bits: HEAD_BITS, lm_head_normalized: true, modules_not_converted: ['model.embed_tokens', 'model.norm', '*layernorm'] };
  writeJSON(path.join(out, 'config.json'), { ...config, quantization_config: qc });
  for (const f of ['tokenizer.model', 'generation_config.json', 'tokenizer_config.json', 'special_tokens_map.json'])
    if (fs.existsSync(path.join(src, f))) fs.copyFileSync(path.join(src, f), path.join(out, f));
  return { seconds: (performance.now() - t0) / 1000, bytesIn, bytesOut: fs.statSync(path.join(out, 'model.safetensors')).size, tensors: entries.length };
}

interface TensorSource { name: string; shape: number[]; dtype: 'f32' | 'bf16'; bytes: number; read: () => Tensor }

/**
 * The folder's tensors, each read only when needed: straight from safetensors one tensor at a
 * time (so a 13B model never has to fit in memory), or from a loaded model for .bin folders.
 */
function tensorSources(src: string): TensorSource[] {
  const files = [...weightIndex(src).entries()];
  if (files.every(([f]) => f.endsWith('.safetensors'))) {
    const out: TensorSource[] = [];
    for (const [file] of files) {
      const h = readSafetensorsHeader(file);
      for (const [name, e] of h.entries) {
        if (name.endsWith('.inv_freq') || name.endsWith('.future_mask')) continue;
        if (!['F32', 'BF16', 'F16'].includes(e.dtype)) throw new Error(`${file}: tensor '${name}' has dtype ${e.dtype}; expected a float checkpoint`);
        out.push({ name, shape: e.shape, dtype: e.dtype === 'F32' ? 'f32' : 'bf16', bytes: e.data_offsets[1] - e.data_offsets[0], read: () => readSafetensors(file, [name]).get(name)! });
      }
    }
    return out;
  }
  const model = loadModel(src);
  return [...model.namedParameters()].map(([n, p]) => ({ name: hfName(n), shape: p.shape as number[], dtype: p.dtype === 'f32' ? 'f32' : 'bf16', bytes: p.size * (p.dtype === 'f32' ? 4 : 2), read: () => p }));
}
