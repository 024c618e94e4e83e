// A tiny served model for the serving tests: a BPE tokenizer trained here on a
// small bilingual text (byte fallback on, so any text round-trips) and a
// randomly initialised tiny Baichuan folder written with saveModel.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trainBpe } from '../../src/tokenizer/trainer.js';
import { serializeModel } from '../../src/tokenizer/sentencepiece-model.js';
import { configFromJSON, PRESETS } from '../../src/model/config.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { saveModel, DEFAULT_GENERATION_CONFIG } from '../../src/io/hf-folder.js';

export function corpus(): string[] {
  const zh = ['子曰：学而时习之，不亦说乎？', '床前明月光，疑是地上霜。', '春眠不觉晓，处处闻啼鸟。'];
  const en = ['The quick brown fox jumps over the lazy dog.', 'To be, or not to be, that is the question.', 'Hello, how are you today?'];
  return Array.from({ length: 60 }, (_, i) => `${zh[i % 3]}\n${en[i % 3]} ${i} apples.`);
}

/** Write the tiny model folder (once per process) and return its path. */
let cached: string | null = null;
export function tinyModelDir(): string {
  return (cached ??= modelDir({}));
}

// every folder made here goes when the test process exits
const made: string[] = [];
process.on('exit', () => { for (const d of made) fs.rmSync(d, { recursive: true, force: true }); });

/** A model folder with the trained tokenizer and config overrides (e.g. a slower, wider model). */
export function modelDir(overrides: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'b2-serve-'));
  made.push(dir);
  const { model: sp } = trainBpe(corpus(), { vocabSize: 600, maxPieceLength: 8 });
  const tokFile = path.join(dir, 'tokenizer.src.model');
  fs.writeFileSync(tokFile, serializeModel(sp));
  const cfg = configFromJSON({ ...PRESETS.tiny, vocab_size: sp.pieces.length, hidden_size: 64, intermediate_size: 192, num_attention_heads: 4, model_max_length: 256, ...overrides });
  const m = new BaichuanForCausalLM(cfg).initWeights(5);
  const model = path.join(dir, 'tiny-chat');
  saveModel(m, model, { tokenizerModel: tokFile, generationConfig: { ...DEFAULT_GENERATION_CONFIG, max_new_tokens: 64 } });
  return model;
}
