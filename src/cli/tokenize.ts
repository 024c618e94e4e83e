// `baichuan2 tokenize` / `detokenize`: SentencePiece-exact encoding from the command line.
import fs from 'node:fs';
import type { Command } from 'commander';
import { loadTokenizer } from '../io/tokenizer-file.js';
import { UsageError } from './flags.js';
import { parseIds } from './common.js';

export function registerTokenize(program: Command): void {
  program
    .command('tokenize')
    .description('encode text: one JSON line {"ids", "pieces"} per input line (or per JSONL record)')
    .requiredOption('--tokenizer <file|dir>', 'tokenizer.model or a folder holding one')
    .option('--text <text>', 'one text')
    .option('--file <file>', 'a text file, one input per line')
    .option('--jsonl <file>', 'a JSONL file with a "text" field per record (texts may contain newlines)')
    .action((o: { tokenizer: string; text?: string; file?: string; jsonl?: string }) => {
      const given = [o.text !== undefined, !!o.file, !!o.jsonl].filter(Boolean).length;
      if (given !== 1) throw new UsageError('give exactly one of --text, --file, --jsonl');
      const tok = loadTokenizer(o.tokenizer);
      let texts: string[];
      if (o.text !== undefined) texts = [o.text];
      else if (o.file) texts = readFile(o.file).split('\n').filter((l, i, a) => i < a.length - 1 || l !== '');
      else texts = readFile(o.jsonl!).split('\n').filter((l) => l.trim()).map((l, i) => {
        let r: unknown;
        try { r = JSON.parse(l); } catch { throw new UsageError(`${o.jsonl}:${i + 1}: invalid JSON`); }
        const t = (r as { text?: unknown }).text;
        if (typeof t !== 'string') throw new UsageError(`${o.jsonl}:${i + 1}: no string "text" field`);
        return t;
      });
      for (const t of texts) {
        const e = tok.encodeWithPieces(t);
        process.stdout.write(JSON.stringify({ ids: e.ids, pieces: e.pieces }) + '\n');
      }
    });
  program
    .command('detokenize')
    .description('decode token ids to text')
    .requiredOption('--tokenizer <file|dir>', 'tokenizer.model or a folder holding one')
    .requiredOption('--ids <ids>', 'comma-separated ids')
    .action((o: { tokenizer: string; ids: string }) => {
      const tok = loadTokenizer(o.tokenizer);
      console.log(tok.decode(parseIds(o.ids)));
    });
}

function readFile(f: string): string {
  if (!fs.existsSync(f)) throw new UsageError(`${f}: file not found`);
  return fs.readFileSync(f, 'utf8');
}
