// A tiny model folder for the harness tests: a BPE tokenizer trained on text
// from the benchmark files themselves (so prompts encode to real pieces, with
// byte fallback for the rest) and a randomly initialised 2-layer model whose
// context (512) is shorter than most 5-shot prompts, so shot dropping runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trainBpe } from '../../src/tokenizer/trainer.js';
import { serializeModel } from '../../src/tokenizer/sentencepiece-model.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { configFromJSON, PRESETS } from '../../src/model/config.js';
import { saveModel } from '../../src/io/hf-folder.js';

export const EVAL_DATA = path.resolve('../shared/data/eval');

let made: string | null = null;

export function tinyEvalModel(): string {
  if (made) return made;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-eval-model-'));
  const texts = [
    fs.readFileSync(path.join(EVAL_DATA, 'gsm8k/grade_school_math/data/test.jsonl'), 'utf8').slice(0, 200_000),
    fs.readFileSync(path.join(EVAL_DATA, 'cmmlu/data/test/agronomy.csv'), 'utf8'),
    fs.readFileSync(path.join(EVAL_DATA, 'mbpp/data/mbpp.jsonl'), 'utf8').slice(0, 100_000),
  ].flatMap((t) => t.split('\n'));
  const { model: sp } = trainBpe(texts, { vocabSize: 1500, characterCoverage: 0.995, maxPieceLength: 16 });
  const tokFile = path.join(dir, 'tokenizer.model.src');
  fs.writeFileSync(tokFile, serializeModel(sp));
  const cfg = configFromJSON({ ...PRESETS.tiny, vocab_size: sp.pieces.length, hidden_size: 64, intermediate_size: 176, num_attention_heads: 2, max_position_embeddings: 512, model_max_length: 512 });
  const model = new BaichuanForCausalLM(cfg).initWeights(5).eval();
  saveModel(model, path.join(dir, 'model'), { tokenizerModel: tokFile });
  made = path.join(dir, 'model');
  return made;
}
