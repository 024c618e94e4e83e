// `baichuan2 train-rm [--config rm.json] [flags]`: a reward model (trunk +
// score head) from preference pairs; held-out accuracy by score gap.
import type { Command } from 'commander';
import { RmConfigSchema, loadConfig } from '../align/preference/config.js';
import { trainRewardModel } from '../align/preference/train-rm.js';
import { parseFloatFlag, parseIntFlag } from './flags.js';
import { commonOptions, commonOverrides, type Flags } from './dpo.js';
import { progressLog } from './progress.js';

export function registerTrainRm(program: Command): void {
  commonOptions(program.command('train-rm').description('train a reward model on preference pairs (loss −log σ(r_c − r_r − margin)); held-out accuracy by gap (Table 4)'))
    .option('--validation-fraction <x>', 'held-out fraction (the file\'s last pairs; default 0.1)')
    .option('--eval-every <n>', 'held-out evaluation every N steps')
    .action(async (o: Flags) => {
      const over = commonOverrides(o);
      if (o.validationFraction !== undefined) over.validationFraction = parseFloatFlag(o.validationFraction as string, '--validation-fraction', 0, 0.5);
      if (o.evalEvery !== undefined) over.evalEvery = parseIntFlag(o.evalEvery as string, '--eval-every', 1);
      const c = loadConfig(RmConfigSchema, o.config as string | undefined, over);
      const r = await trainRewardModel(c, { resume: !!o.resume, log: progressLog() });
      const v = r.validation;
      console.log(`done: step ${r.step}${v ? `, held-out accuracy ${(100 * v.overall.accuracy).toFixed(1)}% of ${v.overall.pairs} pairs (by gap: ${c.out}/eval.md)` : ''}${r.step === c.steps ? `; reward model ${r.modelDir}` : ''}`);
    });
}
