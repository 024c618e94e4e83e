// Finding and loading a tokenizer: a tokenizer.model file, a model folder
// holding one, or a GGUF file's tokenizer.ggml.* vocabulary.
import fs from 'node:fs';
import path from 'node:path';
import { BpeTokenizer } from '../tokenizer/bpe.js';
import { readModelFile } from '../tokenizer/sentencepiece-model.js';
import { isGgufFile, readGgufHeader } from './gguf.js';
import { spModelFromGguf } from './gguf-tokenizer.js';

/** `target` is a tokenizer.model file, a folder containing one, or a GGUF file (its tokenizer.ggml.* vocabulary). */
export function loadTokenizer(target: string): BpeTokenizer {
  if (isGgufFile(target)) return new BpeTokenizer(spModelFromGguf(readGgufHeader(target)));
  let file = target;
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) file = path.join(target, 'tokenizer.model');
  if (!fs.existsSync(file)) throw new Error(`${target}: no tokenizer.model found`);
  const model = readModelFile(file);
  try {
    return new BpeTokenizer(model);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message.replace(/^tokenizer: /, '')}`);
  }
}
