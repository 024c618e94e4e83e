// Autoregressive generation with a KV cache: left-padded batch prefill, then
// one token per step; RoPE positions from the attention mask (cumsum - 1, as
// HF's prepare_inputs_for_generation), EOS stop per row, a seeded sampler.
// `GenerationSession` runs one step at a time (for streaming and servers);
// `generate` runs it to the end.
import { Tensor } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/rng.js';
import { KvCache } from '../model/kv-cache.js';
import { checkTokenIds, type BaichuanForCausalLM } from '../model/baichuan.js';
import { sampleToken, validateSampling, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens?: number;
  /** Stop a row when it emits this id (default: the config's eos). Pass -1 to never stop. */
  eosTokenId?: number;
  seed?: number;
  /** Called after every step with the new token of each row (-1 for finished rows) and the raw logits. */
  onStep?: (tokens: number[], stepLogits: Float32Array[]) => void;
}

export interface GenerateResult {
  /** Generated ids per row (without the prompt; ends at and includes eos if produced). */
  tokens: number[][];
  prefillSeconds: number;
  decodeSeconds: number;
}

export class GenerationSession {
  readonly B: number;
  readonly tokens: number[][];
  readonly done: boolean[];
  prefillSeconds = 0;
  decodeSeconds = 0;
  private readonly cache: KvCache;
  private readonly mask: number[][];
  private readonly seen: number[][];
  private readonly rng: Rng;
  private readonly eos: number;
  private readonly maxNew: number;
  private input: Tensor;
  private T: number;
  private steps = 0;

  constructor(readonly model: BaichuanForCausalLM, prompts: number[][], readonly opts: GenerateOptions = {}) {
    validateSampling(opts);
    const cfg = model.config;
    const B = (this.B = prompts.length);
    if (B === 0) throw new RangeError('generate: no prompts');
    const maxNew = (this.maxNew = opts.maxNewTokens ?? 64);
    if (!Number.isInteger(maxNew) || maxNew < 0) throw new RangeError(`generate: maxNewTokens must be a non-negative integer, got ${maxNew}`);
    const Tp = Math.max(...prompts.map((p) => p.length));
    if (Tp === 0) throw new RangeError('generate: empty prompt');
    if (Tp + maxNew > cfg.modelMaxLength)
      throw new RangeError(`generate: prompt of ${Tp} tokens + ${maxNew} new tokens exceeds the context length ${cfg.modelMaxLength}`);
    prompts.forEach((p, b) => checkTokenIds(p, cfg.vocabSize, `generate: prompt ${b}`));
    this.eos = opts.eosTokenId ?? cfg.eosTokenId;
    this.rng = new Rng(opts.seed ?? 0);
    const H = cfg.numAttentionHeads;
    this.cache = new KvCache(cfg.numHiddenLayers, B, H, cfg.hiddenSize / H, Tp + Math.max(maxNew, 1));
    // left padding: row b = [pad ... pad, prompt]
    const ids = new Int32Array(B * Tp).fill(cfg.padTokenId);
    this.mask = prompts.map((p, b) => {
      ids.set(p, b * Tp + Tp - p.length);
      return Array.from({ length: Tp }, (_, t) => (t >= Tp - p.length ? 1 : 0));
    });
    this.input = Tensor.from(ids, [B, Tp], 'i32');
    this.T = Tp;
    this.seen = prompts.map((p) => [...p]);
    this.tokens = prompts.map(() => []);
    this.done = new Array<boolean>(B).fill(maxNew === 0);
  }

  get finished(): boolean {
    return this.done.every(Boolean);
  }

  /** RoPE positions of the last T positions: cumsum(mask) - 1, pads at 1. */
  private positions(T: number): Int32Array {
    const out = new Int32Array(this.B * T);
    this.mask.forEach((m, b) => {
      let c = 0;
      const cum = m.map((v) => (c += v) - 1);
      for (let t = 0; t < T; t++) {
        const j = m.length - T + t;
        out[b * T + t] = m[j] === 0 ? 1 : cum[j]!;
      }
    });
    return out;
  }

  /** Run one forward step; returns the new token of each row (-1 for rows already finished), or null when done. */
  step(): number[] | null {
    if (this.finished) return null;
    const cfg = this.model.config;
    const V = cfg.vocabSize;
    const t0 = performance.now();
    const logits = noGrad(() => this.model.forward(this.input, {
      cache: this.cache,
      attentionMask: this.mask.flat(),
      positionIds: cfg.position === 'rope' ? this.positions(this.T) : undefined,
      lastLogitsOnly: true,
    }).logits.f32());
    const rows: Float32Array[] = [];
    const next: number[] = [];
    for (let b = 0; b < this.B; b++) {
      const row = logits.slice(b * V, (b + 1) * V);
      if (this.opts.onStep) rows.push(row.slice());
      if (this.done[b]) { next.push(-1); continue; }
      const tok = sampleToken(row, this.seen[b]!, this.opts, this.rng);
      next.push(tok);
      this.tokens[b]!.push(tok);
      this.seen[b]!.push(tok);
      if (tok === this.eos || this.tokens[b]!.length >= this.maxNew) this.done[b] = true;
    }
    const dt = (performance.now() - t0) / 1000;
    if (this.steps++ === 0) this.prefillSeconds = dt; else this.decodeSeconds += dt;
    this.opts.onStep?.(next, rows);
    // finished rows keep feeding a pad token that no later query attends to
    this.input = Tensor.from(Int32Array.from(next, (t) => (t < 0 ? cfg.padTokenId : t)), [this.B, 1], 'i32');
    next.forEach((t, b) => this.mask[b]!.push(t < 0 ? 0 : 1));
    this.T = 1;
    return next;
  }
}

/** Generate for a batch of prompts (token id lists of any lengths). */
export function generate(model: BaichuanForCausalLM, prompts: number[][], opts: GenerateOptions = {}): GenerateResult {
  model.eval();
  const s = new GenerationSession(model, prompts, opts);
  while (s.step()) { /* until every row is done */ }
  return { tokens: s.tokens, prefillSeconds: s.prefillSeconds, decodeSeconds: s.decodeSeconds };
}
