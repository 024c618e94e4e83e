// generation_config.json and the one policy for which sampling settings win:
// an explicit setting (flag, API field) over the folder's generation_config.json
// over Baichuan 2 Chat's published defaults (SPEC §12). `generate`, `chat`, the
// server and the library all resolve settings here, so they cannot disagree.
// Greedy decoding (explicit, temperature 0, or do_sample false) drops the
// repetition penalty unless one is given explicitly.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { BAICHUAN_CHAT_SAMPLING, type SamplingOptions } from './sampling.js';

export interface GenerationDefaults {
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  maxNewTokens: number;
  doSample: boolean;
  eosTokenId?: number;
  userTokenId?: number;
  assistantTokenId?: number;
}

export const BAICHUAN_GENERATION_DEFAULTS: GenerationDefaults = {
  temperature: BAICHUAN_CHAT_SAMPLING.temperature, topK: BAICHUAN_CHAT_SAMPLING.topK, topP: BAICHUAN_CHAT_SAMPLING.topP,
  repetitionPenalty: BAICHUAN_CHAT_SAMPLING.repetitionPenalty, maxNewTokens: 2048, doSample: true,
};

const FileSchema = z.object({
  temperature: z.number().positive().optional(),
  top_k: z.number().int().nonnegative().optional(),
  top_p: z.number().gt(0).lte(1).optional(),
  repetition_penalty: z.number().positive().optional(),
  max_new_tokens: z.number().int().positive().optional(),
  do_sample: z.boolean().optional(),
  eos_token_id: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative()).nonempty()]).optional(),
  user_token_id: z.number().int().nonnegative().optional(),
  assistant_token_id: z.number().int().nonnegative().optional(),
}).passthrough();

/** The folder's generation_config.json over Baichuan's defaults (a missing file means the defaults). */
export function readGenerationConfig(dir: string): GenerationDefaults {
  const file = path.join(dir, 'generation_config.json');
  if (!fs.existsSync(file)) return { ...BAICHUAN_GENERATION_DEFAULTS };
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  const r = FileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${file}: field '${i.path.join('.')}': ${i.message}`);
  }
  const j = r.data, d = BAICHUAN_GENERATION_DEFAULTS;
  const eos = Array.isArray(j.eos_token_id) ? j.eos_token_id[0] : j.eos_token_id;
  return {
    temperature: j.temperature ?? d.temperature, topK: j.top_k ?? d.topK, topP: j.top_p ?? d.topP,
    repetitionPenalty: j.repetition_penalty ?? d.repetitionPenalty, maxNewTokens: j.max_new_tokens ?? d.maxNewTokens,
    doSample: j.do_sample ?? d.doSample, eosTokenId: eos, userTokenId: j.user_token_id, assistantTokenId: j.assistant_token_id,
  };
}

/** Settings given explicitly (undefined = not given). temperature 0 means greedy. */
export interface SamplingOverrides {
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
}

/** Explicit settings over the generation config; the result is complete. */
export function resolveSampling(o: SamplingOverrides, d: GenerationDefaults = BAICHUAN_GENERATION_DEFAULTS): Required<SamplingOptions> {
  const greedy = !!o.greedy || o.temperature === 0 || (o.temperature === undefined && !d.doSample);
  return {
    greedy,
    temperature: o.temperature === undefined || o.temperature === 0 ? d.temperature : o.temperature,
    topK: o.topK ?? d.topK,
    topP: o.topP ?? d.topP,
    repetitionPenalty: o.repetitionPenalty ?? (greedy ? 1 : d.repetitionPenalty),
  };
}
