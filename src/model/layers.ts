// The layers of Baichuan 2 (SPEC §4.2-4.7), each a Module whose parameter
// names are the Hugging Face keys. Shapes: B batch, T new positions, C hidden,
// H heads, D = C / H, F ffn, V vocab.
import { Module } from '../engine/module.js';
import { Tensor } from '../engine/tensor.js';
import { noGrad, checkpoint } from '../engine/autograd.js';
import { rmsnorm, l2normRows } from '../engine/ops/norm.js';
import { linear } from '../engine/ops/matmul.js';
import { qlinear, canDecodeLayer, type QuantizedWeight, type QDecodeLayerWeights } from '../engine/quant.js';
import { add, swiglu } from '../engine/ops/elementwise.js';
import { rope } from '../engine/ops/position.js';
import { attention } from '../engine/ops/attention.js';
import { packedSelfAttention } from '../engine/ops/packed-attention.js';
import { cast, narrow, permute, reshape } from '../engine/ops/shape.js';
import type { BaichuanConfig } from './config.js';
import type { KvCache, SlotKvCache } from './kv-cache.js';

/** What every layer of one forward pass shares. */
export interface ForwardContext {
  B: number;
  T: number;
  /** RoPE tables for the T new positions ([B*T, D] or [T, D]); null for ALiBi. */
  rope: { cos: Float32Array; sin: Float32Array } | null;
  alibiSlopes: Float32Array | undefined;
  /** Key padding mask [B, past + T] (1 = real), or undefined when there is no padding. */
  keyMask: Int32Array | undefined;
  /** ALiBi only: the padding mask of the T queries (see AttentionOptions.queryMask). */
  queryMask: Int32Array | undefined;
  cache: KvCache | null;
  /** Cached positions before this forward. */
  past: number;
  /** Recompute each layer's activations in the backward pass instead of storing them. */
  recompute?: boolean;
  /** Continuous batching: row b appends to slot rows[b] of the cache and attends to that slot alone. */
  slots?: { cache: SlotKvCache; rows: readonly number[] };
  /** Packed rows: (b, start, len) attention spans (see ForwardOptions.segments). */
  segments?: Int32Array;
}

export class RMSNorm extends Module {
  constructor(readonly size: number, readonly eps: number) {
    super();
    this.registerParameter('weight', Tensor.ones([size]));  // [C]
  }
  get weight(): Tensor {
    return this.param('weight');
  }
  forward(x: Tensor): Tensor {
    return rmsnorm(x, this.param('weight'), this.eps);
  }
}

/**
 * A trainable update added to a Linear's output, [..., in] -> [..., out]
 * (LoRA: src/align/lora.ts). Its tensors are not parameters of the model, so
 * the model's weights and checkpoints stay those of the base.
 */
export interface LinearDelta {
  apply(x: Tensor): Tensor;
}

/**
 * A bias-free Linear: y = x W^T with weight [out, in] (Baichuan's Linears have no bias).
 * A quantised model sets `quantized` instead of the weight (frozen: only the
 * input gradient flows back). `delta` (LoRA) adds its output in y's dtype.
 */
export class Linear extends Module {
  quantized: QuantizedWeight | null = null;
  delta: LinearDelta | null = null;
  constructor(readonly outFeatures: number, readonly inFeatures: number) {
    super();
    this.registerParameter('weight', Tensor.placeholder([outFeatures, inFeatures]));
  }
  get weight(): Tensor {
    return this.param('weight');
  }
  forward(x: Tensor): Tensor {
    const y = this.quantized ? qlinear(x, this.quantized) : linear(x, this.param('weight'));
    if (!this.delta) return y;
    const d = this.delta.apply(x);
    return add(y, d.dtype === y.dtype ? d : cast(d, y.dtype));
  }
}

export class Attention extends Module {
  readonly W_pack: Linear;  // [3C, C], rows q | k | v
  readonly o_proj: Linear;  // [C, C]
  constructor(readonly cfg: BaichuanConfig, readonly layerIndex: number) {
    super();
    const C = cfg.hiddenSize;
    this.W_pack = this.registerModule('W_pack', new Linear(3 * C, C));
    this.o_proj = this.registerModule('o_proj', new Linear(C, C));
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const { B, T } = ctx;
    const C = this.cfg.hiddenSize, H = this.cfg.numAttentionHeads, D = C / H;
    if (!ctx.cache && !ctx.slots) {
      // training and cache-free forwards: one fused op, no head split copies
      const qkv = this.W_pack.forward(x);
      const a = packedSelfAttention(qkv.dtype === 'f32' ? qkv : cast(qkv, 'f32'), H, { rope: ctx.rope ?? undefined, alibiSlopes: ctx.alibiSlopes, keyMask: ctx.keyMask, queryMask: ctx.queryMask, segments: ctx.segments });
      return this.o_proj.forward(a.dtype === x.dtype || x.dtype === 'f32' ? a : cast(a, x.dtype));
    }
    const qkv = reshape(this.W_pack.forward(x), [B, T, 3, H, D]);
    let q = reshape(narrow(qkv, 2, 0, 1), [B, T, H, D]);
    let k = reshape(narrow(qkv, 2, 1, 1), [B, T, H, D]);
    const v = reshape(narrow(qkv, 2, 2, 1), [B, T, H, D]);
    if (ctx.rope) {
      q = rope(q, ctx.rope.cos, ctx.rope.sin);
      k = rope(k, ctx.rope.cos, ctx.rope.sin);
    }
    if (ctx.slots) return this.o_proj.forward(slotAttention(q, k, v, ctx, this.layerIndex, ctx.slots));
    let kAll: Tensor, vAll: Tensor;
    if (ctx.cache) {
      const cache = ctx.cache;
      cache.write(this.layerIndex, k.f32(), v.f32(), T);
      const Tk = ctx.past + T;
      const st = cache.strides;
      kAll = new Tensor(cache.keys[this.layerIndex]!, [B, H, Tk, D], 'f32', st);
      vAll = new Tensor(cache.values[this.layerIndex]!, [B, H, Tk, D], 'f32', st);
    } else {
      kAll = permute(k, [0, 2, 1, 3]);
      vAll = permute(v, [0, 2, 1, 3]);
    }
    const a = attention(permute(q, [0, 2, 1, 3]), kAll, vAll, { causal: true, past: ctx.past, alibiSlopes: ctx.alibiSlopes, keyMask: ctx.keyMask, queryMask: ctx.queryMask });
    return this.o_proj.forward(reshape(permute(a, [0, 2, 1, 3]), [B, T, C]));
  }
}

/**
 * Attention of rows that each own a cache slot: row b's keys go to its slot at
 * the slot's length, and its queries attend to that slot alone (exactly the
 * computation of a batch-1 forward with a KvCache). q, k, v: [B, T, H, D].
 */
function slotAttention(q: Tensor, k: Tensor, v: Tensor, ctx: ForwardContext, layer: number, slots: NonNullable<ForwardContext['slots']>): Tensor {
  const [B, T, H, D] = q.shape as [number, number, number, number];
  const { cache, rows } = slots;
  cache.write(layer, rows, k.f32(), v.f32(), T);
  const qh = permute(q, [0, 2, 1, 3]);
  const st = cache.strides;
  const out = new Float32Array(B * T * H * D);
  let dtype: Tensor['dtype'] = 'f32';
  rows.forEach((s, b) => {
    const past = cache.lengths[s]!;  // lengths advance after the last layer
    const kv = (buf: Float32Array) => new Tensor(buf, [1, H, past + T, D], 'f32', st, s * st[0]);
    const a = attention(narrow(qh, 0, b, 1), kv(cache.keys[layer]!), kv(cache.values[layer]!), { causal: true, past, alibiSlopes: ctx.alibiSlopes });
    dtype = a.dtype;
    out.set(permute(a, [0, 2, 1, 3]).f32(), b * T * H * D);
  });
  const merged = Tensor.from(out, [B, T, H * D]);
  return dtype === 'f32' ? merged : merged.astype(dtype);
}

export class MLP extends Module {
  readonly gate_proj: Linear;  // [F, C]
  readonly up_proj: Linear;    // [F, C]
  readonly down_proj: Linear;  // [C, F]
  constructor(cfg: BaichuanConfig) {
    super();
    const C = cfg.hiddenSize, F = cfg.intermediateSize;
    this.gate_proj = this.registerModule('gate_proj', new Linear(F, C));
    this.up_proj = this.registerModule('up_proj', new Linear(F, C));
    this.down_proj = this.registerModule('down_proj', new Linear(C, F));
  }
  forward(x: Tensor): Tensor {
    return this.down_proj.forward(swiglu(this.gate_proj.forward(x), this.up_proj.forward(x)));
  }
}

export class DecoderLayer extends Module {
  readonly input_layernorm: RMSNorm;
  readonly self_attn: Attention;
  readonly post_attention_layernorm: RMSNorm;
  readonly mlp: MLP;
  constructor(cfg: BaichuanConfig, index: number) {
    super();
    this.input_layernorm = this.registerModule('input_layernorm', new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps));
    this.self_attn = this.registerModule('self_attn', new Attention(cfg, index));
    this.post_attention_layernorm = this.registerModule('post_attention_layernorm', new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps));
    this.mlp = this.registerModule('mlp', new MLP(cfg));
  }
  /**
   * The weights for the fused decode kernel (engine/quant.ts qdecodeLayer), or
   * null when it cannot run this layer: a Linear not quantised or carrying a
   * delta (LoRA), or norms of another dtype.
   */
  decodeWeights(): QDecodeLayerWeights | null {
    const { W_pack, o_proj } = this.self_attn, { gate_proj, up_proj, down_proj } = this.mlp;
    const lins = [W_pack, o_proj, gate_proj, up_proj, down_proj];
    if (lins.some((l) => !l.quantized || l.delta)) return null;
    const w: QDecodeLayerWeights = {
      norm1: this.input_layernorm.weight, norm2: this.post_attention_layernorm.weight, eps: this.input_layernorm.eps,
      wpack: W_pack.quantized!, oproj: o_proj.quantized!, gate: gate_proj.quantized!, up: up_proj.quantized!, down: down_proj.quantized!,
    };
    return this.post_attention_layernorm.eps === w.eps && canDecodeLayer(w) ? w : null;
  }

  forward(h: Tensor, ctx: ForwardContext): Tensor {
    const block = (x: Tensor): Tensor => {
      const a = add(x, this.self_attn.forward(this.input_layernorm.forward(x), ctx));
      return add(a, this.mlp.forward(this.post_attention_layernorm.forward(a)));
    };
    // activation recomputation keeps only the layer's input for the backward pass
    return ctx.recompute && this.training && !ctx.cache ? checkpoint(block, [h]) : block(h);
  }
}

/**
 * NormHead (SPEC §4.7): logits = h . normalize(W, rows)^T. Training
 * re-normalises at every forward (the gradient flows through the
 * normalisation to the stored W); eval normalises once and caches.
 */
export class NormHead extends Module {
  private cached: Tensor | null = null;
  /** A quantised model's head: rows normalised before quantisation, so used as is. */
  quantized: QuantizedWeight | null = null;
  constructor(readonly cfg: BaichuanConfig) {
    super();
    this.registerParameter('weight', Tensor.placeholder([cfg.vocabSize, cfg.hiddenSize]));  // [V, C]
  }
  /**
   * The weight an inference load (loadModel { inference: true }) normalised in place: while it is
   * still the parameter, eval uses it as is, with no normalised copy (for 13B bf16 that copy is
   * 1.3 GB). Forgotten when training starts (the optimiser changes it in place).
   */
  private normalizedInPlace: Tensor | null = null;
  markRowsNormalized(): void {
    this.normalizedInPlace = this.param('weight');
    this.cached = null;
  }
  protected override modeChanged(): void {
    this.cached = null;
    if (this.training) this.normalizedInPlace = null;
  }
  /** The row-normalised weight [V, C] used for logits. */
  normalizedWeight(): Tensor {
    // a frozen head (LoRA) is normalised once even in training mode
    if (this.training && this.param('weight').requiresGrad) return l2normRows(this.param('weight'));
    if (this.normalizedInPlace && this.normalizedInPlace === this.param('weight')) return this.normalizedInPlace;
    if (!this.cached) this.cached = noGrad(() => l2normRows(this.param('weight')));
    return this.cached;
  }
  forward(h: Tensor): Tensor {
    if (this.quantized) return qlinear(h, this.quantized);
    return linear(h, this.normalizedWeight());
  }
}
