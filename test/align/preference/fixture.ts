// Tiny models, a tiny tokenizer and learnable synthetic preference data for
// the preference-alignment tests (seconds on two cores).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trainBpe } from '../../../src/tokenizer/trainer.js';
import { serializeModel } from '../../../src/tokenizer/sentencepiece-model.js';
import { BpeTokenizer } from '../../../src/tokenizer/bpe.js';
import { configFromJSON } from '../../../src/model/config.js';
import { BaichuanForCausalLM } from '../../../src/model/baichuan.js';
import { saveModel } from '../../../src/io/hf-folder.js';
import { Rng } from '../../../src/engine/rng.js';

export const tmpDir = (tag: string) => fs.mkdtempSync(path.join(os.tmpdir(), `bc2-pref-${tag}-`));

export const COLORS = ['red', 'blue', 'green', 'yellow', 'black', 'white', 'pink', 'brown'];
export const THINGS = ['apple', 'sky', 'grass', 'lemon', 'coal', 'snow', 'rose', 'bear'];
export const GOOD = ['yes, gladly.', 'sure, here it is.', 'of course.'];
export const BAD = ['no.', 'go away.', 'never.'];

/** Preference pairs whose preferred answer is always polite (learnable from the response alone). */
export function syntheticPairs(n: number, seed: number, gaps = false): Record<string, unknown>[] {
  const r = new Rng(seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r.uniform() * a.length)]!;
  return Array.from({ length: n }, (_, i) => ({
    prompt: `what color is the ${pick(THINGS)}? ${pick(COLORS)}?`,
    chosen: `${pick(GOOD)} ${pick(COLORS)}`,
    rejected: `${pick(BAD)} ${pick(COLORS)}`,
    ...(gaps ? { gap: 1 + (i % 5) } : {}),
  }));
}

let cached: { dir: string; tok: BpeTokenizer } | null = null;

/** A tokenizer trained on the synthetic vocabulary (shared by the tests of one process). */
export function tokenizer(): { file: string; tok: BpeTokenizer } {
  if (!cached) {
    const dir = tmpDir('tok');
    const texts = syntheticPairs(200, 1).flatMap((p) => [p.prompt, p.chosen, p.rejected] as string[]);
    texts.push('Human Assistant the a is of to 1 2 3 4 5 6 7 8 9 0 hello world answer question');
    const { model } = trainBpe(texts, { vocabSize: 520 });
    fs.writeFileSync(path.join(dir, 'tokenizer.model'), serializeModel(model));
    cached = { dir, tok: new BpeTokenizer(model) };
  }
  return { file: path.join(cached.dir, 'tokenizer.model'), tok: cached.tok };
}

export function tinyConfig(vocab: number, extra: Record<string, unknown> = {}) {
  return configFromJSON({
    position_embedding: 'rope', vocab_size: vocab, hidden_size: 32, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 2,
    max_position_embeddings: 128, model_max_length: 128, ...extra,
  });
}

/** A random tiny model saved as a folder with the tokenizer. */
export function tinyModelDir(seed: number, extra: Record<string, unknown> = {}): string {
  const { file, tok } = tokenizer();
  const dir = tmpDir('model');
  const m = new BaichuanForCausalLM(tinyConfig(tok.vocabSize, extra)).initWeights(seed);
  saveModel(m, dir, { tokenizerModel: file });
  return dir;
}

export function writeJsonl(file: string, rows: unknown[]): string {
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}
