// BaichuanConfig: the fields of the released Hugging Face config.json files
// (SPEC §4), with the position scheme made explicit. `position_embedding` is
// read when present; otherwise it is inferred from the released shapes
// (40 layers x 5120 hidden = 13B = ALiBi, anything else RoPE) and the choice
// is reported in `positionSource`.
export type PositionScheme = 'rope' | 'alibi';

export interface BaichuanConfig {
  vocabSize: number;          // V
  hiddenSize: number;         // C
  intermediateSize: number;   // F
  numHiddenLayers: number;    // L
  numAttentionHeads: number;  // H (head dim D = C / H)
  maxPositionEmbeddings: number;
  modelMaxLength: number;
  rmsNormEps: number;
  initializerRange: number;
  position: PositionScheme;
  positionSource: 'config' | 'inferred';
  ropeTheta: number;
  zLossWeight: number;
  bosTokenId: number;
  eosTokenId: number;
  padTokenId: number;
  torchDtype: 'float32' | 'bfloat16' | 'float16';
  /** Unknown config.json fields, written back unchanged on save. */
  extra: Record<string, unknown>;
}

const KNOWN = new Set([
  'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'max_position_embeddings',
  'model_max_length', 'rms_norm_eps', 'initializer_range', 'position_embedding', 'rope_theta', 'z_loss_weight',
  'bos_token_id', 'eos_token_id', 'pad_token_id', 'torch_dtype', 'hidden_act', 'tie_word_embeddings', 'model_type', 'architectures',
]);

function need(j: Record<string, unknown>, key: string, where: string): number {
  const v = j[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: config field '${key}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

// Upper bounds far above any real model, so a corrupt file cannot ask for absurd structures
// (ids are i32, so the vocabulary must fit in 31 bits).
const MAX: Record<string, number> = {
  vocab_size: 2 ** 31 - 1, hidden_size: 1 << 17, intermediate_size: 1 << 20, num_hidden_layers: 1024,
  num_attention_heads: 1 << 12, max_position_embeddings: 1 << 24, model_max_length: 1 << 24,
};

function positiveInt(j: Record<string, unknown>, key: string, where: string): number {
  const v = need(j, key, where);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: config field '${key}' must be a positive integer, got ${v}`);
  const max = MAX[key];
  if (max !== undefined && v > max) throw new Error(`${where}: config field '${key}' = ${v} is beyond any Baichuan model (at most ${max})`);
  return v;
}

export function configFromJSON(j: Record<string, unknown>, where = 'config.json'): BaichuanConfig {
  const hidden = positiveInt(j, 'hidden_size', where);
  const heads = positiveInt(j, 'num_attention_heads', where);
  const layers = positiveInt(j, 'num_hidden_layers', where);
  if (hidden % heads !== 0) throw new Error(`${where}: hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  if ((hidden / heads) % 2 !== 0) throw new Error(`${where}: head dim ${hidden / heads} must be even (RoPE rotates halves)`);
  if (j.hidden_act !== undefined && j.hidden_act !== 'silu') throw new Error(`${where}: hidden_act '${String(j.hidden_act)}' is not supported (Baichuan 2 uses silu)`);
  if (j.tie_word_embeddings === true) throw new Error(`${where}: tie_word_embeddings=true is not Baichuan 2 (NormHead has its own weight)`);
  let position: PositionScheme;
  let positionSource: 'config' | 'inferred';
  if (j.position_embedding !== undefined) {
    if (j.position_embedding !== 'rope' && j.position_embedding !== 'alibi') throw new Error(`${where}: position_embedding must be "rope" or "alibi", got ${JSON.stringify(j.position_embedding)}`);
    position = j.position_embedding;
    positionSource = 'config';
  } else {
    position = layers === 40 && hidden === 5120 ? 'alibi' : 'rope';
    positionSource = 'inferred';
  }
  const dtype = (j.torch_dtype ?? 'float32') as string;
  if (!['float32', 'bfloat16', 'float16'].includes(dtype)) throw new Error(`${where}: torch_dtype '${dtype}' is not supported`);
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(j)) if (!KNOWN.has(k)) extra[k] = v;
  const maxPos = positiveInt(j, 'max_position_embeddings', where);
  return {
    vocabSize: positiveInt(j, 'vocab_size', where),
    hiddenSize: hidden,
    intermediateSize: positiveInt(j, 'intermediate_size', where),
    numHiddenLayers: layers,
    numAttentionHeads: heads,
    maxPositionEmbeddings: maxPos,
    modelMaxLength: j.model_max_length === undefined ? maxPos : positiveInt(j, 'model_max_length', where),
    rmsNormEps: j.rms_norm_eps === undefined ? 1e-6 : need(j, 'rms_norm_eps', where),
    initializerRange: j.initializer_range === undefined ? 0.02 : need(j, 'initializer_range', where),
    position,
    positionSource,
    ropeTheta: j.rope_theta === undefined ? 10000 : need(j, 'rope_theta', where),
    zLossWeight: j.z_loss_weight === undefined ? 0 : need(j, 'z_loss_weight', where),
    bosTokenId: j.bos_token_id === undefined ? 1 : need(j, 'bos_token_id', where),
    eosTokenId: j.eos_token_id === undefined ? 2 : need(j, 'eos_token_id', where),
    padTokenId: j.pad_token_id === undefined ? 0 : need(j, 'pad_token_id', where),
    torchDtype: dtype as BaichuanConfig['torchDtype'],
    extra,
  };
}

export function configToJSON(c: BaichuanConfig): Record<string, unknown> {
  return {
    architectures: ['BaichuanForCausalLM'],
    model_type: 'baichuan',
    ...c.extra,
    position_embedding: c.position,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    max_position_embeddings: c.maxPositionEmbeddings,
    model_max_length: c.modelMaxLength,
    rms_norm_eps: c.rmsNormEps,
    hidden_act: 'silu',
    initializer_range: c.initializerRange,
    ...(c.position === 'rope' ? { rope_theta: c.ropeTheta } : {}),
    z_loss_weight: c.zLossWeight,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    pad_token_id: c.padTokenId,
    tie_word_embeddings: false,
    use_cache: true,
    torch_dtype: c.torchDtype,
  };
}

const RELEASED_13B = (c: BaichuanConfig) => c.numHiddenLayers === 40 && c.hiddenSize === 5120;
const RELEASED_7B = (c: BaichuanConfig) => c.numHiddenLayers === 32 && c.hiddenSize === 4096;

/**
 * Which position scheme a config uses and why, plus warnings when the choice and the
 * model's shapes disagree. RoPE and ALiBi models have the same weight shapes, so the
 * only evidence in a checkpoint is the released sizes: 40 layers x 5120 hidden is
 * Baichuan 2 13B (ALiBi), 32 x 4096 is 7B (RoPE). Called wherever a model folder is
 * opened (the loader's shapes equal these config dims once the weights are checked).
 */
export function positionNotes(c: BaichuanConfig, where = 'config.json'): { reason: string; warnings: string[] } {
  const dims = `${c.numHiddenLayers} layers x ${c.hiddenSize} hidden`;
  const reason = c.positionSource === 'config'
    ? `${where}: position_embedding = "${c.position}"`
    : `${where} has no position_embedding: ${c.position === 'alibi' ? `${dims} are the released 13B shapes, which use ALiBi` : `${dims} ${RELEASED_7B(c) ? 'are the released 7B shapes, which use RoPE' : 'are not the 13B shapes, so RoPE (the 7B scheme)'}`}; ` +
      'add "position_embedding": "rope" or "alibi" to make it explicit';
  const warnings: string[] = [];
  if (c.positionSource === 'config' && c.position === 'rope' && RELEASED_13B(c))
    warnings.push(`${where}: position_embedding is "rope" but ${dims} are Baichuan 2 13B's shapes, which was trained with ALiBi; a 13B checkpoint run with RoPE gives wrong logits`);
  if (c.positionSource === 'config' && c.position === 'alibi' && RELEASED_7B(c))
    warnings.push(`${where}: position_embedding is "alibi" but ${dims} are Baichuan 2 7B's shapes, which was trained with RoPE; a 7B checkpoint run with ALiBi gives wrong logits`);
  return { reason, warnings };
}

/** FFN size rule of the paper: hidden * 8/3 rounded up to a multiple of 128. */
export function ffnSize(hidden: number, multiple = 128): number {
  return Math.ceil((hidden * 8) / 3 / multiple) * multiple;
}

export const PRESETS: Record<string, Record<string, unknown>> = {
  tiny: {
    position_embedding: 'rope', vocab_size: 1024, hidden_size: 128, intermediate_size: 352, num_hidden_layers: 2,
    num_attention_heads: 4, max_position_embeddings: 256, model_max_length: 256, z_loss_weight: 2e-4,
  },
  '7b': {
    position_embedding: 'rope', vocab_size: 125696, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32,
    num_attention_heads: 32, max_position_embeddings: 4096, model_max_length: 4096, torch_dtype: 'bfloat16',
  },
  '13b': {
    position_embedding: 'alibi', vocab_size: 125696, hidden_size: 5120, intermediate_size: 13696, num_hidden_layers: 40,
    num_attention_heads: 40, max_position_embeddings: 4096, model_max_length: 4096, torch_dtype: 'bfloat16',
  },
};
