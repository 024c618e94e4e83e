// The pipeline's configuration (pipeline.json), validated with zod: every
// stage's parameters with the defaults documented in docs/DATA.md. Unknown
// keys are errors, so a typo never silently falls back to a default.
import fs from 'node:fs';
import { z } from 'zod';
import { DEFAULT_FILTERS } from './filters.js';
import { DEFAULT_MINHASH } from './minhash.js';

export const STAGES = ['exact', 'filter', 'quality', 'units', 'near', 'mix'] as const;
export type StageName = (typeof STAGES)[number];

const Filters = z.object({
  min_chars: z.number().int().nonnegative(),
  max_chars: z.number().int().positive(),
  min_word_char_ratio: z.number().min(0).max(1),
  max_digit_ratio: z.number().min(0).max(1),
  max_dup_line_fraction: z.number().min(0).max(1),
  max_top_ngram_fraction: z.object({ 2: z.number(), 3: z.number(), 4: z.number() }).strict(),
  max_dup_5gram_fraction: z.number().min(0).max(1),
  max_ellipsis_line_fraction: z.number().min(0).max(1),
  boilerplate_markers: z.array(z.string()),
  max_boilerplate_hits: z.number().int().positive(),
  exempt_sources: z.string().nullable(),
}).strict();

export const PipelineConfigSchema = z.object({
  inputs: z.array(z.string()).min(1),
  out: z.string().min(1),
  format: z.enum(['jsonl', 'parquet']).default('jsonl'),
  shard_docs: z.number().int().positive().default(5000),
  workers: z.number().int().positive().optional(),
  memory_limit: z.string().default('2GB'),
  source_field: z.string().default('source'),
  stages: z.array(z.enum(STAGES)).default([...STAGES]),
  filter: Filters.partial().strict().default({}).transform((f) => ({ ...DEFAULT_FILTERS, ...f })),
  quality: z.object({
    /** Reference texts (.jsonl/.txt/.parquet) the scorer is trained on and calibrated with. */
    reference: z.array(z.string()).default([]),
    /** 'char-trigram' (built in, trained on the reference) or a model folder whose log-likelihood scores sentences. */
    scorer: z.union([z.literal('char-trigram'), z.object({ model: z.string(), tokenizer: z.string().optional() }).strict()]).default('char-trigram'),
    threshold_quantile: z.number().min(0).max(1).default(0.02),
    min_sentence_chars: z.number().int().positive().default(20),
    min_doc_chars: z.number().int().nonnegative().default(50),
  }).strict().default({}),
  units: z.object({
    min_chars: z.number().int().positive().default(30),
    min_doc_chars: z.number().int().nonnegative().default(50),
  }).strict().default({}),
  near: z.object({
    shingle: z.number().int().positive().default(DEFAULT_MINHASH.shingle),
    permutations: z.number().int().positive().max(1024).default(DEFAULT_MINHASH.permutations),
    bands: z.number().int().positive().default(DEFAULT_MINHASH.bands),
    rows: z.number().int().positive().default(DEFAULT_MINHASH.rows),
    threshold: z.number().gt(0).max(1).default(DEFAULT_MINHASH.threshold),
    seed: z.number().int().nonnegative().default(DEFAULT_MINHASH.seed),
  }).strict().default({}),
  mix: z.object({
    /** category name -> regular expression on the source; unmatched sources are their own category. */
    categories: z.record(z.string()).default({}),
    /** target share of each category in the sampled stream (normalised); absent: keep natural shares. */
    weights: z.record(z.number().nonnegative()).default({}),
    /** bits/char of quality that double (or halve) a document's weight. */
    quality_scale: z.number().positive().default(1),
  }).strict().default({}),
}).strict();

export type PipelineConfig = z.infer<typeof PipelineConfigSchema>;

export function parsePipelineConfig(raw: unknown, where = 'pipeline config'): PipelineConfig {
  const r = PipelineConfigSchema.safeParse(raw);
  if (!r.success) throw new Error(`${where}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const c = r.data;
  if (c.near.bands * c.near.rows > c.near.permutations) throw new Error(`${where}: near.bands × near.rows (${c.near.bands * c.near.rows}) exceeds near.permutations (${c.near.permutations})`);
  if (c.stages.includes('quality') && !c.quality.reference.length) throw new Error(`${where}: the quality stage needs quality.reference (texts that show what good looks like)`);
  return c;
}

export function readPipelineConfig(file: string): PipelineConfig {
  if (!fs.existsSync(file)) throw new Error(`${file}: config not found`);
  let raw: unknown;
  try { raw = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { throw new Error(`${file}: invalid JSON (${(e as Error).message})`); }
  return parsePipelineConfig(raw, file);
}
