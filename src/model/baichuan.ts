// BaichuanForCausalLM: the whole model (SPEC §4.3), both position schemes.
//   h = embed(ids); for each layer: h += attn(norm1(h)); h += mlp(norm2(h))
//   logits = NormHead(norm(h)); loss = CE(shifted) + z_loss_weight * mean(max logit^2)
// Follows the official modeling_baichuan.py (7B for RoPE, 13B for ALiBi);
// golden outputs of that code are in ../shared/data/golden/ (test/model/).
import { Module } from '../engine/module.js';
import { Tensor, shapeStr } from '../engine/tensor.js';
import { embedding } from '../engine/ops/embedding.js';
import { crossEntropy, type CrossEntropyStats } from '../engine/ops/loss.js';
import { ropeTables, alibiSlopes } from '../engine/ops/position.js';
import { contiguous, narrow, reshape } from '../engine/ops/shape.js';
import { Rng } from '../engine/rng.js';
import { isGradEnabled } from '../engine/autograd.js';
import { qdecodeLayer, type QDecodeLayerWeights } from '../engine/quant.js';
import type { DType } from '../engine/dtype.js';
import { DecoderLayer, NormHead, RMSNorm, type ForwardContext } from './layers.js';
import type { BaichuanConfig } from './config.js';
import type { KvCache, SlotKvCache } from './kv-cache.js';

export interface ForwardOptions {
  /** [B, past + T] (or [B, T] without a cache): 1 for real tokens, 0 for padding. */
  attentionMask?: ArrayLike<number>;
  /** RoPE positions [B, T] (row-major); default past .. past+T-1. */
  positionIds?: ArrayLike<number>;
  /** [B, T] i32 labels as HF: the model shifts them by one; -100 = ignore. */
  labels?: Tensor;
  /** [B, T] i32 next-token targets already aligned with the inputs (no shift; packed pre-training). */
  targets?: Tensor;
  cache?: KvCache;
  /**
   * Continuous batching (inference only): row b of the input appends to slot rows[b]
   * of this cache at the slot's own length (RoPE positions follow it) and attends to
   * that slot alone. No padding, no attentionMask; positionIds are ignored.
   */
  slots?: { cache: SlotKvCache; rows: readonly number[] };
  outputHiddenStates?: boolean;
  /** Only compute logits for the last position (generation). */
  lastLogitsOnly?: boolean;
  /** Activation recomputation (gradient checkpointing) per decoder layer. */
  recompute?: boolean;
  /**
   * Packed rows (fine-tuning): (b, start, len) triples; attention stays inside
   * each span (block-diagonal causal). Pass positionIds restarting at 0 per span.
   */
  segments?: Int32Array;
}

export interface ForwardOutput {
  logits: Tensor;       // [B, T, V] (or [B, 1, V] with lastLogitsOnly)
  loss?: Tensor;        // scalar
  lossStats?: CrossEntropyStats;
  hiddenStates?: Tensor[];  // embeddings, after each layer but the last, then after the final norm
}

export class BaichuanModel extends Module {
  readonly layers: DecoderLayer[];
  readonly norm: RMSNorm;
  constructor(readonly cfg: BaichuanConfig) {
    super();
    this.registerParameter('embed_tokens', Tensor.placeholder([cfg.vocabSize, cfg.hiddenSize]));  // [V, C]
    const layers = this.registerModule('layers', new Module());
    this.layers = Array.from({ length: cfg.numHiddenLayers }, (_, i) => (layers as unknown as { registerModule: (n: string, m: Module) => DecoderLayer }).registerModule(String(i), new DecoderLayer(cfg, i)));
    this.norm = this.registerModule('norm', new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps));
  }
  get embedTokens(): Tensor {
    return this.param('embed_tokens');
  }
}

export class BaichuanForCausalLM extends Module {
  readonly model: BaichuanModel;
  readonly lm_head: NormHead;
  private slopes: Float32Array | undefined;
  /**
   * Run a batch-1 one-token step with a KvCache through the fused decode kernel
   * (one native call per layer, bit-identical to the composed layers) when every
   * layer is quantised; false forces the composed path (tests compare the two).
   */
  fusedDecode = true;

  constructor(readonly config: BaichuanConfig) {
    super();
    this.model = this.registerModule('model', new BaichuanModel(config));
    this.lm_head = this.registerModule('lm_head', new NormHead(config));
    this.slopes = config.position === 'alibi' ? alibiSlopes(config.numAttentionHeads) : undefined;
  }

  forward(inputIds: Tensor, opts: ForwardOptions = {}): ForwardOutput {
    const cfg = this.config;
    if (inputIds.dtype !== 'i32' || inputIds.ndim !== 2) throw new TypeError(`BaichuanForCausalLM: input ids must be i32 [B, T], got ${inputIds.toString()}`);
    const [B, T] = inputIds.shape as [number, number];
    const cache = opts.cache ?? null;
    const past = cache ? cache.length : 0;
    if (past + T > cfg.modelMaxLength)
      throw new RangeError(`BaichuanForCausalLM: ${past + T} positions exceed the context length model_max_length = ${cfg.modelMaxLength}`);
    if (cache && (cache.B !== B)) throw new RangeError(`BaichuanForCausalLM: cache holds ${cache.B} rows, input has ${B}`);
    if (opts.slots) checkSlots(opts.slots, B, T, cfg.modelMaxLength, !!cache);
    const ids = inputIds.copyStorage() as Int32Array;
    for (let i = 0; i < ids.length; i++)
      if (ids[i]! < 0 || ids[i]! >= cfg.vocabSize) throw new RangeError(`BaichuanForCausalLM: token id ${ids[i]} at position ${i} is outside the vocabulary [0, ${cfg.vocabSize})`);

    // key padding mask over all positions (cached + new)
    let keyMask: Int32Array | undefined;
    if (cache) {
      const m = opts.attentionMask;
      if (m && m.length !== B * (past + T)) throw new RangeError(`attention mask has ${m.length} entries, expected B x (past + T) = ${B * (past + T)}`);
      const newPart = m ? Int32Array.from({ length: B * T }, (_, i) => m[Math.floor(i / T) * (past + T) + past + (i % T)]!) : null;
      cache.appendMask(T, newPart);
      keyMask = cache.maskPrefix(past + T);
      if (keyMask.every((v) => v === 1)) keyMask = undefined;
    } else if (opts.attentionMask) {
      if (opts.attentionMask.length !== B * T) throw new RangeError(`attention mask has ${opts.attentionMask.length} entries, expected B x T = ${B * T}`);
      keyMask = Int32Array.from(opts.attentionMask, (v) => (v ? 1 : 0));
      if (keyMask.every((v) => v === 1)) keyMask = undefined;
    }

    // The 13B code's 2-D mask blanks padding query rows entirely (uniform attention).
    let queryMask: Int32Array | undefined;
    if (cfg.position === 'alibi' && keyMask) {
      const Tk = past + T;
      queryMask = Int32Array.from({ length: B * T }, (_, i) => keyMask![Math.floor(i / T) * Tk + past + (i % T)]!);
      if (queryMask.every((v) => v === 1)) queryMask = undefined;
    }
    let ropeT: ForwardContext['rope'] = null;
    if (cfg.position === 'rope') {
      const D = cfg.hiddenSize / cfg.numAttentionHeads;
      if (opts.slots) {
        const { cache: sc, rows } = opts.slots;
        ropeT = ropeTables(Int32Array.from({ length: B * T }, (_, i) => sc.lengths[rows[Math.floor(i / T)]!]! + (i % T)), D, cfg.ropeTheta);
      } else if (opts.positionIds) {
        if (opts.positionIds.length !== B * T) throw new RangeError(`positionIds has ${opts.positionIds.length} entries, expected B x T = ${B * T}`);
        ropeT = ropeTables(opts.positionIds, D, cfg.ropeTheta);
      } else {
        ropeT = ropeTables(Array.from({ length: T }, (_, t) => past + t), D, cfg.ropeTheta);
      }
    }
    if (opts.segments && (cache || keyMask)) throw new RangeError('BaichuanForCausalLM: segments (packed rows) cannot be combined with a cache or an attention mask');
    const ctx: ForwardContext = { B, T, rope: ropeT, alibiSlopes: this.slopes, keyMask, queryMask, cache, past, recompute: opts.recompute, slots: opts.slots, segments: opts.segments };

    let h = embedding(inputIds, this.model.embedTokens, cfg.padTokenId);
    const hidden: Tensor[] | undefined = opts.outputHiddenStates ? [h] : undefined;
    const fused = !hidden && !opts.segments && B === 1 && T === 1 && cache && !keyMask && !queryMask ? this.fusedDecodeWeights() : null;
    if (fused && cache) {
      const h32 = h.f32().slice(), H = cfg.numAttentionHeads;
      fused.forEach((w, i) => qdecodeLayer(h32, w, { keys: cache.keys[i]!, values: cache.values[i]!, H, capacity: cache.capacity, Tk: past + 1 }, ropeT, this.slopes ?? null));
      h = Tensor.from(h32, [1, 1, cfg.hiddenSize]);
    } else {
      this.model.layers.forEach((layer, i) => {
        h = layer.forward(h, ctx);
        if (hidden && i < this.model.layers.length - 1) hidden.push(h);
      });
    }
    if (cache) cache.length = past + T;
    if (opts.slots) for (const r of opts.slots.rows) opts.slots.cache.lengths[r]! += T;
    h = this.model.norm.forward(h);
    if (hidden) hidden.push(h);
    if (opts.lastLogitsOnly) h = contiguous(narrow(h, 1, T - 1, 1));
    const logits = this.lm_head.forward(h);
    const out: ForwardOutput = { logits, hiddenStates: hidden };
    if (opts.targets) {
      const t = opts.targets;
      if (t.dtype !== 'i32' || t.shape[0] !== B || t.shape[1] !== T) throw new RangeError(`targets must be i32 [${B}, ${T}], got ${t.toString()}`);
      const stats = {} as CrossEntropyStats;
      out.loss = crossEntropy(reshape(logits, [B * T, cfg.vocabSize]), reshape(t, [B * T]), { zLossWeight: cfg.zLossWeight }, stats);
      out.lossStats = stats;
    } else if (opts.labels) {
      const labels = opts.labels;
      if (labels.dtype !== 'i32' || labels.shape[0] !== B || labels.shape[1] !== T) throw new RangeError(`labels must be i32 [${B}, ${T}], got ${labels.toString()}`);
      if (T < 2) throw new RangeError('labels need at least 2 positions (the model shifts them by one)');
      const lab = labels.copyStorage() as Int32Array;
      const shifted = new Int32Array(B * (T - 1));
      for (let b = 0; b < B; b++) for (let t = 0; t < T - 1; t++) shifted[b * (T - 1) + t] = lab[b * T + t + 1]!;
      const V = cfg.vocabSize;
      const shiftLogits = reshape(contiguous(narrow(logits, 1, 0, T - 1)), [B * (T - 1), V]);
      const stats = {} as CrossEntropyStats;
      out.loss = crossEntropy(shiftLogits, Tensor.from(shifted, [B * (T - 1)], 'i32'), { zLossWeight: cfg.zLossWeight }, stats);
      out.lossStats = stats;
    }
    return out;
  }

  /** Every layer's weights for the fused decode kernel, or null when one layer cannot take it (or gradients are recorded). */
  private fusedDecodeWeights(): QDecodeLayerWeights[] | null {
    if (!this.fusedDecode || isGradEnabled() || this.model.layers.length === 0) return null;
    const ws: QDecodeLayerWeights[] = [];
    for (const layer of this.model.layers) {
      const w = layer.decodeWeights();
      if (!w) return null;
      ws.push(w);
    }
    return ws;
  }

  /**
   * Random initialisation as the official code: N(0, initializer_range) for
   * Linears and the embedding (pad row zero), RMSNorm ones, NormHead
   * kaiming-uniform U(-1/sqrt(C), 1/sqrt(C)). Each tensor gets its own seed
   * drawn from `seed`, so any tensor can be regenerated alone (see initTensor).
   */
  initWeights(seed: number, dtype: DType = 'f32'): this {
    const rng = new Rng(seed);
    for (const [name, p] of this.namedParameters()) {
      const t = initTensor(hfName(name), [...p.shape], this.config, rng.nextU32());
      this.setParameter(name, dtype === 'f32' ? t : t.astype(dtype));
    }
    return this;
  }
}

function checkSlots(slots: NonNullable<ForwardOptions['slots']>, B: number, T: number, maxLen: number, hasCache: boolean): void {
  if (hasCache) throw new RangeError('BaichuanForCausalLM: give either cache or slots, not both');
  const { cache, rows } = slots;
  if (rows.length !== B) throw new RangeError(`BaichuanForCausalLM: ${rows.length} slot rows for an input of ${B} rows`);
  if (new Set(rows).size !== B) throw new RangeError('BaichuanForCausalLM: a slot appears twice in one forward');
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= cache.slots) throw new RangeError(`BaichuanForCausalLM: slot ${r} is outside [0, ${cache.slots})`);
    if (cache.lengths[r]! + T > maxLen) throw new RangeError(`BaichuanForCausalLM: slot ${r} would hold ${cache.lengths[r]! + T} positions, beyond the context length model_max_length = ${maxLen}`);
  }
}

/** One parameter's initial value (official scheme), from its own seed. */
/**
 * Range-check token ids that came from outside (flags, files, API callers) before
 * they are converted to i32: a value like 4294967301 must be refused, not wrap to 5.
 */
export function checkTokenIds(ids: ArrayLike<number>, vocabSize: number, what = 'token ids'): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
      throw new RangeError(`${what}: token id ${id} is outside the vocabulary [0, ${vocabSize}) (position ${i})`);
  }
}

export function initTensor(name: string, shape: number[], cfg: BaichuanConfig, seed: number): Tensor {
  if (name.endsWith('layernorm.weight') || name === 'model.norm.weight') return Tensor.ones(shape);
  if (name === 'lm_head.weight') {
    const bound = 1 / Math.sqrt(cfg.hiddenSize);
    return Tensor.randFast(shape, seed, -bound, bound);
  }
  const t = Tensor.randnFast(shape, seed, cfg.initializerRange);
  if (name === 'model.embed_tokens.weight') t.data.fill(0, cfg.padTokenId * cfg.hiddenSize, (cfg.padTokenId + 1) * cfg.hiddenSize);
  return t;
}

/** Parameter names as in Hugging Face checkpoints (the embedding is registered as a bare parameter). */
export function hfName(name: string): string {
  return name === 'model.embed_tokens' ? 'model.embed_tokens.weight' : name;
}

export function fromHfName(name: string): string {
  return name === 'model.embed_tokens.weight' ? 'model.embed_tokens' : name;
}

export function checkShape(name: string, t: Tensor, expected: readonly number[]): void {
  if (t.ndim !== expected.length || t.shape.some((d, i) => d !== expected[i]))
    throw new Error(`tensor '${name}' has shape ${shapeStr(t.shape)}, the config needs ${shapeStr(expected)}`);
}
