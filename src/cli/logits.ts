// `baichuan2 logits`: eval-mode logits of a token sequence, as JSON (fp32).
import type { Command } from 'commander';
import { Tensor } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { openModel, parseIds, requireDir } from './common.js';

export function registerLogits(program: Command): void {
  program
    .command('logits')
    .description('print {"logits": [[V floats] per position]} for the given ids (eval mode, fp32)')
    .requiredOption('--model <dir>', 'model folder')
    .requiredOption('--ids <ids>', 'comma-separated token ids')
    .option('--adapter <dir>', 'a LoRA adapter folder (PEFT layout) on top of the model')
    .action((o: { model: string; ids: string; adapter?: string }) => {
      const model = openModel(requireDir(o.model, '--model'), undefined, o.adapter);
      const ids = parseIds(o.ids);
      const out = noGrad(() => model.forward(Tensor.from(ids, [1, ids.length], 'i32')).logits.f32());
      const V = model.config.vocabSize;
      const rows = ids.map((_, t) => Array.from(out.subarray(t * V, (t + 1) * V)));
      process.stdout.write(JSON.stringify({ logits: rows }) + '\n');
    });
}
