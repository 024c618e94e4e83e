// Generative reasoning tasks with chain-of-thought examples:
// - GSM8K (grade_school_math/data/{train,test}.jsonl): 4-shot, the first four
//   training problems as examples with their solutions (calculator
//   annotations <<...>> removed, '#### x' written as 'The answer is x.'),
//   OpenCompass's prompt; score = the completion's last number equals the gold.
// - BBH (bbh/*.json + cot-prompts/*.txt): the official 3-shot CoT prompts;
//   score = exact match of the text after "the answer is".
import path from 'node:path';
import fs from 'node:fs';
import { gsm8kGold } from '../metrics/answers.js';
import { listFiles, readJson, readJsonl, resolveData } from './data-files.js';
import type { GenItem, LoadOptions, Task } from './types.js';

interface GsmRecord { question: string; answer: string }

export function gsm8kSolution(answer: string): string {
  const gold = gsm8kGold(answer);
  const body = answer.replace(/<<[^>]*>>/g, '').replace(/\n?####.*$/s, '').trim();
  return `${body}\nThe answer is ${gold}.`;
}

export function loadGsm8k(o: LoadOptions): Task {
  const dir = resolveData(o.data, 'gsm8k', 'grade_school_math/data/test.jsonl');
  const shots = o.shots ?? 4;
  const q = (question: string) => `Question: ${question.trim()}\nLet's think step by step\nAnswer:\n`;
  const train = readJsonl<GsmRecord>(path.join(dir, 'grade_school_math/data/train.jsonl'));
  const examples = train.slice(0, shots).map((r) => q(r.question) + gsm8kSolution(r.answer) + '\n\n');
  const items: GenItem[] = readJsonl<GsmRecord>(path.join(dir, 'grade_school_math/data/test.jsonl')).map((r, i) => ({
    kind: 'gen', id: `gsm8k/${i}`, subject: 'gsm8k', header: '', shots: examples, query: q(r.question),
    stop: ['\n\nQuestion:', 'Question:'], maxNewTokens: 256, gold: gsm8kGold(r.answer), check: 'number',
  }));
  return { name: 'gsm8k', title: 'GSM8K', metric: 'accuracy', shots, source: dir, protocol: `${shots}-shot CoT (first training problems), greedy, last number`, items };
}

export function loadBbh(o: LoadOptions): Task {
  const dir = resolveData(o.data, 'bbh', 'cot-prompts');
  const shots = o.shots ?? 3;
  const items: GenItem[] = [];
  for (const file of listFiles(path.join(dir, 'bbh'), '.json')) {
    const task = path.basename(file, '.json');
    const promptFile = path.join(dir, 'cot-prompts', `${task}.txt`);
    if (!fs.existsSync(promptFile)) throw new Error(`bbh: no CoT prompt ${promptFile} for task ${task}`);
    // the prompt file: a canary line, '-----', the task description, then examples starting with 'Q:'
    const text = fs.readFileSync(promptFile, 'utf8').split('-----\n').slice(1).join('-----\n');
    const [description, ...examples] = text.split(/\n\n(?=Q: )/);
    const shotTexts = examples.slice(0, shots).map((e) => e.trim() + '\n\n');
    const data = readJson<{ examples: { input: string; target: string }[] }>(file);
    data.examples.forEach((e, i) => items.push({
      kind: 'gen', id: `${task}/${i}`, subject: task, header: description!.trim() + '\n\n', shots: shotTexts,
      query: `Q: ${e.input}\nA: Let's think step by step.`, stop: ['\n\nQ:'], maxNewTokens: 256, gold: e.target, check: 'exact',
    }));
  }
  return { name: 'bbh', title: 'BBH', metric: 'accuracy', shots, source: dir, protocol: `${shots}-shot CoT (official prompts), greedy, exact match after "the answer is"`, items };
}
