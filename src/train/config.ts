// The pre-training configuration (train.json), validated with a strict
// schema: unknown keys and out-of-range values are errors that name the key.
// Defaults are the paper's recipe (SPEC §5) scaled to a small model.
import fs from 'node:fs';
import { z } from 'zod';

export const TrainConfigSchema = z.object({
  data: z.string().describe('folder written by `baichuan2 prepare`'),
  out: z.string().describe('run folder: checkpoints, metrics.jsonl, loss.svg'),
  model: z.object({
    preset: z.string().optional(),
    config: z.record(z.unknown()).optional().describe('Hugging Face config.json fields (vocab_size comes from the data)'),
    init: z.string().optional().describe('start from this model folder instead of random weights'),
  }).strict().default({ preset: 'tiny' }),
  seed: z.number().int().min(0).default(0),
  batchSize: z.number().int().positive().default(8),
  seqLen: z.number().int().min(2).default(128),
  gradAccum: z.number().int().positive().default(1),
  steps: z.number().int().positive().default(200),
  warmupSteps: z.number().int().min(0).default(20),
  peakLr: z.number().positive().default(2e-3),
  minLr: z.number().min(0).default(2e-4),
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.95),
  eps: z.number().positive().default(1e-8),
  weightDecay: z.number().min(0).default(0.1),
  gradClip: z.number().positive().default(0.5),
  zLossWeight: z.number().min(0).default(2e-4),
  precision: z.enum(['f32', 'bf16']).default('f32'),
  activationRecomputation: z.boolean().default(false),
  evalEvery: z.number().int().positive().default(50),
  evalBatches: z.number().int().positive().default(4),
  checkpointEvery: z.number().int().positive().default(100),
  keepCheckpoints: z.number().int().positive().default(2),
  threads: z.number().int().positive().optional(),
  zeroStage: z.union([z.literal(0), z.literal(1)]).default(0).describe('data parallel: 1 shards the optimizer state over the ranks (ZeRO-1)'),
}).strict();

export type TrainConfig = z.infer<typeof TrainConfigSchema>;

/** Validate with a schema; errors list every bad key as `path: message`. */
export function parseWith<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, raw: unknown, where: string): T {
  const r = schema.safeParse(raw);
  if (!r.success) throw new Error(`${where}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

export function parseTrainConfig(raw: unknown, where = 'train config'): TrainConfig {
  const c = parseWith(TrainConfigSchema, raw, where);
  if (c.warmupSteps > c.steps) throw new Error(`${where}: warmupSteps (${c.warmupSteps}) exceeds steps (${c.steps})`);
  if (c.minLr > c.peakLr) throw new Error(`${where}: minLr (${c.minLr}) exceeds peakLr (${c.peakLr})`);
  return c;
}

export function readTrainConfig(file: string): TrainConfig {
  if (!fs.existsSync(file)) throw new Error(`${file}: config not found`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  return parseTrainConfig(raw, file);
}
