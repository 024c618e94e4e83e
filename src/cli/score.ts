// `baichuan2 score --model RM --data FILE`: one reward-model score per record,
// as JSON lines: {"chosen": s, "rejected": s} for preference pairs,
// {"score": s} for {"prompt", "response"} or messages ending on an assistant turn.
import type { Command } from 'commander';
import { loadTokenizer } from '../io/tokenizer-file.js';
import { loadRewardModel } from '../align/preference/reward-model.js';
import { scoreRecords } from '../align/preference/score.js';
import { requireDir } from './common.js';

export function registerScore(program: Command): void {
  program
    .command('score')
    .description('score records with a reward model: one JSON line per record')
    .requiredOption('--model <dir>', 'reward model folder (from train-rm)')
    .requiredOption('--data <file>', 'preference pairs, {"prompt","response"} records or messages (.jsonl, .jsonl.gz, .json)')
    .option('--tokenizer <file>', 'tokenizer.model (default: the model folder\'s)')
    .option('--max-length <n>', 'longest prompt + response', '4096')
    .action((o: { model: string; data: string; tokenizer?: string; maxLength: string }) => {
      requireDir(o.model, '--model');
      const rm = loadRewardModel(o.model);
      const tok = loadTokenizer(o.tokenizer ?? o.model);
      const r = scoreRecords(rm, tok, o.data, Math.min(Number(o.maxLength) || 4096, rm.config.modelMaxLength));
      for (const line of r.lines) console.log(JSON.stringify(line));
      if (r.skipped) console.error(r.skipped);
    });
}
