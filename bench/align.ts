// `baichuan2 bench align`: one PPO iteration's time split into rollout
// (batched sampling with the KV cache), scoring (reward model) and update
// (reference/old log-probs, values, GAE, PPO epochs for actor and critic), for
// a tiny model and for the `bench train` shape; DPO tokens/s on the same shapes.
// Random weights, synthetic prompts and pairs; the timings come from the
// trainers' own metrics (time/rollout, time/score, time/update, tokens_per_s).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trainBpe } from '../src/tokenizer/trainer.js';
import { serializeModel } from '../src/tokenizer/sentencepiece-model.js';
import { configFromJSON } from '../src/model/config.js';
import { BaichuanForCausalLM } from '../src/model/baichuan.js';
import { saveModel } from '../src/io/hf-folder.js';
import { loadRewardModel, saveRewardModel } from '../src/align/preference/reward-model.js';
import { trainPpo } from '../src/align/preference/ppo.js';
import { trainDpo } from '../src/align/preference/dpo.js';
import { PpoConfigSchema, DpoConfigSchema, loadConfig } from '../src/align/preference/config.js';
import { TRAIN_BENCH_SHAPE } from './train.js';
import { machineInfo, machineLine } from './machine.js';

export interface AlignShape { name: string; layers: number; hidden: number; heads: number; ffn: number; vocab: number; batch: number; newTokens: number }

export const ALIGN_SHAPES: AlignShape[] = [
  { name: 'tiny', layers: 2, hidden: 64, heads: 4, ffn: 192, vocab: 1024, batch: 8, newTokens: 16 },
  { name: 'bench train', layers: TRAIN_BENCH_SHAPE.layers, hidden: TRAIN_BENCH_SHAPE.hidden, heads: TRAIN_BENCH_SHAPE.heads, ffn: TRAIN_BENCH_SHAPE.ffn, vocab: TRAIN_BENCH_SHAPE.vocab, batch: 4, newTokens: 32 },
];

export interface AlignBenchRow {
  shape: AlignShape; promptTokens: number; iterations: number;
  rollout_s: number; score_s: number; update_s: number; iteration_s: number; dpo_tokens_per_s: number; dpo_pairs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const WORDS = ['red', 'blue', 'green', 'apple', 'sky', 'grass', 'yes', 'no', 'gladly', 'never', 'what', 'color', 'is', 'the', 'of', 'a'];

function sentence(i: number, n: number): string {
  return Array.from({ length: n }, (_, k) => WORDS[(i * 7 + k * 3 + (k * k) % 5) % WORDS.length]).join(' ');
}

export async function benchAlign(iterations: number, log: (s: string) => void = () => {}): Promise<AlignBenchRow[]> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-bench-align-'));
  const texts = Array.from({ length: 200 }, (_, i) => sentence(i, 12));
  const tokFile = path.join(work, 'tokenizer.model');
  fs.writeFileSync(tokFile, serializeModel(trainBpe(texts, { vocabSize: 520 }).model));
  const prompts = path.join(work, 'prompts.jsonl');
  fs.writeFileSync(prompts, Array.from({ length: 32 }, (_, i) => JSON.stringify({ prompt: sentence(i, 24) })).join('\n') + '\n');
  const pairs = path.join(work, 'pairs.jsonl');
  fs.writeFileSync(pairs, Array.from({ length: 32 }, (_, i) => JSON.stringify({ prompt: sentence(i, 24), chosen: sentence(i + 1, 24), rejected: sentence(i + 2, 24) })).join('\n') + '\n');
  const rows: AlignBenchRow[] = [];
  try {
    for (const s of ALIGN_SHAPES) {
      const cfg = configFromJSON({ position_embedding: 'rope', vocab_size: s.vocab, hidden_size: s.hidden, intermediate_size: s.ffn, num_hidden_layers: s.layers, num_attention_heads: s.heads, max_position_embeddings: 512, model_max_length: 512 });
      const dir = path.join(work, s.name.replace(/ /g, '-'));
      const modelDir = path.join(dir, 'model'), rmDir = path.join(dir, 'rm');
      saveModel(new BaichuanForCausalLM(cfg).initWeights(1), modelDir, { tokenizerModel: tokFile });
      saveRewardModel(loadRewardModel(modelDir, { newHead: 'normal', seed: 2 }), rmDir, tokFile);
      log(`${s.name}: PPO, ${iterations} iterations of ${s.batch} prompts × ${s.newTokens} new tokens (4 models: actor, reference, reward, critic)`);
      const ppo = await trainPpo(loadConfig(PpoConfigSchema, undefined, {
        model: modelDir, data: prompts, reward: rmDir, out: path.join(dir, 'ppo'), steps: iterations, batchSize: s.batch, maxNewTokens: s.newTokens,
        criticWarmup: 0, ppoEpochs: 1, checkpointEvery: 100000, lr: 1e-6,
      }), { log: () => {} });
      const m = ppo.metrics.slice(1);  // the first iteration warms up allocations
      const promptTokens = 2 + 24 * 1.5;
      log(`${s.name}: DPO, 3 steps of 4 pairs`);
      const dpo = await trainDpo(loadConfig(DpoConfigSchema, undefined, { model: modelDir, data: pairs, out: path.join(dir, 'dpo'), steps: 3, batchSize: 4, checkpointEvery: 100000 }), { log: () => {} });
      const row: AlignBenchRow = {
        shape: s, promptTokens, iterations,
        rollout_s: median(m.map((x) => x['time/rollout']!)), score_s: median(m.map((x) => x['time/score']!)), update_s: median(m.map((x) => x['time/update']!)),
        iteration_s: median(m.map((x) => x['time/rollout']! + x['time/score']! + x['time/update']!)),
        dpo_tokens_per_s: median(dpo.metrics.slice(1).map((x) => x.tokens_per_s!)), dpo_pairs: 4,
      };
      log(`${s.name}: iteration ${row.iteration_s.toFixed(2)} s (rollout ${row.rollout_s.toFixed(2)}, score ${row.score_s.toFixed(2)}, update ${row.update_s.toFixed(2)}); DPO ${row.dpo_tokens_per_s.toFixed(0)} tokens/s`);
      rows.push(row);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

export function alignReport(rows: AlignBenchRow[]): string {
  const m = machineInfo();
  const lines = [
    `### bench align — ${machineLine(m)}`,
    '',
    'One PPO iteration (median after the first; 1 PPO epoch, actor and critic both updated) split into rollout (KV-cache sampling), scoring (reward model) and update (old/reference log-probs, values, GAE, one actor and one critic step); DPO tokens/s (policy forward + backward over chosen and rejected, 4 pairs a step). Random weights, synthetic prompts of ~24 words.',
    '',
    '| shape | L × C, V | prompts × new tokens | rollout s | score s | update s | iteration s | DPO tokens/s |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.shape.name} | ${r.shape.layers} × ${r.shape.hidden}, ${r.shape.vocab} | ${r.shape.batch} × ${r.shape.newTokens} | ${r.rollout_s.toFixed(2)} | ${r.score_s.toFixed(2)} | ${r.update_s.toFixed(2)} | ${r.iteration_s.toFixed(2)} | ${r.dpo_tokens_per_s.toFixed(0)} |`),
    '',
  ];
  return lines.join('\n');
}
