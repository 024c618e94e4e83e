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

/**
 * A tiny model fine-tuned (maximum likelihood on the responses) to answer the
 * synthetic prompts with a polite or a rude answer and a color, half and half:
 * the start of a policy-optimisation run (a random tiny model spreads its
 * samples over the whole vocabulary, where no reward is found).
 */
export async function tinyChatModelDir(seed: number, steps = 40): Promise<string> {
  const { tokenLogProbs, packSequences, spreadRowGrad } = await import('../../../src/align/preference/logprobs.js');
  const { encodePrompt } = await import('../../../src/align/preference/data.js');
  const { AdamW } = await import('../../../src/train/optimizer.js');
  const { backward } = await import('../../../src/engine/autograd.js');
  const { file, tok } = tokenizer();
  const m = new BaichuanForCausalLM(tinyConfig(tok.vocabSize)).initWeights(seed).train();
  const pairs = syntheticPairs(64, seed);
  const seqs = pairs.map((p, i) => ({
    prompt: encodePrompt([{ role: 'user', content: p.prompt as string }], (t) => tok.encode(t), 64),
    response: [...tok.encode((i % 2 ? p.chosen : p.rejected) as string), 2],
  }));
  const params = [...m.namedParameters()];
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 });
  for (let s = 0; s < steps; s++) {
    for (const [, p] of params) p.grad = null;
    const batch = packSequences(seqs.slice((s * 16) % 64, (s * 16) % 64 + 16), 0);
    const lp = tokenLogProbs(m, batch);
    let n = 0;
    for (let i = 0; i < batch.B; i++) n += batch.length[i]!;
    backward(lp.logp, spreadRowGrad(new Float64Array(batch.B).fill(-1 / n), batch));
    opt.update(5e-3);
  }
  const dir = tmpDir('chat');
  saveModel(m.eval(), dir, { tokenizerModel: file });
  return dir;
}

/** A programmatic reward module: 1 for a polite answer (the start of one of GOOD), else 0. */
export function politeRewardModule(dir: string): string {
  const f = path.join(dir, 'polite.mjs');
  fs.writeFileSync(f, `export function score(prompt, response) {\n  return ${JSON.stringify(GOOD.map((g) => g.split(/[ ,.]/)[0]))}.some((w) => response.trimStart().startsWith(w)) ? 1 : 0;\n}\n`);
  return f;
}
