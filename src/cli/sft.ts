// `baichuan2 sft [--config sft.json] [flags]`: supervised fine-tuning with the
// official recipe (full or LoRA); `baichuan2 sft encode`: the official
// preprocessing as JSON lines. Flags override the config file.
import type { Command } from 'commander';
import { progressLog } from './progress.js';
import { readSftConfig, parseSftConfig } from '../align/config.js';
import { sft, encodeConversationFiles } from '../align/sft.js';
import { asRank } from '../distributed/env.js';
import { describeSkipped } from '../align/conversations.js';
import { loadTokenizer } from '../io/tokenizer-file.js';
import { parseFloatFlag, parseIntFlag, UsageError } from './flags.js';

interface TrainFlags {
  config?: string; model?: string; data?: string[]; out?: string; tokenizer?: string; steps?: string; epochs?: string; lr?: string;
  batchSize?: string; gradAccum?: string; seed?: string; maxLength?: string; pack?: boolean; valExamples?: string; evalEvery?: string;
  checkpointEvery?: string; precision?: string; recompute?: boolean; lora?: boolean; loraR?: string; loraAlpha?: string; loraDropout?: string;
  loraTargets?: string; resume?: boolean; threads?: string; zeroStage?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];


export function registerSft(program: Command): void {
  const cmd = program.command('sft').description('supervised fine-tuning, the official Baichuan 2 recipe (full or LoRA); `sft encode` shows the examples');
  cmd
    .command('train', { isDefault: true })
    .description('fine-tune a model folder on conversations (LR 2e-5 constant, AdamW 0.9/0.98, wd 1e-4, clip 1, 4 epochs, bf16)')
    .option('--config <file>', 'sft.json (see README); flags override it')
    .option('--model <dir>', 'base model folder (may be quantised with --lora)')
    .option('--data <file>', 'conversation file (.json, .jsonl, .jsonl.gz, .parquet); repeatable', collect)
    .option('--out <dir>', 'run folder; ends as a model folder (or a PEFT adapter with --lora)')
    .option('--tokenizer <file>', 'tokenizer.model (default: the model folder\'s)')
    .option('--steps <n>', 'optimizer steps (default: --epochs)')
    .option('--epochs <n>', 'epochs (default 4)')
    .option('--lr <x>', 'learning rate (default 2e-5, constant)')
    .option('--batch-size <n>', 'conversations (or packed rows) per batch (default 16)')
    .option('--grad-accum <n>', 'micro-batches per step (default 1)')
    .option('--seed <n>', 'seed for shuffling, LoRA init and dropout (default 0)')
    .option('--max-length <n>', 'model_max_length: examples are cut to it (default 512)')
    .option('--pack', 'pack several conversations per row (attention kept inside each)')
    .option('--val-examples <n>', 'hold out this many conversations for validation loss')
    .option('--eval-every <n>', 'validation every N steps')
    .option('--checkpoint-every <n>', 'checkpoint every N steps')
    .option('--precision <p>', 'bf16 (fp32 masters) or f32')
    .option('--no-recompute', 'keep activations instead of recomputing them')
    .option('--lora', 'train a LoRA adapter (official: W_pack, r 1, alpha 32, dropout 0.1)')
    .option('--lora-r <n>', 'LoRA rank')
    .option('--lora-alpha <x>', 'LoRA alpha')
    .option('--lora-dropout <x>', 'LoRA dropout')
    .option('--lora-targets <list>', 'comma list of W_pack, o_proj, gate_proj, up_proj, down_proj')
    .option('--resume', 'continue from the run folder\'s latest checkpoint')
    .option('--threads <n>', 'kernel threads')
    .option('--zero-stage <n>', 'under `baichuan2 launch`: 0 plain data parallel, 1 ZeRO-1 (optimizer state sharded)')
    .action(async (o: TrainFlags) => {
      const base: Record<string, unknown> = o.config ? readSftConfig(o.config) : {};
      const over: Record<string, unknown> = {};
      if (o.model) over.model = o.model;
      if (o.data) over.data = o.data.length === 1 ? o.data[0] : o.data;
      if (o.out) over.out = o.out;
      if (o.tokenizer) over.tokenizer = o.tokenizer;
      if (o.steps) over.steps = parseIntFlag(o.steps, '--steps', 1);
      if (o.epochs) over.epochs = parseIntFlag(o.epochs, '--epochs', 1);
      if (o.lr) over.lr = parseFloatFlag(o.lr, '--lr', 0, 1);
      if (o.batchSize) over.batchSize = parseIntFlag(o.batchSize, '--batch-size', 1);
      if (o.gradAccum) over.gradAccum = parseIntFlag(o.gradAccum, '--grad-accum', 1);
      if (o.seed) over.seed = parseIntFlag(o.seed, '--seed', 0);
      if (o.maxLength) over.maxLength = parseIntFlag(o.maxLength, '--max-length', 2);
      if (o.pack) over.pack = true;
      if (o.valExamples) over.valExamples = parseIntFlag(o.valExamples, '--val-examples', 0);
      if (o.evalEvery) over.evalEvery = parseIntFlag(o.evalEvery, '--eval-every', 1);
      if (o.checkpointEvery) over.checkpointEvery = parseIntFlag(o.checkpointEvery, '--checkpoint-every', 1);
      if (o.precision) {
        if (o.precision !== 'bf16' && o.precision !== 'f32') throw new UsageError(`--precision must be bf16 or f32, got '${o.precision}'`);
        over.precision = o.precision;
      }
      if (o.recompute === false) over.activationRecomputation = false;
      if (o.threads) over.threads = parseIntFlag(o.threads, '--threads', 1, 1024);
      if (o.zeroStage) over.zeroStage = parseIntFlag(o.zeroStage, '--zero-stage', 0, 1);
      const loraFlags = o.loraR || o.loraAlpha || o.loraDropout || o.loraTargets;
      if (o.lora || loraFlags) {
        const l: Record<string, unknown> = { ...((base.lora as Record<string, unknown> | null | undefined) ?? {}) };
        if (o.loraR) l.r = parseIntFlag(o.loraR, '--lora-r', 1);
        if (o.loraAlpha) l.alpha = parseFloatFlag(o.loraAlpha, '--lora-alpha', 0);
        if (o.loraDropout) l.dropout = parseFloatFlag(o.loraDropout, '--lora-dropout', 0, 0.999);
        if (o.loraTargets) l.targets = o.loraTargets.split(',').map((s) => s.trim()).filter(Boolean);
        over.lora = l;
      }
      const merged = { ...base, ...over };
      for (const k of ['model', 'data', 'out']) if (merged[k] === undefined) throw new UsageError(`--${k} is required (or "${k}" in --config)`);
      const c = parseSftConfig(merged, o.config ?? 'flags');
      // a rank of a job when launched (RANK, WORLD_SIZE, ...), else alone
      const r = await asRank((comm) => sft(c, { resume: !!o.resume, log: progressLog(), ...(comm ? { parallel: { comm, zeroStage: c.zeroStage } } : {}) }));
      if (process.env.RANK && process.env.RANK !== '0') return;
      console.log(`${process.exitCode === 130 ? 'stopped' : 'done'}: step ${r.step}, train loss ${r.lastLoss.toFixed(4)}${r.valLoss !== null ? `, val loss ${r.valLoss.toFixed(4)}` : ''}; ${c.lora ? 'adapter' : 'model'} ${c.out}; checkpoint ${r.checkpoint}; metrics ${c.out}/metrics.jsonl; plot ${c.out}/loss.svg`);
    });
  cmd
    .command('encode')
    .description('print the official fine-tune.py preprocessing of each conversation, unpadded: {"input_ids", "labels"} per line')
    .requiredOption('--tokenizer <file>', 'tokenizer.model or a model folder')
    .requiredOption('--data <file>', 'conversation file; repeatable', collect)
    .option('--max-length <n>', 'model_max_length (default 512)', '512')
    .action(async (o: { tokenizer: string; data: string[]; maxLength: string }) => {
      const maxLength = parseIntFlag(o.maxLength, '--max-length', 1);
      const tok = loadTokenizer(o.tokenizer);
      const r = await encodeConversationFiles(o.data, tok, { maxLength, keepEmpty: true });
      const out: string[] = [];
      for (const ex of r.examples) out.push(JSON.stringify({ input_ids: ex.inputIds, labels: ex.labels }));
      if (out.length) process.stdout.write(out.join('\n') + '\n');
      const skipped = describeSkipped(r.stats, 20);
      if (skipped) process.stderr.write(skipped + '\n');
      process.stderr.write(`${r.examples.length} example(s)\n`);
    });
}
