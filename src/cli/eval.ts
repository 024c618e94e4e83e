// `baichuan2 eval`: run benchmark tasks on a model folder; writes results JSON
// and a Markdown table, resumes from its cache after an interruption.
import type { Command } from 'commander';
import { evaluate } from '../eval/evaluate.js';
import { TASKS } from '../eval/tasks/registry.js';
import { parseFloatFlag, parseIntFlag, UsageError } from './flags.js';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { requireDir, openModel, openTokenizer } from './common.js';
import { ModelLM } from '../eval/lm.js';
import { Progress } from './progress.js';

interface EvalFlags {
  model: string; task: string; data: string; shots?: string; limit?: string; out?: string; cache?: string; tokenizer?: string;
  pairs?: string; split?: string; samples?: string; temperature?: string; seed: string; timeout: string; memory: string; adapter?: string;
}

/** A short hash of an adapter folder's two files: adapter results get their own cache folder, never the base model's. */
function adapterHash(dir: string): string {
  const h = crypto.createHash('sha256');
  for (const f of ['adapter_config.json', 'adapter_model.safetensors']) {
    const p = path.join(dir, f);
    if (fs.existsSync(p)) h.update(fs.readFileSync(p));
  }
  return h.digest('hex').slice(0, 16);
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a model on benchmark tasks with the paper\'s protocols (results JSON + Markdown)')
    .requiredOption('--model <dir>', 'model folder')
    .requiredOption('--task <names>', `comma-separated tasks: ${Object.keys(TASKS).join(', ')} (or 'paper' for Tables 1 and 5-6)`)
    .requiredOption('--data <path>', 'the benchmark folder, or the folder holding them all (e.g. ../shared/data/eval); a text file for perplexity')
    .option('--shots <k>', 'few-shot examples (default: the paper\'s per task)')
    .option('--limit <n>', 'at most n items per task, spread over subjects')
    .option('--out <file>', 'results JSON (a .md table is written beside it)')
    .option('--cache <dir>', 'cache folder (default: .eval-cache beside --out)')
    .option('--tokenizer <file>', 'tokenizer.model (default: the model folder\'s)')
    .option('--adapter <dir>', 'a LoRA adapter folder (PEFT layout) on top of the model')
    .option('--pairs <list>', 'flores: language pairs, e.g. zh-en,zh-fr (default: the paper\'s seven)')
    .option('--split <name>', 'ceval: val (default) or dev')
    .option('--samples <n>', 'code tasks: samples per problem for pass@k (default 1, greedy)')
    .option('--temperature <t>', 'code tasks: sampling temperature when --samples > 1', '0.8')
    .option('--seed <n>', 'sampling seed', '0')
    .option('--timeout <s>', 'sandbox: seconds per program', '10')
    .option('--memory <mb>', 'sandbox: address-space limit per program (MiB)', '2048')
    .action(async (o: EvalFlags) => {
      const model = requireDir(o.model, '--model');
      let tasks = o.task.split(',').map((t) => t.trim()).filter(Boolean);
      if (tasks.includes('paper')) tasks = ['ceval', 'mmlu', 'cmmlu', 'gaokao', 'agieval', 'bbh', 'gsm8k', 'humaneval', 'jecqa', 'usmle', 'medmcqa', 'math', 'mbpp'];
      for (const t of tasks) if (!TASKS[t]) throw new UsageError(`--task: unknown task '${t}' (known: ${Object.keys(TASKS).join(', ')}, paper)`);
      let bar: Progress | null = null;
      let lm: ModelLM | undefined, cacheDir = o.cache;
      if (o.adapter !== undefined) {
        lm = new ModelLM(openModel(model, undefined, o.adapter), openTokenizer(model, o.tokenizer));
        cacheDir = path.join(o.cache ?? path.join(o.out ? path.dirname(o.out) : '.', '.eval-cache'), `adapter-${adapterHash(o.adapter)}`);
      }
      const report = await evaluate({
        model, tasks, data: o.data, out: o.out, cacheDir, tokenizer: o.tokenizer, split: o.split, ...(lm ? { lm } : {}),
        shots: o.shots === undefined ? undefined : parseIntFlag(o.shots, '--shots', 0, 64),
        limit: o.limit === undefined ? undefined : parseIntFlag(o.limit, '--limit', 1),
        pairs: o.pairs?.split(',').map((p) => p.trim()),
        samples: o.samples === undefined ? undefined : parseIntFlag(o.samples, '--samples', 1, 1000),
        temperature: parseFloatFlag(o.temperature ?? '0.8', '--temperature', 1e-6, 10),
        seed: parseIntFlag(o.seed, '--seed', 0, 2 ** 32 - 1),
        sandbox: { timeoutMs: parseFloatFlag(o.timeout, '--timeout', 0.1, 3600) * 1000, memoryBytes: parseIntFlag(o.memory, '--memory', 64) * 2 ** 20 },
        onTaskStart: (t, n) => { bar = new Progress(`eval ${t}`, n); },
        onProgress: (_t, d) => bar?.update(d),
      });
      for (const r of report.results)
        console.error(`${r.title}: ${r.metric} ${r.score.toFixed(r.metric === 'bits/byte' ? 4 : 2)} on ${r.n} items (${r.seconds.toFixed(1)} s${r.cachedItems ? `, ${r.cachedItems} from cache` : ''})`);
      process.stdout.write(report.markdown);
      if (o.out) console.error(`wrote ${o.out} and ${o.out.replace(/\.json$/, '')}.md`);
    });
}
