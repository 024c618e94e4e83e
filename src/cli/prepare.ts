// `baichuan2 prepare`: documents -> token shards with a manifest.
import type { Command } from 'commander';
import { prepare } from '../data/prepare.js';
import { parseFloatFlag, parseIntFlag } from './flags.js';

export function registerPrepare(program: Command): void {
  program
    .command('prepare')
    .description('tokenise documents (.jsonl or .parquet with "text", or .txt) into uint32 shards with a validation split')
    .requiredOption('--tokenizer <file|dir>', 'tokenizer.model')
    .requiredOption('--input <files...>', 'input files')
    .requiredOption('--out <dir>', 'output folder')
    .option('--val-fraction <f>', 'share of documents held out for validation', '0.05')
    .option('--workers <n>', 'tokenizer threads (default: all cores)')
    .action(async (o: { tokenizer: string; input: string[]; out: string; valFraction: string; workers?: string }) => {
      const r = await prepare({
        tokenizer: o.tokenizer, inputs: o.input, out: o.out,
        valFraction: parseFloatFlag(o.valFraction, '--val-fraction', 0.0001, 0.5),
        workers: o.workers ? parseIntFlag(o.workers, '--workers', 1, 64) : undefined,
      });
      const t = r.manifest.train.reduce((s, x) => s + x.tokens, 0), v = r.manifest.val.reduce((s, x) => s + x.tokens, 0);
      for (const s of r.stats.skipped.slice(0, 10)) console.error(`skipped ${s.file}:${s.line}: ${s.reason}`);
      console.log(`wrote ${o.out}: train ${t.toLocaleString('en-US')} tokens (${r.manifest.documents.train} docs), val ${v.toLocaleString('en-US')} tokens (${r.manifest.documents.val} docs)${r.stats.skipped.length ? `; ${r.stats.skipped.length} malformed lines skipped` : ''}`);
    });
}
