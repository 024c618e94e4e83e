// `baichuan2 ppo [--config ppo.json] [flags]`: PPO with actor, reference,
// reward and critic (or GRPO with --advantage grpo). --steps counts iterations.
import type { Command } from 'commander';
import { PpoConfigSchema, loadConfig } from '../align/preference/config.js';
import { trainPpo } from '../align/preference/ppo.js';
import { parseFloatFlag, parseIntFlag } from './flags.js';
import { commonOptions, commonOverrides, type Flags } from './dpo.js';
import { progressLog } from './progress.js';

export function registerPpo(program: Command): void {
  commonOptions(program.command('ppo').description('PPO (paper defaults: critic warm-up 20, LR 5e-6, clip 0.1, grad clip 0.5, β 0.2 → 0.005, 350 iterations) or GRPO'))
    .option('--reward <dir|file.mjs>', 'reward model folder, or a JS module exporting score(prompt, response)')
    .option('--ref <dir>', 'reference model (default: the initial actor)')
    .option('--critic <dir>', 'critic (default: the reward model; with a JS reward, the actor + a zero value head)')
    .option('--advantage <kind>', 'gae (default) or grpo')
    .option('--group-size <n>', 'grpo: samples per prompt')
    .option('--max-new-tokens <n>', 'longest response')
    .option('--ppo-epochs <n>', 'passes over each rollout batch')
    .option('--critic-warmup <n>', 'iterations that train only the critic')
    .option('--kl-start <x>', 'β at the first iteration')
    .option('--kl-end <x>', 'β at the last iteration')
    .action(async (o: Flags) => {
      const over = commonOverrides(o);
      over.reward = o.reward;
      over.ref = o.ref;
      over.critic = o.critic;
      over.advantage = o.advantage;
      for (const [k, flag, min] of [['groupSize', '--group-size', 2], ['maxNewTokens', '--max-new-tokens', 1], ['ppoEpochs', '--ppo-epochs', 1], ['criticWarmup', '--critic-warmup', 0]] as const)
        if (o[k] !== undefined) over[k] = parseIntFlag(o[k] as string, flag, min);
      if (o.klStart !== undefined) over.klStart = parseFloatFlag(o.klStart as string, '--kl-start', 0);
      if (o.klEnd !== undefined) over.klEnd = parseFloatFlag(o.klEnd as string, '--kl-end', 0);
      const c = loadConfig(PpoConfigSchema, o.config as string | undefined, over);
      const r = await trainPpo(c, { resume: !!o.resume, log: progressLog() });
      const first = r.metrics[0], last = r.metrics.at(-1);
      console.log(`done: iteration ${r.step}${first && last ? `, mean reward ${first['reward/mean']!.toFixed(3)} -> ${last['reward/mean']!.toFixed(3)}, KL ${last.kl!.toFixed(3)}` : ''}${r.step === c.steps ? `; model ${r.modelDir}` : ''}; metrics ${c.out}/metrics.jsonl`);
    });
}
