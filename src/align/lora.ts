// LoRA (Hu et al. 2021) as Hugging Face PEFT lays it out, so adapters move
// both ways between PEFT and this package:
//   delta(x) = (alpha / r) * dropout(x) A^T B^T,  A [r, in], B [out, r]
//   A ~ kaiming-uniform(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)), B = 0 (PEFT's
//   init_lora_weights = true), so the step-0 model equals the base exactly;
//   use_rslora scales by alpha / sqrt(r) instead.
//   adapter_config.json (peft_type LORA, r, lora_alpha, lora_dropout,
//   target_modules, ...) and adapter_model.safetensors with PEFT's names:
//   base_model.model.model.layers.{i}.self_attn.W_pack.lora_A.weight
// Default targets are the official recipe's (fine-tune.py: W_pack, r 1, alpha
// 32, dropout 0.1). The base stays frozen; with a quantised base its Linears
// pass only the input gradient (engine/quant.ts). Dropout masks are a
// function of (seed, step, module), so activation recomputation and resume
// see the same mask.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { Tensor } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { backend } from '../engine/backend.js';
import { linear, matmul } from '../engine/ops/matmul.js';
import { mul, scale as scaleOp } from '../engine/ops/elementwise.js';
import { BaichuanForCausalLM } from '../model/baichuan.js';
import { Linear, type LinearDelta } from '../model/layers.js';
import { loadModel, writeJSON, type LoadOptions } from '../io/hf-folder.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';

export const LORA_TARGETS = ['W_pack', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = typeof LORA_TARGETS[number];

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  targets: LoraTarget[];
  rslora?: boolean;
}

export const OFFICIAL_LORA: LoraConfig = { r: 1, alpha: 32, dropout: 0.1, targets: ['W_pack'] };

const PEFT_PREFIX = 'base_model.model.';

/** adapter_config.json as PEFT writes it (the fields we read; others are kept on save). */
const AdapterConfigSchema = z.object({
  peft_type: z.literal('LORA'),
  r: z.number().int().positive(),
  lora_alpha: z.number().positive(),
  lora_dropout: z.number().min(0).max(1).default(0),
  target_modules: z.union([z.array(z.string()), z.string()]),
  bias: z.string().default('none'),
  fan_in_fan_out: z.boolean().default(false),
  use_rslora: z.boolean().default(false),
  use_dora: z.boolean().default(false),
  modules_to_save: z.array(z.string()).nullable().default(null),
  rank_pattern: z.record(z.number()).default({}),
  alpha_pattern: z.record(z.number()).default({}),
}).passthrough();

function u32Hash(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) { h ^= x >>> 0; h = Math.imul(h, 0x01000193) >>> 0; h ^= h >>> 15; }
  return h >>> 0;
}

/** One adapted Linear: trainable A [r, in] and B [out, r] (f32). */
export class LoraLayer implements LinearDelta {
  constructor(readonly name: string, readonly A: Tensor, readonly B: Tensor, readonly scaling: number, readonly dropout: number, private readonly owner: LoraAdapter, readonly index: number) {}

  apply(x: Tensor): Tensor {
    let h = x;
    const o = this.owner;
    if (o.training && this.dropout > 0) {
      const n = x.size;
      const mask = new Float32Array(n);
      backend().randomFill(mask, u32Hash(o.seed, o.step, o.micro, this.index), false, 0, 1);
      const keep = 1 / (1 - this.dropout);
      for (let i = 0; i < n; i++) mask[i] = mask[i]! >= this.dropout ? keep : 0;
      h = mul(x, Tensor.from(mask, x.shape));
    }
    return scaleOp(linear(linear(h, this.A), this.B), this.scaling);
  }
}

export class LoraAdapter {
  readonly layers: LoraLayer[] = [];
  training = true;
  /** Dropout mask key: the trainer sets the optimizer step and micro-batch before each forward. */
  seed = 0;
  step = 0;
  micro = 0;

  constructor(readonly config: LoraConfig, readonly extraConfig: Record<string, unknown> = {}) {
    if (!(Number.isInteger(config.r) && config.r > 0)) throw new RangeError(`LoRA: rank must be a positive integer, got ${config.r}`);
    if (!(config.alpha > 0)) throw new RangeError(`LoRA: alpha must be positive, got ${config.alpha}`);
    if (!(config.dropout >= 0 && config.dropout < 1)) throw new RangeError(`LoRA: dropout must be in [0, 1), got ${config.dropout}`);
    if (!config.targets.length) throw new RangeError('LoRA: no target modules');
    for (const t of config.targets) if (!(LORA_TARGETS as readonly string[]).includes(t)) throw new RangeError(`LoRA: target '${t}' is not one of ${LORA_TARGETS.join(', ')}`);
  }

  get scaling(): number {
    return this.config.rslora ? this.config.alpha / Math.sqrt(this.config.r) : this.config.alpha / this.config.r;
  }

  /** The adapted Linears of `model`, by HF module name (model.layers.0.self_attn.W_pack). */
  static targetModules(model: BaichuanForCausalLM, targets: readonly string[]): [string, Linear][] {
    const out: [string, Linear][] = [];
    model.model.layers.forEach((layer, i) => {
      const mods: [string, Linear][] = [['self_attn.W_pack', layer.self_attn.W_pack], ['self_attn.o_proj', layer.self_attn.o_proj],
        ['mlp.gate_proj', layer.mlp.gate_proj], ['mlp.up_proj', layer.mlp.up_proj], ['mlp.down_proj', layer.mlp.down_proj]];
      for (const [n, m] of mods) if (targets.includes(n.split('.')[1]!)) out.push([`model.layers.${i}.${n}`, m]);
    });
    return out;
  }

  /** Fresh adapter on `model` (A random from `seed`, B zero); freezes the base. */
  static attach(model: BaichuanForCausalLM, config: LoraConfig, seed: number): LoraAdapter {
    const a = new LoraAdapter(config);
    a.seed = seed;
    let k = 0;
    for (const [name, lin] of LoraAdapter.targetModules(model, config.targets)) {
      const bound = 1 / Math.sqrt(lin.inFeatures);
      const A = Tensor.randFast([config.r, lin.inFeatures], u32Hash(seed, 0xa, k), -bound, bound);
      const B = Tensor.zeros([lin.outFeatures, config.r]);
      a.addLayer(name, lin, A, B, k++);
    }
    freezeBase(model);
    return a;
  }

  /** Attach one layer's tensors (internal: attach and applyLoraAdapter). */
  addLayer(name: string, lin: Linear, A: Tensor, B: Tensor, index: number): void {
    if (lin.delta) throw new Error(`LoRA: ${name} already carries an adapter`);
    A.requiresGrad_(true);
    B.requiresGrad_(true);
    const l = new LoraLayer(name, A, B, this.scaling, this.config.dropout, this, index);
    lin.delta = l;
    this.layers.push(l);
  }

  train(flag = true): this {
    this.training = flag;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Trainable tensors with PEFT names. */
  namedParameters(): [string, Tensor][] {
    return this.layers.flatMap((l) => [[`${PEFT_PREFIX}${l.name}.lora_A.weight`, l.A], [`${PEFT_PREFIX}${l.name}.lora_B.weight`, l.B]] as [string, Tensor][]);
  }

  peftConfig(baseModel: string): Record<string, unknown> {
    return {
      ...this.extraConfig,
      peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: baseModel, inference_mode: true,
      r: this.config.r, lora_alpha: this.config.alpha, lora_dropout: this.config.dropout, target_modules: [...this.config.targets],
      bias: 'none', fan_in_fan_out: false, init_lora_weights: true, use_rslora: !!this.config.rslora, use_dora: false,
      modules_to_save: null, layers_to_transform: null, layers_pattern: null, rank_pattern: {}, alpha_pattern: {}, revision: null,
    };
  }

  /** Write adapter_config.json and adapter_model.safetensors (each atomically). */
  save(dir: string, baseModel = ''): void {
    fs.mkdirSync(dir, { recursive: true });
    writeSafetensors(path.join(dir, 'adapter_model.safetensors'), this.namedParameters().map(([n, t]) => [n, t.detach()] as [string, Tensor]), { format: 'pt' });
    writeJSON(path.join(dir, 'adapter_config.json'), this.peftConfig(baseModel));
  }

  /** Fold the adapter into the base weights (W += s B A, in W's dtype) and detach it. */
  merge(model: BaichuanForCausalLM): void {
    noGrad(() => {
      for (const [name, lin] of LoraAdapter.targetModules(model, this.config.targets)) {
        const l = this.layers.find((x) => x.name === name);
        if (!l) continue;
        if (lin.quantized) throw new Error(`LoRA merge: ${name} is quantised; merge into the bf16/f32 base, then quantise the merged folder`);
        const w = lin.weight;
        const d = matmul(l.B.detach(), l.A.detach()).f32();  // [out, in]
        const wf = w.f32();
        const out = new Float32Array(wf.length);
        const s = this.scaling;
        for (let i = 0; i < out.length; i++) out[i] = wf[i]! + s * d[i]!;
        const t = Tensor.from(out, w.shape);
        model.setParameter(`${name}.weight`, w.dtype === 'f32' ? t : t.astype(w.dtype));
        lin.delta = null;
      }
    });
    this.layers.length = 0;
  }

  /** Remove the adapter from the model (the base is unchanged). */
  detach(model: BaichuanForCausalLM): void {
    for (const [, lin] of LoraAdapter.targetModules(model, LORA_TARGETS)) if (this.layers.includes(lin.delta as LoraLayer)) lin.delta = null;
    this.layers.length = 0;
  }
}

export function freezeBase(model: BaichuanForCausalLM): void {
  for (const [, p] of model.namedParameters()) p.requiresGrad = false;
}

/** Read a PEFT adapter folder's config (validated; names the bad field). */
export function readAdapterConfig(dir: string): { config: LoraConfig; raw: Record<string, unknown> } {
  const file = path.join(dir, 'adapter_config.json');
  if (!fs.existsSync(file)) throw new Error(`${dir}: no adapter_config.json (not a PEFT adapter folder)`);
  let raw: unknown;
  try { raw = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { throw new Error(`${file}: invalid JSON (${(e as Error).message})`); }
  const r = AdapterConfigSchema.safeParse(raw);
  if (!r.success) throw new Error(`${file}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const c = r.data;
  if (c.bias !== 'none') throw new Error(`${file}: bias '${c.bias}' is not supported (only 'none')`);
  if (c.fan_in_fan_out) throw new Error(`${file}: fan_in_fan_out = true is not supported (Baichuan's Linears are [out, in])`);
  if (c.use_dora) throw new Error(`${file}: DoRA adapters are not supported`);
  if (c.modules_to_save && c.modules_to_save.length) throw new Error(`${file}: modules_to_save (${c.modules_to_save.join(', ')}) is not supported`);
  if (Object.keys(c.rank_pattern).length || Object.keys(c.alpha_pattern).length) throw new Error(`${file}: rank_pattern / alpha_pattern are not supported`);
  const mods = typeof c.target_modules === 'string' ? [c.target_modules] : c.target_modules;
  for (const m of mods) if (!(LORA_TARGETS as readonly string[]).includes(m)) throw new Error(`${file}: target_modules: '${m}' is not a Baichuan 2 Linear (${LORA_TARGETS.join(', ')})`);
  return { config: { r: c.r, alpha: c.lora_alpha, dropout: c.lora_dropout, targets: mods as LoraTarget[], rslora: c.use_rslora }, raw: raw as Record<string, unknown> };
}

/** Put the PEFT adapter in `adapterDir` on `model` (inference mode; base frozen). Names every missing or misshaped tensor. */
export function applyLoraAdapter(model: BaichuanForCausalLM, adapterDir: string): LoraAdapter {
  const { config, raw } = readAdapterConfig(adapterDir);
  const file = path.join(adapterDir, 'adapter_model.safetensors');
  if (!fs.existsSync(file)) throw new Error(`${adapterDir}: no adapter_model.safetensors (adapter_model.bin is not read; convert it with PEFT's safe_serialization)`);
  const tensors = readSafetensors(file);
  const a = new LoraAdapter(config, raw);
  const used = new Set<string>();
  let k = 0;
  for (const [name, lin] of LoraAdapter.targetModules(model, config.targets)) {
    const get = (which: 'A' | 'B', shape: number[]) => {
      // PEFT saves without the adapter name; some tools keep ".default"
      const keys = [`${PEFT_PREFIX}${name}.lora_${which}.weight`, `${PEFT_PREFIX}${name}.lora_${which}.default.weight`];
      const key = keys.find((x) => tensors.has(x));
      if (!key) throw new Error(`${file}: missing '${keys[0]}'`);
      const t = tensors.get(key)!;
      if (t.ndim !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) throw new Error(`${file}: '${key}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
      used.add(key);
      return t.astype('f32');
    };
    a.addLayer(name, lin, get('A', [config.r, lin.inFeatures]), get('B', [lin.outFeatures, config.r]), k++);
  }
  const unused = [...tensors.keys()].filter((n) => !used.has(n));
  if (unused.length) throw new Error(`${file}: tensors not matching the model or config, e.g. '${unused[0]}'`);
  freezeBase(model);
  a.eval();
  return a;
}

/**
 * Load a model folder (full, bf16 or quantised) and, when given, a PEFT
 * adapter on top: the one entry point for generate, chat, logits, eval and serve.
 */
export function loadModelWithAdapter(dir: string, opts: LoadOptions & { adapter?: string } = {}): { model: BaichuanForCausalLM; adapter: LoraAdapter | null } {
  const { adapter, ...load } = opts;
  const model = loadModel(dir, load);
  const a = adapter ? applyLoraAdapter(model, adapter) : null;
  model.eval();
  return { model, adapter: a };
}
