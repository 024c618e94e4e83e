// Autoregressive generation with a KV cache: left-padded batch prefill, then
// one token per step; RoPE positions from the attention mask (cumsum - 1, as
// HF's prepare_inputs_for_generation), EOS stop per row, a seeded sampler.
import { Tensor } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/rng.js';
import { KvCache } from '../model/kv-cache.js';
import type { BaichuanForCausalLM } from '../model/baichuan.js';
import { sampleToken, validateSampling, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens?: number;
  /** Stop a row when it emits this id (default: the config's eos). Pass -1 to never stop. */
  eosTokenId?: number;
  seed?: number;
  /** Called after every step with the new token of each row (-1 for finished rows). */
  onStep?: (tokens: number[], stepLogits: Float32Array[]) => void;
}

export interface GenerateResult {
  /** Generated ids per row (without the prompt; ends at and includes eos if produced). */
  tokens: number[][];
  prefillSeconds: number;
  decodeSeconds: number;
}

/** Generate for a batch of prompts (token id lists of any lengths). */
export function generate(model: BaichuanForCausalLM, prompts: number[][], opts: GenerateOptions = {}): GenerateResult {
  validateSampling(opts);
  const cfg = model.config;
  const B = prompts.length;
  if (B === 0) throw new RangeError('generate: no prompts');
  const maxNew = opts.maxNewTokens ?? 64;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new RangeError(`generate: maxNewTokens must be a non-negative integer, got ${maxNew}`);
  const Tp = Math.max(...prompts.map((p) => p.length));
  if (Tp === 0) throw new RangeError('generate: empty prompt');
  if (Tp + maxNew > cfg.modelMaxLength)
    throw new RangeError(`generate: prompt of ${Tp} tokens + ${maxNew} new tokens exceeds the context length ${cfg.modelMaxLength}`);
  for (const p of prompts) for (const id of p) if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) throw new RangeError(`generate: token id ${id} is outside the vocabulary [0, ${cfg.vocabSize})`);
  const eos = opts.eosTokenId ?? cfg.eosTokenId;
  const rng = new Rng(opts.seed ?? 0);
  const H = cfg.numAttentionHeads, D = cfg.hiddenSize / H;
  const cache = new KvCache(cfg.numHiddenLayers, B, H, D, Tp + maxNew);
  // left padding: row b = [pad ... pad, prompt]
  const ids = new Int32Array(B * Tp).fill(cfg.padTokenId);
  const mask = new Int32Array(B * Tp);
  prompts.forEach((p, b) => {
    ids.set(p, b * Tp + Tp - p.length);
    mask.fill(1, b * Tp + Tp - p.length, (b + 1) * Tp);
  });
  const fullMask: number[][] = prompts.map((_, b) => Array.from(mask.subarray(b * Tp, (b + 1) * Tp)));
  const positions = (T: number): Int32Array => {
    const out = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const m = fullMask[b]!;
      let c = 0;
      const cum = m.map((v) => (c += v) - 1);
      for (let t = 0; t < T; t++) {
        const j = m.length - T + t;
        out[b * T + t] = m[j] === 0 ? 1 : cum[j]!;
      }
    }
    return out;
  };
  const seen = prompts.map((p) => [...p]);
  const tokens: number[][] = prompts.map(() => []);
  const done = new Array<boolean>(B).fill(false);
  const V = cfg.vocabSize;
  let prefillSeconds = 0, decodeSeconds = 0;
  return noGrad(() => {
    model.eval();
    let input = Tensor.from(ids, [B, Tp], 'i32');
    let T = Tp;
    for (let step = 0; step < maxNew; step++) {
      const t0 = performance.now();
      const out = model.forward(input, { cache, attentionMask: fullMask.flat(), positionIds: cfg.position === 'rope' ? positions(T) : undefined, lastLogitsOnly: true });
      const logits = out.logits.f32();
      const rows: Float32Array[] = [];
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        const row = logits.slice(b * V, (b + 1) * V);
        rows.push(row.slice());
        if (done[b]) { next.push(-1); continue; }
        const tok = sampleToken(row, seen[b]!, opts, rng);
        next.push(tok);
        tokens[b]!.push(tok);
        seen[b]!.push(tok);
        if (tok === eos) done[b] = true;
      }
      const dt = (performance.now() - t0) / 1000;
      if (step === 0) prefillSeconds = dt; else decodeSeconds += dt;
      opts.onStep?.(next, rows);
      if (done.every(Boolean)) break;
      input = Tensor.from(Int32Array.from(next, (t) => (t < 0 ? cfg.padTokenId : t)), [B, 1], 'i32');
      // finished rows keep decoding a pad token that nothing attends to
      next.forEach((t, b) => fullMask[b]!.push(t < 0 ? 0 : 1));
      T = 1;
    }
    return { tokens, prefillSeconds, decodeSeconds };
  });
}
