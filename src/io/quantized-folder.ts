// Quantised model folders (written by `baichuan2 quantize`, src/infer/quantize.ts):
// the quantization_config, which modules are quantised, and loading one into
// a model whose Linears and NormHead carry QuantizedWeights.
import fs from 'node:fs';
import path from 'node:path';
import { QuantizedWeight, type QuantBits } from '../engine/quant.js';
import { BaichuanForCausalLM, fromHfName, hfName } from '../model/baichuan.js';
import { configFromJSON, type BaichuanConfig } from '../model/config.js';
import { Linear, NormHead } from '../model/layers.js';
import { readSafetensors, readSafetensorsHeader, readSafetensorsRaw } from './safetensors.js';

export const QUANT_METHOD = 'baichuan2-ts-weight-only';
export const HEAD_BITS = 8;

export interface QuantizationConfig {
  quant_method: typeof QUANT_METHOD;
  bits: QuantBits;
  group_size: number;
  lm_head_bits: number;
  lm_head_normalized: true;
  modules_not_converted: string[];
}

/** HF module names (without `.weight`) of the quantised Linears. */
export function quantizedModules(cfg: BaichuanConfig): string[] {
  const out: string[] = [];
  for (let i = 0; i < cfg.numHiddenLayers; i++)
    for (const m of ['self_attn.W_pack', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']) out.push(`model.layers.${i}.${m}`);
  return out;
}

export function readQuantizationConfig(dir: string): QuantizationConfig | null {
  const j = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { quantization_config?: QuantizationConfig };
  const qc = j.quantization_config;
  if (!qc) return null;
  if (qc.quant_method !== QUANT_METHOD) throw new Error(`${dir}: quantization_config.quant_method '${qc.quant_method}' is not supported (expected '${QUANT_METHOD}'; bitsandbytes NF4 folders must be converted from the bf16 checkpoint)`);
  QuantizedWeight.check(1, qc.group_size, qc.bits, qc.group_size);
  return qc;
}

/** Load a folder written by `quantizeModelFolder` (single model.safetensors). */
export function loadQuantizedModel(dir: string, qc: QuantizationConfig, onProgress?: (done: number, total: number) => void): BaichuanForCausalLM {
  const cfg = configFromJSON(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>, path.join(dir, 'config.json'));
  const file = path.join(dir, 'model.safetensors');
  if (!fs.existsSync(file)) throw new Error(`${dir}: a quantised folder needs model.safetensors`);
  const model = new BaichuanForCausalLM(cfg);
  const header = readSafetensorsHeader(file);
  const modules = [...quantizedModules(cfg), 'lm_head'];
  const quantNames = new Set(modules.flatMap((m) => [`${m}.qweight`, `${m}.scales`]));
  for (const n of quantNames) if (!header.entries.has(n)) throw new Error(`${file}: missing quantised tensor '${n}'`);
  const plain = [...header.entries.keys()].filter((n) => !quantNames.has(n));
  const expectedPlain = new Set([...model.namedParameters()].map(([n]) => hfName(n)).filter((n) => !quantNames.has(n.replace(/\.weight$/, '.qweight'))));
  const missing = [...expectedPlain].filter((n) => !header.entries.has(n));
  if (missing.length) throw new Error(`${file}: missing tensors ${missing.slice(0, 3).join(', ')}`);
  const total = plain.length + modules.length;
  let done = 0;
  for (const [name, t] of readSafetensors(file, plain)) {
    if (!expectedPlain.has(name)) throw new Error(`${file}: unexpected tensor '${name}'`);
    model.setParameter(fromHfName(name), t);
    onProgress?.(++done, total);
  }
  for (const m of modules) {
    const raw = readSafetensorsRaw(file, [`${m}.qweight`, `${m}.scales`]);
    const q = raw.get(`${m}.qweight`)!, s = raw.get(`${m}.scales`)!;
    const bits: QuantBits = m === 'lm_head' ? (qc.lm_head_bits as QuantBits) : qc.bits;
    const N = q.shape[0]!, K = bits === 8 ? q.shape[1]! : q.shape[1]! * 2;
    const scales = new Uint16Array(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength / 2);
    const qw = new QuantizedWeight(N, K, bits, qc.group_size, q.bytes, scales);
    const mod = m === 'lm_head' ? model.lm_head : model.getModule(m);
    if (!(mod instanceof Linear || mod instanceof NormHead)) throw new Error(`internal: ${m} is not a Linear`);
    const [eN, eK] = (mod instanceof NormHead ? [cfg.vocabSize, cfg.hiddenSize] : [mod.outFeatures, mod.inFeatures]);
    if (N !== eN || K !== eK) throw new Error(`${file}: '${m}' is quantised as [${N}, ${K}], the config needs [${eN}, ${eK}]`);
    mod.quantized = qw;
    onProgress?.(++done, total);
  }
  model.eval();
  return model;
}
