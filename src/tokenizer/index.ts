// The tokenizer: SentencePiece-compatible BPE (encode, decode, train) over a
// parsed tokenizer.model. Finding one on disk (a file, a model folder, a
// GGUF) is src/io/tokenizer-file.ts.
export { BpeTokenizer, type Encoded } from './bpe.js';
export { readModelFile, parseModel, serializeModel, PieceType, type SpModel, type Piece } from './sentencepiece-model.js';
