// `baichuan2 logits`: eval-mode logits of a token sequence, as JSON (fp32).
import type { Command } from 'commander';
import { sequenceLogits } from '../infer/log-likelihood.js';
import { checkTokenIds } from '../model/baichuan.js';
import { openModel, parseIds, requireModel } from './common.js';
import { UsageError } from './flags.js';

export function registerLogits(program: Command): void {
  program
    .command('logits')
    .description('print {"logits": [[V floats] per position]} for the given ids (eval mode, fp32)')
    .requiredOption('--model <dir>', 'model folder')
    .requiredOption('--ids <ids>', 'comma-separated token ids')
    .option('--adapter <dir>', 'a LoRA adapter folder (PEFT layout) on top of the model')
    .action((o: { model: string; ids: string; adapter?: string }) => {
      const model = openModel(requireModel(o.model, '--model'), undefined, o.adapter);
      const ids = parseIds(o.ids);
      const V = model.config.vocabSize;
      try { checkTokenIds(ids, V, '--ids'); } catch (e) { throw new UsageError((e as Error).message); }
      const out = sequenceLogits(model, ids);
      const rows = ids.map((_, t) => Array.from(out.subarray(t * V, (t + 1) * V)));
      process.stdout.write(JSON.stringify({ logits: rows }) + '\n');
    });
}
