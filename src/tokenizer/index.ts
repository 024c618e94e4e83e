// Loading a tokenizer from a tokenizer.model file or a model folder.
import fs from 'node:fs';
import path from 'node:path';
import { readModelFile } from './sentencepiece-model.js';
import { BpeTokenizer } from './bpe.js';
import { isGgufFile, readGgufHeader } from '../io/gguf.js';
import { spModelFromGguf } from '../io/gguf-tokenizer.js';

export { BpeTokenizer, type Encoded } from './bpe.js';
export { readModelFile, parseModel, serializeModel, PieceType, type SpModel, type Piece } from './sentencepiece-model.js';

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
