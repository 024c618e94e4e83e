// Loaders on the real published files: item counts against the counts the
// benchmarks publish (after the paper's filters), prompt shapes, and the
// reference solutions of HumanEval and MBPP passing in the sandbox (which
// proves the program assembly), while wrong ones fail.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { loadTask } from '../../src/eval/tasks/registry.js';
import type { ChoiceItem, CodeItem, GenItem } from '../../src/eval/tasks/types.js';
import { meetsMinimum, runPython, sandboxLauncher } from '../../src/eval/sandbox.js';
import { EVAL_DATA } from './fixture.js';

const skip = fs.existsSync(EVAL_DATA) ? false : `needs ${EVAL_DATA}`;
const load = (name: string) => loadTask(name, { data: EVAL_DATA });
const subjects = (items: { subject: string }[]) => new Set(items.map((i) => i.subject)).size;

test('exam loaders: published counts, 5 examples per subject, letters A-D', { skip }, () => {
  const expect: Record<string, [number, number]> = {
    ceval: [1346, 52],    // val split (test answers are withheld)
    mmlu: [14042, 57],
    cmmlu: [11582, 67],
    usmle: [1273 - 5, 1], // 5 questions become the examples
    medmcqa: [2816 - 5, 1],
  };
  for (const [name, [n, s]] of Object.entries(expect)) {
    const t = load(name);
    assert.equal(t.items.length, n, name);
    assert.equal(subjects(t.items), s, name);
    const it = t.items[0] as ChoiceItem;
    assert.equal(it.shots.length, 5, name);
    assert.ok(it.gold >= 0 && it.gold < it.options.length);
  }
  const mmlu = load('mmlu').items[0] as ChoiceItem;
  assert.equal(mmlu.header, 'The following are multiple choice questions (with answers) about abstract algebra.\n\n');
  assert.match(mmlu.shots[0]!, /\nD\. .*\nAnswer: [ABCD]\n\n$/);
  assert.deepEqual(mmlu.options, [' A', ' B', ' C', ' D']);
  assert.match(mmlu.query, /\nAnswer:$/);
  const ceval = load('ceval').items[0] as ChoiceItem;
  assert.deepEqual(ceval.options, ['A', 'B', 'C', 'D']);
  // the official prompt names the subject in Chinese
  assert.equal(ceval.subject, 'accountant');
  assert.equal(ceval.header, '以下是中国关于注册会计师考试的单项选择题，请选出其中的正确答案。\n\n');
  assert.match(ceval.query, /答案：$/);
  assert.equal((load('usmle').items[0] as ChoiceItem).options.length, 5);
  assert.throws(() => loadTask('ceval', { data: EVAL_DATA, split: 'test' }), /no public answers/);
});

test('Gaokao and AGIEval keep only four-option single-answer questions', { skip }, () => {
  const g = load('gaokao');
  assert.equal(subjects(g.items), 9);
  for (const it of g.items as ChoiceItem[]) assert.equal(it.options.length, 4);
  assert.ok(g.items.length > 1000 && g.items.length < 1781);
  const a = load('agieval');
  const raw = fs.readFileSync(path.join(EVAL_DATA, 'agieval/data/v1/logiqa-en.jsonl'), 'utf8').trim().split('\n').length;
  assert.equal(a.items.filter((i) => i.subject === 'logiqa-en').length, raw);  // all LogiQA items are 4-option single answer
  assert.ok(!a.items.some((i) => i.subject === 'lsat-ar' || i.subject === 'aqua-rat'), 'five-option tasks are excluded');
  const j = load('jecqa');
  assert.deepEqual([...new Set(j.items.map((i) => i.subject))], ['jec-qa-kd', 'jec-qa-ca']);
  assert.match((j.items[0] as ChoiceItem).query, /选项：\(A\)/);
});

test('generative loaders: GSM8K, MATH, BBH', { skip }, () => {
  const gsm = load('gsm8k');
  assert.equal(gsm.items.length, 1319);
  const g0 = gsm.items[0] as GenItem;
  assert.equal(g0.shots.length, 4);
  assert.equal(g0.gold, '18');
  assert.ok(!g0.shots.join('').includes('<<'), 'calculator annotations removed');
  assert.match(g0.shots[0]!, /The answer is \d+\.\n\n$/);
  const math = load('math');
  assert.equal(math.items.length, 1000);
  assert.equal((math.items[0] as GenItem).gold, '(3,4]');
  assert.match((math.items[0] as GenItem).shots[0]!, /\\boxed\{\[2,5\)\}/);
  assert.ok(!(math.items[0] as GenItem).shots.join('').includes('\\n'), 'escaped newlines decoded');
  const bbh = load('bbh');
  assert.equal(bbh.items.length, 6511);
  assert.equal(subjects(bbh.items), 27);
  const b0 = bbh.items[0] as GenItem;
  assert.equal(b0.shots.length, 3);
  assert.match(b0.header, /^Evaluate the result of a random Boolean expression\./);
  assert.match(b0.shots[2]!, /So the answer is (True|False)\.\n\n$/);
});

test('HumanEval and MBPP: reference solutions pass in the sandbox, wrong ones fail', { skip: skip || (!meetsMinimum(sandboxLauncher().isolation) && 'the sandbox here is below its minimum: generated code is refused') }, async () => {
  const he = load('humaneval');
  assert.equal(he.items.length, 164);
  const mb = load('mbpp');
  assert.equal(mb.items.length, 500);
  assert.equal(mb.items[0]!.id, 'mbpp/11');
  assert.equal((mb.items[0] as CodeItem).shots.length, 3);
  const canon = new Map(zlib.gunzipSync(fs.readFileSync(path.join(EVAL_DATA, 'humaneval/data/HumanEval.jsonl.gz'))).toString('utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as { task_id: string; canonical_solution: string }).map((r) => [r.task_id, r.canonical_solution]));
  const mbppCode = new Map(fs.readFileSync(path.join(EVAL_DATA, 'mbpp/data/mbpp.jsonl'), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as { task_id: number; code: string }).map((r) => [`mbpp/${r.task_id}`, r.code]));
  const cases: [CodeItem, string][] = [
    ...(he.items.slice(0, 12) as CodeItem[]).map((it): [CodeItem, string] => [it, canon.get(it.id)!]),
    ...(mb.items.slice(0, 12) as CodeItem[]).map((it): [CodeItem, string] => [it, mbppCode.get(it.id)!]),
  ];
  for (const [it, solution] of cases) {
    const ok = await runPython(it.before + solution + it.after);
    assert.equal(ok.status, 'passed', `${it.id}: ${ok.stderr}`);
  }
  for (const [it] of cases.slice(0, 3)) {
    const bad = await runPython(it.before + '    return None\n' + it.after);
    assert.equal(bad.status, 'failed', it.id);
  }
});
