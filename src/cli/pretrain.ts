// `baichuan2 pretrain --config train.json`: the paper's recipe; flags override the file.
import type { Command } from 'commander';
import { progressLog } from './progress.js';
import { readTrainConfig, parseTrainConfig } from '../train/config.js';
import { pretrain } from '../train/trainer.js';
import { asRank } from '../distributed/env.js';
import { parseFloatFlag, parseIntFlag } from './flags.js';

export function registerPretrain(program: Command): void {
  program
    .command('pretrain')
    .description('pre-train a Baichuan 2 model (AdamW 0.9/0.95, wd 0.1, warm-up + cosine, clip 0.5, max-z)')
    .requiredOption('--config <file>', 'train.json (see README)')
    .option('--resume', 'continue from the run folder\'s latest checkpoint')
    .option('--steps <n>', 'override steps')
    .option('--out <dir>', 'override the run folder')
    .option('--peak-lr <lr>', 'override peakLr')
    .option('--threads <n>', 'kernel threads')
    .option('--zero-stage <n>', 'under `baichuan2 launch`: 0 plain data parallel, 1 ZeRO-1 (optimizer state sharded)')
    .action(async (o: { config: string; resume?: boolean; steps?: string; out?: string; peakLr?: string; threads?: string; zeroStage?: string }) => {
      let c = readTrainConfig(o.config);
      const over: Record<string, unknown> = {};
      if (o.steps) over.steps = parseIntFlag(o.steps, '--steps', 1);
      if (o.out) over.out = o.out;
      if (o.peakLr) over.peakLr = parseFloatFlag(o.peakLr, '--peak-lr', 0, 1);
      if (o.threads) over.threads = parseIntFlag(o.threads, '--threads', 1, 1024);
      if (o.zeroStage) over.zeroStage = parseIntFlag(o.zeroStage, '--zero-stage', 0, 1);
      if (Object.keys(over).length) c = parseTrainConfig({ ...c, ...over }, o.config);
      // a rank of a job when launched (RANK, WORLD_SIZE, ...), else alone
      const r = await asRank((comm) => pretrain(c, {
        resume: !!o.resume,
        ...(comm ? { parallel: { comm, zeroStage: c.zeroStage } } : {}),
        log: progressLog(),
      }));
      if (process.env.RANK && process.env.RANK !== '0') return;
      console.log(`done: step ${r.step}, train loss ${r.lastLoss.toFixed(4)}${r.valLoss !== null ? `, val loss ${r.valLoss.toFixed(4)} (${r.valBpb!.toFixed(3)} bits/byte)` : ''}; checkpoint ${r.checkpoint}; metrics ${c.out}/metrics.jsonl; plot ${c.out}/loss.svg`);
    });
}
