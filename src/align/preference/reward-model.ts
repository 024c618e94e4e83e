// The reward model (SPEC §8): the Baichuan trunk plus a scalar head
// `score.weight` [1, C] (Hugging Face's sequence-classification name) applied
// to the final-norm hidden state; the reward of a sequence is read at its last
// real token, and the same head read at every position is PPO's critic
// (per-token values). Trained with the InstructGPT pairwise loss
// −log σ(r_chosen − r_rejected − margin) (math.ts). The folder is a normal
// model folder: config.json (architectures BaichuanForSequenceClassification,
// num_labels 1), model.safetensors with the trunk, lm_head (kept so the folder
// still runs as a causal LM body) and score.weight, tokenizer.model.
import fs from 'node:fs';
import path from 'node:path';
import { Tensor } from '../../engine/tensor.js';
import { noGrad } from '../../engine/autograd.js';
import { linear } from '../../engine/ops/matmul.js';
import { cast, reshape } from '../../engine/ops/shape.js';
import { BaichuanForCausalLM, checkShape, fromHfName, hfName } from '../../model/baichuan.js';
import { configToJSON } from '../../model/config.js';
import { loadModel, readConfig, writeJSON, DEFAULT_GENERATION_CONFIG } from '../../io/hf-folder.js';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.js';
import { packSequences, type Sequence, type SequenceBatch } from './logprobs.js';

export const RM_ARCHITECTURE = 'BaichuanForSequenceClassification';

export class RewardModel {
  constructor(readonly lm: BaichuanForCausalLM, public score: Tensor /* [1, C] */) {}

  get config() { return this.lm.config; }

  /** Trainable tensors with their Hugging Face names (trunk, then score.weight). */
  namedParameters(): [string, Tensor][] {
    return [...[...this.lm.namedParameters()].filter(([n]) => n !== 'lm_head.weight'), ['score.weight', this.score]];
  }

  train(flag = true): this { this.lm.train(flag); return this; }
  eval(): this { return this.train(false); }

  /** Values at every position, [B*T] (row-major), on the tape when training. */
  values(batch: Pick<SequenceBatch, 'B' | 'T' | 'ids' | 'mask'>, recompute = false): Tensor {
    const { B, T } = batch;
    const out = this.lm.forward(Tensor.from(batch.ids, [B, T], 'i32'), { attentionMask: batch.mask, outputHiddenStates: true, lastLogitsOnly: true, recompute });
    let h = out.hiddenStates![out.hiddenStates!.length - 1]!;  // [B, T, C] after the final norm
    if (h.dtype !== 'f32') h = cast(h, 'f32');
    const s = this.score.dtype === 'f32' ? this.score : cast(this.score, 'f32');
    return reshape(linear(h, s), [B * T]);
  }

  /** Scores of whole sequences (no gradients), read at each one's last token. */
  scoreSequences(seqs: readonly Sequence[], microBatch = 8): Float64Array {
    const out = new Float64Array(seqs.length);
    const was = this.lm.training;
    this.eval();
    noGrad(() => {
      for (let i = 0; i < seqs.length; i += microBatch) {
        const batch = packSequences(seqs.slice(i, i + microBatch), this.config.padTokenId);
        const v = this.values(batch).f32();
        for (let b = 0; b < batch.B; b++) out[i + b] = v[b * batch.T + batch.last[b]!]!;
      }
    });
    this.train(was);
    return out;
  }
}

/** Rewards read at each row's last token from per-position values. */
export function lastValues(values: ArrayLike<number>, batch: SequenceBatch): Float64Array {
  return Float64Array.from({ length: batch.B }, (_, b) => values[b * batch.T + batch.last[b]!]!);
}

/** A gradient tensor [B*T] that is dL/dr_b at each row's last position. */
export function lastValueGrad(dRewards: ArrayLike<number>, batch: SequenceBatch): Tensor {
  const g = new Float32Array(batch.B * batch.T);
  for (let b = 0; b < batch.B; b++) g[b * batch.T + batch.last[b]!] = dRewards[b]!;
  return Tensor.from(g, [batch.B * batch.T]);
}

export function isRewardModelFolder(dir: string): boolean {
  const f = path.join(dir, 'config.json');
  if (!fs.existsSync(f)) return false;
  try {
    const j = JSON.parse(fs.readFileSync(f, 'utf8')) as { architectures?: unknown };
    return Array.isArray(j.architectures) && j.architectures.includes(RM_ARCHITECTURE);
  } catch { return false; }
}

export interface LoadRewardOptions {
  /** For a causal-LM folder: a new head, N(0, initializer_range) ('normal') or zeros ('zero'). */
  newHead?: 'normal' | 'zero';
  seed?: number;
}

/** A reward-model folder, or a causal-LM folder with a fresh head. */
export function loadRewardModel(dir: string, o: LoadRewardOptions = {}): RewardModel {
  if (!isRewardModelFolder(dir)) {
    if (!o.newHead) throw new Error(`${dir}: not a reward model folder (config.json architectures lacks ${RM_ARCHITECTURE}); train one with \`baichuan2 train-rm\``);
    const lm = loadModel(dir);
    const C = lm.config.hiddenSize;
    const score = o.newHead === 'zero' ? Tensor.zeros([1, C]) : Tensor.randn([1, C], { seed: o.seed ?? 0, std: lm.config.initializerRange });
    return new RewardModel(lm, score.requiresGrad_(true));
  }
  const config = readConfig(dir);
  const lm = new BaichuanForCausalLM(config);
  const file = path.join(dir, 'model.safetensors');
  if (!fs.existsSync(file)) throw new Error(`${dir}: no model.safetensors`);
  const expected = new Map([...lm.namedParameters()].map(([n, p]) => [hfName(n), p.shape]));
  let score: Tensor | null = null;
  const seen = new Set<string>();
  for (const [name, t0] of readSafetensors(file)) {
    const t = t0.dtype === 'f16' ? t0.astype('f32') : t0;
    if (name === 'score.weight') {
      checkShape(`score.weight' in '${file}`, t, [1, config.hiddenSize]);
      score = t.dtype === 'f32' ? t : t.astype('f32');
      continue;
    }
    const shape = expected.get(name);
    if (!shape) throw new Error(`${file}: unexpected tensor '${name}'`);
    checkShape(`${name}' in '${file}`, t, shape);
    lm.setParameter(fromHfName(name), t);
    seen.add(name);
  }
  const missing = [...expected.keys()].filter((n) => !seen.has(n));
  if (missing.length) throw new Error(`${dir}: weights are missing ${missing.length} tensors, e.g. '${missing.slice(0, 3).join("', '")}'`);
  if (!score) throw new Error(`${file}: no 'score.weight' (the reward head)`);
  lm.eval();
  return new RewardModel(lm, score.requiresGrad_(true));
}

/** Write the reward model as a model folder. */
export function saveRewardModel(rm: RewardModel, dir: string, tokenizerModel?: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const tensors: [string, Tensor][] = [...[...rm.lm.namedParameters()].map(([n, p]) => [hfName(n), p] as [string, Tensor]), ['score.weight', rm.score.detach()]];
  const f32 = tensors.some(([, t]) => t.dtype === 'f32');
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeJSON(path.join(dir, 'config.json'), { ...configToJSON({ ...rm.config, torchDtype: f32 ? 'float32' : 'bfloat16' }), architectures: [RM_ARCHITECTURE], num_labels: 1 });
  writeJSON(path.join(dir, 'generation_config.json'), DEFAULT_GENERATION_CONFIG);
  if (tokenizerModel && fs.existsSync(tokenizerModel)) fs.copyFileSync(tokenizerModel, path.join(dir, 'tokenizer.model'));
}

export interface GapAccuracy { gap: number | null; pairs: number; correct: number; accuracy: number }

/** Held-out accuracy overall and per score gap (1–5; pairs without a gap under null). */
export function accuracyByGap(rc: ArrayLike<number>, rr: ArrayLike<number>, gaps: readonly (number | undefined)[]): { overall: GapAccuracy; byGap: GapAccuracy[] } {
  const groups = new Map<number | null, { pairs: number; correct: number }>();
  let pairs = 0, correct = 0;
  for (let i = 0; i < rc.length; i++) {
    const g = gaps[i] ?? null;
    const e = groups.get(g) ?? { pairs: 0, correct: 0 };
    e.pairs++;
    pairs++;
    if (rc[i]! > rr[i]!) { e.correct++; correct++; }
    groups.set(g, e);
  }
  const row = (gap: number | null, e: { pairs: number; correct: number }): GapAccuracy => ({ gap, ...e, accuracy: e.pairs ? e.correct / e.pairs : NaN });
  const byGap = [...groups].sort(([a], [b]) => (a ?? 99) - (b ?? 99)).map(([g, e]) => row(g, e));
  return { overall: row(null, { pairs, correct }), byGap };
}

const GAP_NAMES = ['1 (unsure)', '2 (negligibly better)', '3 (slightly)', '4 (better)', '5 (significantly)'];
const PAPER_TABLE4 = [54.5, 61.1, 70.2, 77.8, 81.5];

/** The paper's Table 4 layout: one column per gap, our accuracy (pairs) beside the paper's row. */
export function gapTable(r: { overall: GapAccuracy; byGap: GapAccuracy[] }): string {
  const cell = (g: number) => {
    const e = r.byGap.find((x) => x.gap === g);
    return e ? `${(100 * e.accuracy).toFixed(1)}% (${e.pairs})` : '–';
  };
  const lines = [
    `| Gap | ${GAP_NAMES.join(' | ')} | All |`,
    `|---|${GAP_NAMES.map(() => '---').join('|')}|---|`,
    `| Acc (this model, pairs) | ${[1, 2, 3, 4, 5].map(cell).join(' | ')} | ${(100 * r.overall.accuracy).toFixed(1)}% (${r.overall.pairs}) |`,
    `| Acc (paper, Table 4) | ${PAPER_TABLE4.map((v) => `${v}%`).join(' | ')} | – |`,
  ];
  return lines.join('\n') + '\n';
}
