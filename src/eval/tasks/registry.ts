// Task names → loaders, in the order of the paper's tables.
import { loadAgieval, loadJecqa, loadMath } from './agieval.js';
import { loadHumaneval, loadMbpp } from './code.js';
import { loadCeval, loadCmmlu, loadGaokao, loadMedmcqa, loadMmlu, loadUsmle } from './exams.js';
import { loadBbh, loadGsm8k } from './reasoning.js';
import { loadFlores, loadPerplexity } from './text-tasks.js';
import type { LoadOptions, Task } from './types.js';

export const TASKS: Record<string, (o: LoadOptions) => Task> = {
  ceval: loadCeval, mmlu: loadMmlu, cmmlu: loadCmmlu, gaokao: loadGaokao, agieval: loadAgieval, bbh: loadBbh, gsm8k: loadGsm8k, humaneval: loadHumaneval,
  jecqa: loadJecqa, usmle: loadUsmle, medmcqa: loadMedmcqa, math: loadMath, mbpp: loadMbpp,
  flores: loadFlores, perplexity: loadPerplexity,
};

export function loadTask(name: string, o: LoadOptions): Task {
  const load = TASKS[name];
  if (!load) throw new Error(`unknown task '${name}' (known: ${Object.keys(TASKS).join(', ')})`);
  return load(o);
}
