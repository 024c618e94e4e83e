// `baichuan2 data ...`: the pre-training data pipeline (src/data/pipeline/):
// the whole run from a config, each stage on its own, and corpus statistics.
import fs from 'node:fs';
import type { Command } from 'commander';
import { parsePipelineConfig, readPipelineConfig, type PipelineConfig, type StageName } from '../data/pipeline/config.js';
import { runPipeline } from '../data/pipeline/run.js';
import { writeRunOutputs } from '../data/pipeline/outputs.js';
import { corpusStats } from '../data/pipeline/stats.js';
import { Progress } from './progress.js';
import { UsageError, parseFloatFlag, parseIntFlag } from './flags.js';

async function execute(c: PipelineConfig): Promise<void> {
  let bar: Progress | null = null, current = '';
  const r = await runPipeline(c, {
    log: (m) => console.error(m),
    progress: (stage, d, t) => { if (stage !== current) { current = stage; bar = new Progress(stage, t); } bar!.update(d); },
  });
  writeRunOutputs(c.out, r);
  const last = r.stages[r.stages.length - 1]!;
  console.log(`${last.docsOut} documents, ${(last.bytesOut / 1e6).toFixed(2)} MB -> ${r.finalDir}; report: ${c.out}/report.md`);
}

interface StageFlags { input: string[]; out: string; format?: string; workers?: string; shardDocs?: string }

function baseConfig(o: StageFlags, stages: StageName[], extra: Record<string, unknown> = {}): PipelineConfig {
  if (!o.input?.length) throw new UsageError('--input is required (repeat it for several files)');
  const raw = {
    inputs: o.input, out: o.out, stages, ...(o.format ? { format: o.format } : {}),
    ...(o.workers ? { workers: parseIntFlag(o.workers, '--workers', 1) } : {}),
    ...(o.shardDocs ? { shard_docs: parseIntFlag(o.shardDocs, '--shard-docs', 1) } : {}),
    ...extra,
  };
  try {
    return parsePipelineConfig(raw, 'flags');
  } catch (e) {
    throw new UsageError((e as Error).message);  // every value here came from a flag
  }
}

function stageCommand(data: Command, name: string, description: string): Command {
  return data.command(name).description(description)
    .requiredOption('--input <file...>', '.jsonl, .jsonl.gz, .parquet or .txt inputs')
    .requiredOption('--out <dir>', 'output folder (resumes if it holds an unfinished run)')
    .option('--format <f>', 'output shards: jsonl or parquet', 'jsonl')
    .option('--shard-docs <n>', 'documents per shard', '5000')
    .option('--workers <n>', 'worker threads (default: all cores)');
}

export function registerData(program: Command): void {
  const data = program.command('data').description('pre-training data pipeline: exact and near dedup, quality filters, mixing');
  data.command('run').description('run the whole pipeline from a config file (docs/DATA.md)')
    .requiredOption('--config <file>', 'pipeline.json')
    .action(async (o: { config: string }) => execute(readPipelineConfig(o.config)));
  stageCommand(data, 'dedup-exact', 'remove exact duplicates (normalised-text hashes, first occurrence kept)')
    .action(async (o: StageFlags) => execute(baseConfig(o, ['exact'])));
  stageCommand(data, 'filter', 'heuristic filters; --rules FILE overrides thresholds (JSON, the "filter" object of the config)')
    .option('--rules <file>', 'JSON object of filter thresholds')
    .action(async (o: StageFlags & { rules?: string }) => {
      let filter: unknown;
      if (o.rules) {
        if (!fs.existsSync(o.rules)) throw new UsageError(`--rules ${o.rules}: file not found`);
        try { filter = JSON.parse(fs.readFileSync(o.rules, 'utf8')); } catch (e) { throw new UsageError(`--rules ${o.rules}: invalid JSON (${(e as Error).message})`); }
      }
      await execute(baseConfig(o, ['filter'], filter !== undefined ? { filter } : {}));
    });
  stageCommand(data, 'quality', 'sentence-level quality filter (character trigram model trained on --reference)')
    .requiredOption('--reference <file...>', 'texts that show what good looks like')
    .option('--quantile <q>', 'threshold: this quantile of the reference sentences\' scores', '0.02')
    .action(async (o: StageFlags & { reference: string[]; quantile: string }) =>
      execute(baseConfig(o, ['quality'], { quality: { reference: o.reference, threshold_quantile: parseFloatFlag(o.quantile, '--quantile', 0, 1) } })));
  stageCommand(data, 'dedup-units', 'remove repeated sentences and paragraphs across documents')
    .action(async (o: StageFlags) => execute(baseConfig(o, ['units'])));
  stageCommand(data, 'dedup-near', 'document-level near dedup: MinHash + LSH, connected components keep one per cluster')
    .option('--threshold <j>', 'Jaccard threshold', '0.8')
    .option('--shingle <n>', 'words per shingle', '5')
    .option('--permutations <n>', 'MinHash permutations', '128')
    .option('--bands <n>', 'LSH bands', '32')
    .option('--rows <n>', 'rows per band', '4')
    .action(async (o: StageFlags & { threshold: string; shingle: string; permutations: string; bands: string; rows: string }) =>
      execute(baseConfig(o, ['near'], { near: {
        threshold: parseFloatFlag(o.threshold, '--threshold', 1e-6, 1), shingle: parseIntFlag(o.shingle, '--shingle', 1),
        permutations: parseIntFlag(o.permutations, '--permutations', 1, 1024), bands: parseIntFlag(o.bands, '--bands', 1), rows: parseIntFlag(o.rows, '--rows', 1),
      } })));
  stageCommand(data, 'mix', 'sampling weights per category (and quality) for the trainer')
    .option('--weights <list>', 'target shares, e.g. zh=0.5,en=0.3,code=0.2')
    .option('--categories <list>', 'category=regex on the source, e.g. zh=^zh,code=^code')
    .action(async (o: StageFlags & { weights?: string; categories?: string }) => {
      const pairs = (v: string | undefined, flag: string) => Object.fromEntries((v ?? '').split(',').filter(Boolean).map((kv) => {
        const i = kv.indexOf('=');
        if (i < 1) throw new UsageError(`${flag}: '${kv}' is not name=value`);
        return [kv.slice(0, i), kv.slice(i + 1)];
      }));
      const weights = Object.fromEntries(Object.entries(pairs(o.weights, '--weights')).map(([k, v]) => [k, parseFloatFlag(v, `--weights ${k}`, 0)]));
      await execute(baseConfig(o, ['mix'], { mix: { weights, categories: pairs(o.categories, '--categories') } }));
    });
  data.command('stats').description('documents, bytes, sources, character classes and length quantiles of inputs')
    .argument('<files...>', 'inputs or shards')
    .option('--source-field <name>', 'field naming a record\'s source', 'source')
    .action(async (files: string[], o: { sourceField: string }) => {
      process.stdout.write(JSON.stringify(await corpusStats(files, o.sourceField), null, 2) + '\n');
    });
}
