// AGIEval v1 (data/v1/*.jsonl and data/few_shot_prompts.csv, as published):
// - `agieval`: the single-answer four-option tasks (English and Chinese),
//   5-shot from the official few-shot samples, letter log-prob;
// - `jecqa`: JEC-QA's two AGIEval subsets (kd, ca), the same protocol;
// - `math`: AGIEval's 1,000-problem MATH subset, 4-shot with the official
//   sample solutions, greedy generation, the last \boxed{} compared after
//   MATH's answer normalisation.
// The few-shot cells are Python reprs of the question dicts; we parse them.
import path from 'node:path';
import { parsePythonLiteral } from '../python-literal.js';
import { choiceItems, letterIndex, type ChoiceStyle, type Question } from './choice-prompt.js';
import { readCsv, readJsonl, resolveData } from './data-files.js';
import type { GenItem, LoadOptions, Task } from './types.js';

interface AgiRecord { passage: string | null; question: string; options: string[] | null; label: string | string[] | null; answer: string | null }

const EN_TASKS = ['lsat-ar', 'lsat-lr', 'lsat-rc', 'logiqa-en', 'sat-math', 'sat-en', 'sat-en-without-passage', 'aqua-rat'];
const ZH_TASKS = ['logiqa-zh', 'gaokao-chinese', 'gaokao-english', 'gaokao-geography', 'gaokao-history', 'gaokao-biology', 'gaokao-chemistry', 'gaokao-physics', 'gaokao-mathqa'];
const JEC_TASKS = ['jec-qa-kd', 'jec-qa-ca'];
const isZh = (t: string) => ZH_TASKS.includes(t) || JEC_TASKS.includes(t);

function fewShotTable(dir: string): Record<string, string>[] {
  return readCsv(path.join(dir, 'data/few_shot_prompts.csv'));
}

/** The few-shot samples of one task (the 'sample i' rows), parsed. */
function samples(table: Record<string, string>[], task: string): { rec: AgiRecord; explanation: string }[] {
  const out: { rec: AgiRecord; explanation: string }[] = [];
  for (let i = 1; ; i++) {
    const s = table.find((r) => r['']?.trim() === `sample ${i}`)?.[task];
    const e = table.find((r) => r['']?.trim() === `explanation ${i}`)?.[task];
    if (!s) break;
    out.push({ rec: parsePythonLiteral(s) as unknown as AgiRecord, explanation: e ?? '' });
  }
  return out;
}

function singleLabel(label: AgiRecord['label']): string | null {
  const l = typeof label === 'string' ? label : Array.isArray(label) && label.length === 1 ? label[0]! : null;
  return l !== null && /^[A-D]$/.test(l) ? l : null;  // 'AD' or ['A', 'D'] are multi-answer questions
}

function toQuestion(r: AgiRecord, task: string, where: string): Question | null {
  const label = singleLabel(r.label);
  if (!r.options || r.options.length !== 4 || label === null) return null;
  const zh = isZh(task);
  const passage = r.passage ? r.passage.trim() + '\n' : '';
  const body = zh ? `${passage}问题：${r.question.trim()}\n选项：${r.options.join(' ')}\n答案：` : `${passage}Question: ${r.question.trim()}\nChoices: ${r.options.join(' ')}\nAnswer:`;
  return { subject: task, nOptions: 4, gold: letterIndex(label, 4, where), prompt: body };
}

function choiceTask(o: LoadOptions, name: string, title: string, tasks: string[]): Task {
  const dir = resolveData(o.data, 'agieval', 'data/few_shot_prompts.csv');
  const shots = o.shots ?? 5;
  const table = fewShotTable(dir);
  const test: Question[] = [], dev: Question[] = [];
  for (const t of tasks) {
    const file = path.join(dir, 'data/v1', `${t}.jsonl`);
    readJsonl<AgiRecord>(file).forEach((r, i) => { const q = toQuestion(r, t, `${file}:${i + 1}`); if (q) test.push(q); });
    samples(table, t).forEach(({ rec }, i) => { const q = toQuestion(rec, t, `few_shot_prompts.csv ${t} sample ${i + 1}`); if (q) dev.push(q); });
  }
  // a Chinese item's letter follows '答案：' directly, an English one follows 'Answer:' and a space
  const zhItems = choiceItems(test.filter((q) => isZh(q.subject)), dev, shots, { header: () => '', letterPrefix: '', shotEnd: '\n\n' } satisfies ChoiceStyle);
  const enItems = choiceItems(test.filter((q) => !isZh(q.subject)), dev, shots, { header: () => '', letterPrefix: ' ', shotEnd: '\n\n' } satisfies ChoiceStyle);
  const order = new Map(tasks.map((t, i) => [t, i]));
  const items = [...zhItems, ...enItems].sort((a, b) => order.get(a.subject)! - order.get(b.subject)!);
  return { name, title, metric: 'accuracy', shots, source: dir, protocol: `${shots}-shot (official AGIEval samples), four-option single-answer questions, letter log-prob`, items };
}

export function loadAgieval(o: LoadOptions): Task {
  return choiceTask(o, 'agieval', 'AGIEval', [...EN_TASKS, ...ZH_TASKS, ...JEC_TASKS]);
}

export function loadJecqa(o: LoadOptions): Task {
  return choiceTask(o, 'jecqa', 'JEC-QA', JEC_TASKS);
}

export function loadMath(o: LoadOptions): Task {
  const dir = resolveData(o.data, 'agieval', 'data/v1/math.jsonl');
  const shots = o.shots ?? 4;
  // the math explanations are stored escaped (a literal backslash-n for a newline, two backslashes for one)
  const unescape = (t: string) => t.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
  const examples = samples(fewShotTable(dir), 'math').slice(0, shots).map(({ rec, explanation }) => `Problem: ${rec.question.trim()}\nSolution: ${unescape(explanation).trim()}\n\n`);
  const file = path.join(dir, 'data/v1/math.jsonl');
  const items: GenItem[] = readJsonl<AgiRecord>(file).map((r, i) => {
    if (typeof r.answer !== 'string') throw new SyntaxError(`${file}:${i + 1}: no answer`);
    return {
      kind: 'gen', id: `math/${i}`, subject: 'math', header: '', shots: examples,
      query: `Problem: ${r.question.trim()}\nSolution:`, stop: ['\n\nProblem:'], maxNewTokens: 512, gold: r.answer, check: 'math',
    };
  });
  return { name: 'math', title: 'MATH', metric: 'accuracy', shots, source: file, protocol: `${shots}-shot (official AGIEval sample solutions), greedy, last \\boxed{} after MATH normalisation`, items };
}
