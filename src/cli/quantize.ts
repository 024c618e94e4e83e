// `baichuan2 quantize`: weight-only 8- or 4-bit quantisation of a model folder.
import type { Command } from 'commander';
import { quantizeModelFolder } from '../infer/quantize.js';
import { UsageError, parseIntFlag } from './flags.js';
import { requireDir } from './common.js';
import { Progress } from './progress.js';

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('weight-only quantisation (8- or 4-bit, per-group f16 scales) into a new model folder')
    .requiredOption('--model <dir>', 'model folder (bf16, f16 or f32; safetensors or PyTorch .bin, single or sharded)')
    .requiredOption('--bits <n>', '8 or 4')
    .option('--group-size <n>', 'elements per scale: 32, 64 or 128', '32')
    .requiredOption('--out <dir>', 'output folder (not the model folder, nor inside it)')
    .action((o: { model: string; bits: string; groupSize: string; out: string }) => {
      const bits = parseIntFlag(o.bits, '--bits');
      if (bits !== 4 && bits !== 8) throw new UsageError(`--bits must be 4 or 8, got ${o.bits}`);
      const groupSize = parseIntFlag(o.groupSize, '--group-size');
      if (![32, 64, 128].includes(groupSize)) throw new UsageError(`--group-size must be 32, 64 or 128, got ${o.groupSize}`);
      let bar: Progress | null = null;
      const r = quantizeModelFolder(requireDir(o.model, '--model'), o.out, { bits, groupSize, onProgress: (d, t) => (bar ??= Progress.bytes('quantize', t)).update(d) });
      console.log(`${o.out}: ${bits}-bit, group ${groupSize}; ${(r.bytesIn / 2 ** 20).toFixed(1)} MiB of weights -> ${(r.bytesOut / 2 ** 20).toFixed(1)} MiB in ${r.seconds.toFixed(1)} s`);
    });
}
