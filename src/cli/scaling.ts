// `baichuan2 scaling --config scaling.json`: the scaling-law experiment.
import fs from 'node:fs';
import type { Command } from 'commander';
import { parseScalingConfig, runScaling } from '../train/scaling.js';
import { UsageError } from './flags.js';

export function registerScaling(program: Command): void {
  program
    .command('scaling')
    .description('train a ladder of small models, fit L(C) = a*C^b + L_inf, predict and train a larger one')
    .requiredOption('--config <file>', 'scaling.json (data, out, ladder, target, tokens, ...)')
    .action(async (o: { config: string }) => {
      if (!fs.existsSync(o.config)) throw new UsageError(`--config ${o.config}: not found`);
      let raw: unknown;
      try { raw = JSON.parse(fs.readFileSync(o.config, 'utf8')); } catch (e) { throw new UsageError(`${o.config}: invalid JSON (${(e as Error).message})`); }
      const c = parseScalingConfig(raw, o.config);
      const r = await runScaling(c, (line, final) => { if (final) console.log(line); });
      console.log(`predicted ${r.predicted.toFixed(4)}, actual ${r.target.valLoss.toFixed(4)} (${(100 * r.relativeError).toFixed(2)}% error); report ${c.out}/scaling.md, plot ${c.out}/scaling.svg`);
    });
}
