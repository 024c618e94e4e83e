// `baichuan2 bench gemm`: engine benchmarks (see bench/engine.ts).
import { Option, type Command } from 'commander';
import { benchGemm, benchAttention, engineReport, appendReport } from '../../bench/engine.js';
import { setThreads } from '../engine/backend.js';
import { parseIntFlag, UsageError } from './flags.js';
import { benchDecode, decodeReport, benchTokenizer, tokenizerReport, benchTrainTokenizer, trainTokenizerReport } from '../../bench/model.js';
import { requireDir } from './common.js';
import { benchTrain, trainReport } from '../../bench/train.js';
import { benchSftShape, benchSftFolder, sftReport } from '../../bench/sft.js';
import { backend } from '../engine/backend.js';
import { benchData, benchDataOnce, dataReport } from '../../bench/data.js';
import { runPerf, perfReport } from '../../bench/kernels/perf.js';
import { kernelInfo, setKernels } from '../engine/backend.js';
import type { KernelBuild } from '../engine/native.js';
import { machineInfo, machineLine } from '../../bench/machine.js';
import { benchServe, serveReport } from '../../bench/serve.js';
import { benchAlign, alignReport } from '../../bench/align.js';
import { benchDist, benchDistRank, distReport } from '../../bench/dist.js';

/** Print a benchmark's Markdown report, append it when asked, and end with one JSON line when asked. */
function publish(report: string, o: { append?: string; json?: boolean }, json?: unknown): void {
  console.log(report);
  if (o.append) appendReport(o.append, report);
  if (o.json && json !== undefined) console.log(JSON.stringify(json));
}

/** A `bench` subcommand with the report options every benchmark takes (--append, --json). */
function reportCommand(bench: Command, name: string): Command {
  return bench.command(name)
    .option('--append <file>', 'append the Markdown report to this file')
    .option('--json', 'print one JSON object as the last line');
}

/** Which bf16 x bf16 GEMM each build runs, and why (for the report). */
function bf16GemmByBuild(builds: string[]): string {
  const active = kernelInfo().arch;
  try {
    return 'bf16 GEMM per build: ' + builds.map((b) => { setKernels(b as KernelBuild); const v = kernelInfo().bf16Gemm; return `${b} ${v.variant} (${v.why})`; }).join('; ');
  } finally {
    setKernels(active);
  }
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks (results can be appended to BENCHMARKS.md)');
  reportCommand(bench, 'gemm')
    .description('GEMM GFLOP/s (f32, bf16) at square and model shapes, attention tokens/s, numpy f32 GEMM in the same run')
    .option('--quick', 'smaller sizes (a smoke run)')
    .option('--threads <n>', 'kernel threads (default: all cores)')
    .action(async (o: { quick?: boolean; threads?: string; append?: string; json?: boolean }) => {
      if (o.threads !== undefined) setThreads(parseIntFlag(o.threads, '--threads', 1));
      const log = (s: string) => console.error(s);
      const gemm = await benchGemm({ quick: o.quick, log });
      const attn = benchAttention({ quick: o.quick, log });
      publish(engineReport(gemm, attn), o, { gemm: gemm.rows, attention: attn, blas: gemm.blas, bf16_gemm: gemm.bf16 });
    });
  reportCommand(bench, 'kernels')
    .description('every kernel of the harness table (bench/kernels/, test/engine/harness.test.ts) timed at model sizes on each kernel build this CPU supports')
    .option('--builds <list>', 'comma-separated builds (default: every supported one but the test-only amxemu)')
    .option('--filter <regex>', 'only cases whose name matches')
    .option('--threads <n>', 'kernel threads (default: all cores)')
    .action((o: { builds?: string; filter?: string; threads?: string; append?: string; json?: boolean }) => {
      if (o.threads !== undefined) setThreads(parseIntFlag(o.threads, '--threads', 1));
      const supported = kernelInfo().supported as string[];
      // amxemu (emulated AMX tiles) is a correctness build, far too slow to time at model sizes: only on request
      const builds = o.builds ? o.builds.split(',').map((b) => b.trim()) : supported.filter((b) => b !== 'amxemu');
      for (const b of builds) if (!supported.includes(b)) throw new UsageError(`--builds: '${b}' is not a build this CPU supports (${supported.join(', ')})`);
      let filter: RegExp | null = null;
      try { filter = o.filter ? new RegExp(o.filter) : null; } catch { throw new UsageError(`--filter: '${o.filter}' is not a regular expression`); }
      const bf16 = bf16GemmByBuild(builds);
      console.error(bf16);
      const rows = runPerf(builds, filter, (s) => console.error(s));
      publish(perfReport(rows, `### bench kernels — ${machineLine(machineInfo())}\n\n${bf16}`), o, rows);
    });
  reportCommand(bench, 'decode')
    .description('prefill and decode tokens/s, peak RSS and load time of a model folder (batch 1, greedy)')
    .requiredOption('--model <dir>', 'model folder (e.g. from `baichuan2 init --preset 7b --dtype bf16`)')
    .option('--prompt-tokens <n>', 'prompt length', '128')
    .option('--new-tokens <n>', 'tokens to decode', '32')
    .option('--threads <n>', 'kernel threads (default: all cores)')
    .option('--before <list>', 'kernel builds to time after the active one, same model and run (e.g. avx2; "none" for none)', 'avx2')
    .option('--peer <engine>', 'also time llama.cpp (node-llama-cpp, installed into ~/.cache/baichuan2-ts) on the same weights: llama.cpp or none', 'llama.cpp')
    .option('--composed', 'also time the active build with the fused decode layer off (the composed layers), same run')
    .action((o: { model: string; promptTokens: string; newTokens: string; threads?: string; before: string; peer: string; composed?: boolean; append?: string; json?: boolean }) => {
      if (o.peer !== 'llama.cpp' && o.peer !== 'none') throw new UsageError(`--peer must be llama.cpp or none, got '${o.peer}'`);
      if (o.threads !== undefined) setThreads(parseIntFlag(o.threads, '--threads', 1));
      const supported = kernelInfo().supported as string[];
      const before = o.before === 'none' ? [] : o.before.split(',').map((b) => b.trim()).filter((b) => b !== kernelInfo().arch);
      for (const b of before) if (!supported.includes(b)) throw new UsageError(`--before: '${b}' is not a build this CPU supports (${supported.join(', ')})`);
      const rows = benchDecode(requireDir(o.model, '--model'), parseIntFlag(o.promptTokens, '--prompt-tokens', 1), parseIntFlag(o.newTokens, '--new-tokens', 1), (s) => console.error(s), before as KernelBuild[], { peer: o.peer === 'llama.cpp', composed: o.composed });
      publish(decodeReport(rows), o, rows);
    });
  reportCommand(bench, 'data')
    .description('data pipeline MB/s and documents/s per stage, peak RSS, scaling from 50 to 200 MB (built corpus with planted duplicates)')
    .option('--sizes <list>', 'corpus sizes in MB', '50,200')
    .option('--size-mb <n>', 'run one size in this process (used by --sizes)')
    .option('--work <dir>', 'scratch folder', 'runs/bench-data')
    .action(async (o: { sizes: string; sizeMb?: string; work: string; append?: string; json?: boolean }) => {
      if (o.sizeMb !== undefined) {
        const r = await benchDataOnce(parseIntFlag(o.sizeMb, '--size-mb', 1), o.work, (s) => console.error(s));
        process.stdout.write(JSON.stringify(r) + '\n');
        return;
      }
      const sizes = o.sizes.split(',').map((x) => parseIntFlag(x.trim(), '--sizes', 1));
      const rows = benchData(sizes, o.work, (s) => console.error(s));
      publish(dataReport(rows), o, rows);
    });
  reportCommand(bench, 'serve')
    .description('the HTTP server under load: output tok/s, TTFT and inter-token latency p50/p99 at several concurrency levels')
    .requiredOption('--model <dir>', 'model folder with tokenizer.model (quantised folders work)')
    .option('--concurrency <list>', 'concurrent streaming clients per level', '1,4,16')
    .option('--requests <list>', 'requests per level: one number, or one per level (default: 2 x concurrency, at least 4)')
    .option('--prompt-tokens <n>', 'prompt length', '64')
    .option('--max-tokens <n>', 'tokens to generate per request', '32')
    .option('--parallel <n>', 'KV slots (default: the largest concurrency)')
    .option('--threads <n>', 'kernel threads of the engine (default: all cores)')
    .action(async (o: { model: string; concurrency: string; requests?: string; promptTokens: string; maxTokens: string; parallel?: string; threads?: string; append?: string; json?: boolean }) => {
      const int = (v: string | undefined, flag: string) => (v === undefined ? undefined : parseIntFlag(v, flag, 1));
      const levels = o.concurrency.split(',').length;
      if (o.requests && ![1, levels].includes(o.requests.split(',').length)) throw new UsageError(`--requests: give one number or ${levels} (one per --concurrency level)`);
      const r = await benchServe(requireDir(o.model, '--model'), {
        concurrency: o.concurrency.split(',').map((x) => parseIntFlag(x.trim(), '--concurrency', 1, 256)),
        requests: o.requests?.split(',').map((x) => parseIntFlag(x.trim(), '--requests', 1)), promptTokens: int(o.promptTokens, '--prompt-tokens')!, maxTokens: int(o.maxTokens, '--max-tokens')!,
        parallel: int(o.parallel, '--parallel'), threads: int(o.threads, '--threads'), log: (s) => console.error(s),
      });
      publish(serveReport(r), o, r);
    });
  reportCommand(bench, 'tokenizer')
    .description('encoding MB/s against SentencePiece (Python) on the same texts, in the same run')
    .requiredOption('--tokenizer <file|dir>', 'tokenizer.model')
    .requiredOption('--texts <file>', 'JSONL with a "text" field per line')
    .action((o: { tokenizer: string; texts: string; append?: string; json?: boolean }) => {
      const r = benchTokenizer(o.tokenizer, o.texts, (s) => console.error(s));
      publish(tokenizerReport(o.tokenizer, o.texts, r), o, r);
    });
  reportCommand(bench, 'dist')
    .description('data-parallel training tokens/s (1 rank, N ranks, N ranks ZeRO-1) on the `bench train` shape over Gloo, and bytes sent per step')
    .option('--nproc <n>', 'ranks of the parallel runs', '2')
    .option('--steps <n>', 'timed steps per run (after one warm-up step)', '3')
    .addOption(new Option('--rank-out <file>', 'internal: run as one rank of a launched job, rank 0 writes its numbers here').hideHelp())
    .addOption(new Option('--zero-stage <n>', 'internal: with --rank-out').hideHelp())
    .action(async (o: { nproc: string; steps: string; append?: string; json?: boolean; rankOut?: string; zeroStage?: string }) => {
      const steps = parseIntFlag(o.steps, '--steps', 1);
      if (o.rankOut) { await benchDistRank({ out: o.rankOut, steps, zeroStage: o.zeroStage === '1' ? 1 : 0 }); return; }
      const rows = await benchDist({ script: process.argv[1]!, nproc: parseIntFlag(o.nproc, '--nproc', 2, 64), steps, log: (s) => console.error(s) });
      publish(distReport(rows), o, { dist: rows });
    });
  reportCommand(bench, 'train')
    .description('training tokens/s and MFU of a small Baichuan 2 step, and the same step in PyTorch (same run)')
    .option('--dtype <dtype>', 'f32, bf16 or both', 'both')
    .option('--steps <n>', 'timed steps', '5')
    .action((o: { dtype: string; steps: string; append?: string; json?: boolean }) => {
      const dtypes = o.dtype === 'both' ? ['f32', 'bf16'] as const : [o.dtype];
      for (const d of dtypes) if (d !== 'f32' && d !== 'bf16') throw new UsageError(`--dtype must be f32, bf16 or both, got '${d}'`);
      const steps = parseIntFlag(o.steps, '--steps', 1, 1000);
      const rows = dtypes.map((d) => benchTrain(d as 'f32' | 'bf16', steps, (s) => console.error(s)));
      publish(trainReport(rows), o, { train: rows });
    });
  reportCommand(bench, 'sft')
    .description('SFT step tokens/s, full and LoRA, at the `bench train` shape; with --model, LoRA steps and peak RSS on that folder (bf16 or quantised)')
    .option('--model <dir>', 'a model folder (e.g. `init --preset 7b --dtype bf16`, or its `quantize --bits 4` copy): LoRA only')
    .option('--batch <n>', 'with --model: rows', '1')
    .option('--seq <n>', 'with --model: tokens per row', '512')
    .option('--steps <n>', 'timed steps (after the warm-up steps)', '3')
    .option('--warmup <n>', 'with --model: untimed steps first', '1')
    .option('--threads <n>', 'kernel threads (default: all cores)')
    .action((o: { model?: string; batch: string; seq: string; steps: string; warmup: string; threads?: string; append?: string; json?: boolean }) => {
      if (o.threads !== undefined) setThreads(parseIntFlag(o.threads, '--threads', 1));
      const steps = parseIntFlag(o.steps, '--steps', 1, 1000);
      const log = (s: string) => console.error(s);
      const rows = o.model
        ? [benchSftFolder(requireDir(o.model, '--model'), { steps, batch: parseIntFlag(o.batch, '--batch', 1), seq: parseIntFlag(o.seq, '--seq', 8), warmup: parseIntFlag(o.warmup, '--warmup', 0, 100) }, log)]
        : benchSftShape(steps, log);
      publish(sftReport(rows, backend().threads()), o, { sft: rows });
    });
  reportCommand(bench, 'align')
    .description('one PPO iteration split into rollout / scoring / update, and DPO tokens/s (tiny and `bench train` shapes)')
    .option('--iterations <n>', 'PPO iterations per shape (the first is not timed)', '4')
    .action(async (o: { iterations: string; append?: string; json?: boolean }) => {
      const rows = await benchAlign(parseIntFlag(o.iterations, '--iterations', 2, 100), (s) => console.error(s));
      publish(alignReport(rows), o, rows);
    });
  bench
    .command('train-tokenizer')
    .description('tokenizer training time and bytes/token against spm_train on the same corpus and vocab size')
    .requiredOption('--train <file>', 'training JSONL ("text")')
    .requiredOption('--val <file>', 'held-out JSONL for bytes/token')
    .option('--vocab-size <n>', 'vocab size', '8000')
    .option('--append <file>', 'append the Markdown report to this file')
    .action(async (o: { train: string; val: string; vocabSize: string; append?: string }) => {
      const r = await benchTrainTokenizer(o.train, o.val, parseIntFlag(o.vocabSize, '--vocab-size', 600), (s) => console.error(s));
      publish(trainTokenizerReport(o.train, r), o);
    });
}
