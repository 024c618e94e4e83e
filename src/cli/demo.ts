// `baichuan2 demo`: the end-to-end main job (see src/train/demo.ts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { progressLog } from './progress.js';
import { runDemo } from '../train/demo.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('end to end: build a corpus from installed packages, train a tokenizer and a tiny Baichuan 2, sample, evaluate')
    .option('--out <dir>', 'output folder', 'runs/demo')
    .option('--quick', 'a one-minute version (smaller corpus, model and run)')
    .option('--eval-data <dir>', 'benchmark folder for the evaluation step (default: ../shared/data/eval beside the checkout, when present)')
    .action(async (o: { out: string; quick?: boolean; evalData?: string }) => {
      const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
      const evalData = o.evalData ?? path.resolve(root, '../shared/data/eval');
      await runDemo({
        root, out: o.out, quick: o.quick, evalData,
        log: progressLog(process.stdout),
      });
    });
}
