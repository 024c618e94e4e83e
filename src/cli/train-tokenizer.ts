// `baichuan2 train-tokenizer`: BPE with Baichuan 2's settings into a SentencePiece model file.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { trainBpe } from '../tokenizer/trainer.js';
import { serializeModel } from '../tokenizer/sentencepiece-model.js';
import { BpeTokenizer } from '../tokenizer/bpe.js';
import { collectDocuments, newReadStats } from '../data/documents.js';
import { UsageError, parseFloatFlag, parseIntFlag } from './flags.js';
import { Progress } from './progress.js';
import { writeFileAtomic } from '../engine/atomic-write.js';

export function registerTrainTokenizer(program: Command): void {
  program
    .command('train-tokenizer')
    .description('train a BPE tokenizer (byte fallback, split digits, identity normalisation, no dummy prefix)')
    .requiredOption('--input <files...>', '.jsonl ("text" field), .parquet ("text" column) or .txt files')
    .requiredOption('--vocab-size <n>', 'total pieces, special ones included')
    .requiredOption('--out <file>', 'output tokenizer.model')
    .option('--character-coverage <c>', 'share of characters that get their own piece', '0.9999')
    .option('--max-piece-length <n>', 'longest piece in characters (paper: 32)', '16')
    .action(async (o: { input: string[]; vocabSize: string; out: string; characterCoverage: string; maxPieceLength: string }) => {
      const vocabSize = parseIntFlag(o.vocabSize, '--vocab-size', 300, 1 << 20);
      const coverage = parseFloatFlag(o.characterCoverage, '--character-coverage', 0.5, 1);
      const maxLen = parseIntFlag(o.maxPieceLength, '--max-piece-length', 1, 64);
      for (const f of o.input) if (!fs.existsSync(f)) throw new UsageError(`--input ${f}: not found`);
      const stats = newReadStats();
      const texts = await collectDocuments(o.input, stats);
      if (!texts.length) throw new UsageError('--input holds no documents');
      for (const s of stats.skipped.slice(0, 5)) console.error(`skipped ${s.file}:${s.line}: ${s.reason}`);
      let bar: Progress | null = null;
      const { model, report } = trainBpe(texts, { vocabSize, characterCoverage: coverage, maxPieceLength: maxLen, onProgress: (d, t) => (bar ??= new Progress('merges', t)).update(d) });
      fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
      writeFileAtomic(o.out, serializeModel(model));
      const tok = new BpeTokenizer(model);
      let tokens = 0;
      for (const t of texts) tokens += tok.encode(t).length;
      console.log(`wrote ${o.out}: ${model.pieces.length} pieces (${report.merges} merges, ${report.characters} characters) from ${stats.documents} documents, ${(stats.bytes / 1e6).toFixed(2)} MB in ${report.seconds.toFixed(1)} s; ${(stats.bytes / tokens).toFixed(3)} bytes/token on the training text${stats.skipped.length ? `; ${stats.skipped.length} malformed lines skipped` : ''}`);
    });
}
