// Configurations of `baichuan2 train-rm`, `dpo` and `ppo` (JSON files, the
// same keys as flags), validated once with strict zod schemas: an unknown key
// or a bad value is an error naming the key. Defaults: DPO as TRL (β 0.1,
// sigmoid loss); PPO as the paper (SPEC §8: critic warm-up 20 iterations, LR
// 5e-6 constant, clip 0.1, grad clip 0.5, β 0.2 → 0.005, 350 iterations).
import fs from 'node:fs';
import { z } from 'zod';
import { parseWith } from '../../train/config.js';
import { LoraSchema } from '../config.js';

const common = {
  model: z.string().describe('model folder to start from'),
  data: z.string().describe('preference pairs or prompts (.jsonl, .jsonl.gz, .json)'),
  out: z.string().describe('run folder: checkpoints, metrics.jsonl, loss.svg, the final model'),
  tokenizer: z.string().optional().describe('tokenizer.model (default: the model folder\'s)'),
  seed: z.number().int().min(0).default(0),
  batchSize: z.number().int().positive().default(8),
  gradAccum: z.number().int().positive().default(1),
  maxLength: z.number().int().min(4).default(512),
  maxPromptLength: z.number().int().min(2).optional(),
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.999),
  eps: z.number().positive().default(1e-8),
  weightDecay: z.number().min(0).default(0),
  gradClip: z.number().positive().default(1.0),
  checkpointEvery: z.number().int().positive().default(100),
  keepCheckpoints: z.number().int().positive().default(2),
  threads: z.number().int().positive().optional(),
  validationFraction: z.number().min(0).max(0.5).default(0),
};

export const DpoConfigSchema = z.object({
  ...common,
  steps: z.number().int().positive().default(100),
  lr: z.number().positive().default(5e-7),
  warmupSteps: z.number().int().min(0).default(0),
  beta: z.number().positive().default(0.1),
  loss: z.enum(['sigmoid', 'ipo']).default('sigmoid'),
  labelSmoothing: z.number().min(0).max(0.49).default(0),
  ref: z.string().optional().describe('reference model folder (default: the frozen initial policy)'),
  refLogprobs: z.string().optional().describe('precomputed reference log-probs (JSONL {"chosen","rejected"} per pair, in data order)'),
  lora: LoraSchema.nullable().default(null).describe('train a LoRA adapter (PEFT layout) instead of all weights'),
}).strict();

export const RmConfigSchema = z.object({
  ...common,
  steps: z.number().int().positive().default(100),
  lr: z.number().positive().default(1e-5),
  warmupSteps: z.number().int().min(0).default(0),
  validationFraction: z.number().min(0).max(0.5).default(0.1),
  evalEvery: z.number().int().positive().default(50),
}).strict();

export const PpoConfigSchema = z.object({
  ...common,
  batchSize: z.number().int().positive().default(8).describe('prompts per iteration'),
  steps: z.number().int().positive().default(350).describe('iterations: rollout + PPO update'),
  lr: z.number().positive().default(5e-6),
  criticLr: z.number().positive().optional().describe('default: lr'),
  gradClip: z.number().positive().default(0.5),
  clip: z.number().positive().default(0.1),
  valueClip: z.number().positive().default(0.2),
  gamma: z.number().min(0).max(1).default(1),
  lambda: z.number().min(0).max(1).default(0.95),
  klStart: z.number().min(0).default(0.2),
  klEnd: z.number().min(0).default(0.005),
  klSchedule: z.enum(['exponential', 'linear', 'constant']).default('exponential'),
  criticWarmup: z.number().int().min(0).default(20).describe('iterations that update only the critic'),
  ppoEpochs: z.number().int().positive().default(4),
  miniBatches: z.number().int().positive().default(1),
  maxNewTokens: z.number().int().positive().default(128),
  temperature: z.number().positive().default(1),
  topK: z.number().int().min(0).default(0),
  topP: z.number().positive().max(1).default(1),
  advantage: z.enum(['gae', 'grpo']).default('gae'),
  groupSize: z.number().int().min(2).default(4).describe('grpo: samples per prompt'),
  whitenAdvantages: z.boolean().default(true),
  missingEosPenalty: z.number().optional().describe('added to the score of a response that did not end with eos'),
  reward: z.string().describe('reward model folder, or a JavaScript module exporting score(prompt, response)'),
  ref: z.string().optional().describe('reference model folder (default: the initial actor)'),
  critic: z.string().optional().describe('critic folder (default: the reward model; with a programmatic reward, the actor + a zero value head)'),
  lora: LoraSchema.nullable().default(null).describe('actor as a LoRA adapter; the reference is then the base with the adapter off (no second copy)'),
}).strict();

export type DpoConfig = z.infer<typeof DpoConfigSchema>;
export type RmConfig = z.infer<typeof RmConfigSchema>;
export type PpoConfig = z.infer<typeof PpoConfigSchema>;

/** Read a config file (optional) and apply flag overrides, then validate. */
export function loadConfig<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, file: string | undefined, over: Record<string, unknown>): T {
  let raw: Record<string, unknown> = {};
  if (file) {
    if (!fs.existsSync(file)) throw new Error(`${file}: config not found`);
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
    }
  }
  const merged = { ...raw, ...Object.fromEntries(Object.entries(over).filter(([, v]) => v !== undefined)) };
  return parseWith(schema, merged, file ?? 'flags');
}
