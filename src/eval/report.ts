// Results as Markdown, in the layout of the paper's Tables 1 and 5-6 (and
// Table 7 for Flores); tasks outside those tables get their own rows.
import type { TaskResult } from './runner.js';

const TABLE_1 = ['ceval', 'mmlu', 'cmmlu', 'gaokao', 'agieval', 'bbh', 'gsm8k', 'humaneval'];
const TABLE_5_6 = ['jecqa', 'usmle', 'medmcqa', 'gsm8k', 'math', 'humaneval', 'mbpp'];

function fmt(r: TaskResult | undefined): string {
  if (!r) return '–';
  return r.metric === 'bits/byte' ? r.score.toFixed(3) : r.score.toFixed(2);
}

const TITLES: Record<string, string> = {
  ceval: 'C-Eval', mmlu: 'MMLU', cmmlu: 'CMMLU', gaokao: 'Gaokao', agieval: 'AGIEval', bbh: 'BBH', gsm8k: 'GSM8K', humaneval: 'HumanEval',
  jecqa: 'JEC-QA', usmle: 'USMLE', medmcqa: 'MedMCQA', math: 'MATH', mbpp: 'MBPP',
};

function table(names: string[], byName: Map<string, TaskResult>, model: string): string {
  const titles = names.map((n) => byName.get(n)?.title ?? TITLES[n] ?? n);
  return [`| Model | ${titles.join(' | ')} |`, `|---|${names.map(() => '---|').join('')}`, `| ${model} | ${names.map((n) => fmt(byName.get(n))).join(' | ')} |`].join('\n');
}

export function markdownReport(results: TaskResult[], model: string): string {
  const byName = new Map(results.map((r) => [r.task, r]));
  const parts: string[] = [];
  if (TABLE_1.some((n) => byName.has(n))) parts.push('**General (paper Table 1)**\n\n' + table(TABLE_1, byName, model));
  if (TABLE_5_6.some((n) => byName.has(n) && !TABLE_1.includes(n))) parts.push('**Law, medicine, math and code (paper Tables 5-6)**\n\n' + table(TABLE_5_6, byName, model));
  const flores = byName.get('flores');
  if (flores) {
    const pairs = Object.keys(flores.perSubject);
    parts.push('**Flores-101 BLEU (paper Table 7)**\n\n' + [`| Model | ${pairs.join(' | ')} | Avg |`, `|---|${pairs.map(() => '---|').join('')}---|`,
      `| ${model} | ${pairs.map((p) => flores.perSubject[p]!.score.toFixed(2)).join(' | ')} | ${flores.score.toFixed(2)} |`].join('\n'));
  }
  const rest = results.filter((r) => !TABLE_1.includes(r.task) && !TABLE_5_6.includes(r.task) && r.task !== 'flores');
  if (rest.length) parts.push('**Other**\n\n' + ['| Task | Metric | Score | Items |', '|---|---|---|---|', ...rest.map((r) => `| ${r.title} | ${r.metric} | ${fmt(r)} | ${r.n} |`)].join('\n'));
  const lines = results.map((r) => `- ${r.title}: ${r.n} items, ${r.settings.protocol}${r.settings.limit !== null ? `, limited to ${r.settings.limit}` : ''}${r.fitting.itemsWithFewerShots ? `; ${r.fitting.itemsWithFewerShots} prompts kept fewer examples to fit the context` : ''}`);
  return parts.join('\n\n') + '\n\n' + lines.join('\n') + '\n';
}
