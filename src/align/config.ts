// The SFT configuration (sft.json), validated with a strict schema: unknown
// keys and out-of-range values are errors naming the key. Defaults are the
// official recipe (fine-tune/fine-tune.py and its README, SPEC §12): LR 2e-5
// constant, no warm-up, AdamW (0.9, 0.98), eps 1e-8, weight decay 1e-4, clip
// 1.0, 4 epochs, batch 16, model_max_length 512, bf16 with fp32 masters,
// gradient checkpointing; LoRA W_pack r 1, alpha 32, dropout 0.1.
import fs from 'node:fs';
import { z } from 'zod';
import { parseWith } from '../train/config.js';
import { LORA_TARGETS, OFFICIAL_LORA } from './lora.js';

export const LoraSchema = z.object({
  r: z.number().int().positive().default(OFFICIAL_LORA.r),
  alpha: z.number().positive().default(OFFICIAL_LORA.alpha),
  dropout: z.number().min(0).lt(1).default(OFFICIAL_LORA.dropout),
  targets: z.array(z.enum(LORA_TARGETS)).nonempty().default([...OFFICIAL_LORA.targets] as [typeof LORA_TARGETS[number]]),
  rslora: z.boolean().default(false),
}).strict();

export const SftConfigSchema = z.object({
  model: z.string().describe('base model folder (full precision, bf16, or quantised for LoRA)'),
  data: z.union([z.string(), z.array(z.string()).nonempty()]).describe('conversation files'),
  out: z.string().describe('run folder: checkpoints, metrics.jsonl, loss.svg, then the model (or adapter)'),
  tokenizer: z.string().optional().describe('tokenizer.model (default: the model folder\'s)'),
  maxLength: z.number().int().min(2).optional().describe('model_max_length of the official script (default 512, or the model\'s context if shorter)'),
  epochs: z.number().int().positive().default(4),
  steps: z.number().int().positive().optional().describe('stop after this many optimizer steps (default: epochs)'),
  lr: z.number().positive().default(2e-5),
  warmupSteps: z.number().int().min(0).default(0),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.98),
  eps: z.number().positive().default(1e-8),
  weightDecay: z.number().min(0).default(1e-4),
  gradClip: z.number().positive().default(1.0),
  batchSize: z.number().int().positive().default(16),
  gradAccum: z.number().int().positive().default(1),
  seed: z.number().int().min(0).default(0),
  precision: z.enum(['f32', 'bf16']).default('bf16'),
  activationRecomputation: z.boolean().default(true),
  pack: z.boolean().default(false),
  valExamples: z.number().int().min(0).default(0).describe('held-out conversations for validation loss'),
  evalEvery: z.number().int().positive().default(50),
  checkpointEvery: z.number().int().positive().default(200),
  keepCheckpoints: z.number().int().positive().default(2),
  lora: LoraSchema.nullable().default(null),
  threads: z.number().int().positive().optional(),
  zeroStage: z.union([z.literal(0), z.literal(1)]).default(0).describe('data parallel: 1 shards the optimizer state over the ranks (ZeRO-1)'),
}).strict();

export type SftConfig = z.infer<typeof SftConfigSchema>;

export function parseSftConfig(raw: unknown, where = 'sft config'): SftConfig {
  const c = parseWith(SftConfigSchema, raw, where);
  if (c.steps !== undefined && c.warmupSteps > c.steps) throw new Error(`${where}: warmupSteps (${c.warmupSteps}) exceeds steps (${c.steps})`);
  return c;
}

export function readSftConfig(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) throw new Error(`${file}: config not found`);
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    if (!j || typeof j !== 'object' || Array.isArray(j)) throw new Error('not a JSON object');
    return j as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
}
