// The harness entry point: load a model folder, run the named tasks with a
// resumable cache, and write per-task JSON plus a Markdown table.
import fs from 'node:fs';
import path from 'node:path';
import { loadModel } from '../io/hf-folder.js';
import { loadTokenizer } from '../io/tokenizer-file.js';
import { ModelLM, type EvalLM } from './lm.js';
import { hashModelFolder } from './model-hash.js';
import { markdownReport } from './report.js';
import { runTask, type RunOptions, type TaskResult } from './runner.js';
import { loadTask } from './tasks/registry.js';
import { writeFileAtomic } from '../engine/atomic-write.js';

export interface EvaluateOptions {
  model: string;
  tasks: string[];
  data: string;
  shots?: number;
  limit?: number;
  /** results JSON path; the Markdown table goes beside it (.md) */
  out?: string;
  /** cache folder (default: <out folder>/.eval-cache) */
  cacheDir?: string;
  tokenizer?: string;
  pairs?: string[];
  split?: string;
  samples?: number;
  temperature?: number;
  seed?: number;
  sandbox?: RunOptions['sandbox'];
  onTaskStart?: (task: string, items: number) => void;
  onProgress?: (task: string, done: number, total: number) => void;
  /** An already loaded model (tests, servers); `model` is then only hashed and recorded. */
  lm?: EvalLM;
}

export interface EvaluationReport {
  model: { dir: string; sha256: string };
  date: string;
  results: TaskResult[];
  markdown: string;
}

/** The folder's name, or its parent's when the folder is just called 'model' (runs/demo/model -> demo). */
function modelLabel(dir: string): string {
  const abs = path.resolve(dir);
  return path.basename(abs) === 'model' ? path.basename(path.dirname(abs)) : path.basename(abs);
}

export async function evaluate(o: EvaluateOptions): Promise<EvaluationReport> {
  if (!o.tasks.length) throw new Error('evaluate: no tasks given');
  const cacheDir = o.cacheDir ?? path.join(o.out ? path.dirname(o.out) : '.', '.eval-cache');
  const sha256 = hashModelFolder(o.model, { memoFile: path.join(cacheDir, 'model-hashes.json') });
  const lm = o.lm ?? new ModelLM(loadModel(o.model), loadTokenizer(o.tokenizer ?? o.model));
  const results: TaskResult[] = [];
  for (const name of o.tasks) {
    const task = loadTask(name, { data: o.data, shots: o.shots, pairs: o.pairs, split: o.split, encode: (t) => lm.encode(t), maxLength: lm.maxLength });
    o.onTaskStart?.(name, o.limit === undefined ? task.items.length : Math.min(o.limit, task.items.length));
    results.push(await runTask(lm, task, {
      cacheFile: path.join(cacheDir, sha256.slice(0, 16), `${name}.jsonl`),
      limit: o.limit, samples: o.samples, temperature: o.temperature, seed: o.seed, sandbox: o.sandbox,
      onProgress: (d, t) => o.onProgress?.(name, d, t),
    }));
  }
  const report: EvaluationReport = { model: { dir: path.resolve(o.model), sha256 }, date: new Date().toISOString(), results, markdown: markdownReport(results, modelLabel(o.model)) };
  if (o.out) {
    fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
    writeFileAtomic(o.out, JSON.stringify(report, null, 2) + '\n');
    writeFileAtomic(o.out.replace(/\.json$/, '') + '.md', report.markdown);
  }
  return report;
}
