// `baichuan2 convert`: a PyTorch .bin model folder (single or sharded) into
// sharded safetensors in Hugging Face's layout, streaming (src/io/convert.ts).
import type { Command } from 'commander';
import { convertToSafetensors } from '../io/convert.js';
import { UsageError } from './flags.js';
import { requireDir } from './common.js';
import { Progress } from './progress.js';

const UNITS: Record<string, number> = { '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30 };

/** "5GB" (transformers' spelling: GB = 10^9), "500MiB", or a byte count. */
export function parseSize(v: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? UNITS[m[2]!.toUpperCase()] : undefined;
  const n = m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(n > 0)) throw new UsageError(`${flag} must be a size such as 5GB, 500MB or a byte count, got '${v}'`);
  return n;
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('rewrite a model folder\'s PyTorch .bin weights (single or sharded) as sharded safetensors (Hugging Face layout), one tensor at a time')
    .requiredOption('--model <dir>', 'model folder (pytorch_model.bin or pytorch_model-*.bin with an index)')
    .requiredOption('--out <dir>', 'new output folder')
    .option('--dtype <dtype>', 'bf16 or f32 (default: as stored)')
    .option('--max-shard-size <size>', 'shard size limit, as transformers (GB = 10^9 bytes)', '5GB')
    .option('--no-check-finite', 'skip the NaN/Inf scan of every tensor')
    .action((o: { model: string; out: string; dtype?: string; maxShardSize: string; checkFinite: boolean }) => {
      if (o.dtype !== undefined && o.dtype !== 'bf16' && o.dtype !== 'f32') throw new UsageError(`--dtype must be bf16 or f32, got '${o.dtype}'`);
      const maxShardBytes = parseSize(o.maxShardSize, '--max-shard-size');
      let bar: Progress | null = null;
      const r = convertToSafetensors(requireDir(o.model, '--model'), o.out, {
        dtype: o.dtype as 'bf16' | 'f32' | undefined, maxShardBytes, checkFinite: o.checkFinite,
        onProgress: (d, t) => (bar ??= Progress.bytes('convert', t)).update(d),
      });
      console.log(`${o.out}: ${r.tensors} tensors, ${r.totalSize >= 2 ** 30 ? `${(r.totalSize / 2 ** 30).toFixed(2)} GiB` : `${(r.totalSize / 2 ** 20).toFixed(2)} MiB`} in ${r.shards.length} shard${r.shards.length > 1 ? 's' : ''} (${r.shards.length > 1 ? 'model.safetensors.index.json' : r.shards[0]}) in ${r.seconds.toFixed(1)} s`);
    });
}
