// `baichuan2 dpo [--config dpo.json] [flags]`: Direct Preference Optimisation
// (sigmoid, IPO or label-smoothed). Flags override the config file. Also the
// flag set shared by the preference trainers (train-rm, ppo).
import type { Command } from 'commander';
import { progressLog } from './progress.js';
import { DpoConfigSchema, loadConfig } from '../align/preference/config.js';
import { trainDpo } from '../align/preference/dpo.js';
import { parseFloatFlag, parseIntFlag } from './flags.js';

export type Flags = Record<string, string | boolean | undefined>;

/** The settings every preference trainer takes as flags (same names as the config keys). */
export function commonOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'JSON config (see README); flags override it')
    .option('--model <dir>', 'model folder to start from')
    .option('--data <file>', 'data file (.jsonl, .jsonl.gz, .json)')
    .option('--out <dir>', 'run folder (checkpoints, metrics.jsonl, loss.svg, model/)')
    .option('--tokenizer <file>', 'tokenizer.model (default: the model folder\'s)')
    .option('--steps <n>', 'optimizer steps (ppo: iterations)')
    .option('--lr <x>', 'learning rate')
    .option('--batch-size <n>', 'pairs (ppo: prompts) per step')
    .option('--grad-accum <n>', 'micro-batches per step')
    .option('--seed <n>', 'seed (data order, sampling, head init)')
    .option('--max-length <n>', 'longest prompt + response')
    .option('--checkpoint-every <n>', 'checkpoint every N steps')
    .option('--resume', 'continue from the run folder\'s latest checkpoint')
    .option('--threads <n>', 'kernel threads');
}

/** Flag values as config keys (numbers checked here, the rest by the schema). */
export function commonOverrides(o: Flags): Record<string, unknown> {
  const s = (k: string) => o[k] as string | undefined;
  const over: Record<string, unknown> = { model: s('model'), data: s('data'), out: s('out'), tokenizer: s('tokenizer') };
  const ints: [string, string, number][] = [['steps', '--steps', 1], ['batchSize', '--batch-size', 1], ['gradAccum', '--grad-accum', 1], ['seed', '--seed', 0],
    ['maxLength', '--max-length', 4], ['checkpointEvery', '--checkpoint-every', 1], ['threads', '--threads', 1]];
  for (const [k, flag, min] of ints) if (s(k) !== undefined) over[k] = parseIntFlag(s(k)!, flag, min);
  if (s('lr') !== undefined) over.lr = parseFloatFlag(s('lr')!, '--lr', 0, 1);
  return over;
}


export function registerDpo(program: Command): void {
  commonOptions(program.command('dpo').description('Direct Preference Optimisation on preference pairs (β 0.1, sigmoid loss; IPO and label smoothing)'))
    .option('--ref <dir>', 'reference model folder (default: the frozen initial policy)')
    .option('--ref-logprobs <file>', 'precomputed reference log-probs, one {"chosen","rejected"} line per pair')
    .option('--beta <x>', 'β (default 0.1)')
    .option('--loss <type>', 'sigmoid (default) or ipo')
    .option('--label-smoothing <x>', 'conservative DPO ε in [0, 0.5)')
    .option('--validation-fraction <x>', 'hold out the last fraction of pairs for a final evaluation')
    .action(async (o: Flags) => {
      const over = commonOverrides(o);
      over.ref = o.ref;
      over.refLogprobs = o.refLogprobs;
      over.loss = o.loss;
      if (o.beta !== undefined) over.beta = parseFloatFlag(o.beta as string, '--beta', 0);
      if (o.labelSmoothing !== undefined) over.labelSmoothing = parseFloatFlag(o.labelSmoothing as string, '--label-smoothing', 0, 0.49);
      if (o.validationFraction !== undefined) over.validationFraction = parseFloatFlag(o.validationFraction as string, '--validation-fraction', 0, 0.5);
      const c = loadConfig(DpoConfigSchema, o.config as string | undefined, over);
      const r = await trainDpo(c, { resume: !!o.resume, log: progressLog() });
      const last = r.metrics.at(-1);
      console.log(`done: step ${r.step}${last ? `, loss ${last.loss.toFixed(4)}, accuracy ${last['rewards/accuracy']!.toFixed(3)}, margin ${last['rewards/margin']!.toFixed(3)}` : ''}${r.step === c.steps ? `; model ${r.modelDir}` : ''}; metrics ${c.out}/metrics.jsonl`);
    });
}
