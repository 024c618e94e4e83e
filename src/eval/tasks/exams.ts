// Exam-style multiple choice, in each benchmark's published format:
// C-Eval (ceval-exam.zip; dev = examples, val = scored, test has no answers),
// CMMLU and MMLU (dev/test CSV folders), GAOKAO-Bench objective questions
// (single-answer four-option MCQ files; no dev split, so each file's first k
// questions are the examples), MedQA-USMLE (5 options) and MedMCQA (JSONL;
// first k questions are the examples). Prompts follow each benchmark's
// official evaluation code; scoring compares the option letters'
// log-probabilities after the prompt.
import path from 'node:path';
import { choiceItems, letterIndex, renderOptions, splitShotsPerSubject, type ChoiceStyle, type Question } from './choice-prompt.js';
import { listFiles, readCsv, readJson, readJsonl, readZippedCsvs, resolveData } from './data-files.js';
import type { LoadOptions, Task } from './types.js';
import { CEVAL_SUBJECTS } from './ceval-subjects.js';

const ZH_STYLE = (header: (s: string) => string): ChoiceStyle => ({ header, letterPrefix: '', shotEnd: '\n\n' });
const EN_STYLE = (header: (s: string) => string): ChoiceStyle => ({ header, letterPrefix: ' ', shotEnd: '\n\n' });
const subjectWords = (s: string) => s.replaceAll('_', ' ');

export function loadCeval(o: LoadOptions): Task {
  const dir = resolveData(o.data, 'ceval', 'ceval-exam.zip');
  const zip = path.join(dir, 'ceval-exam.zip');
  const split = o.split ?? 'val';
  if (split === 'test') throw new Error('ceval: the test split has no public answers; score val (default) and submit test to the leaderboard');
  const shots = o.shots ?? 5;
  const read = (prefix: string, withAnswer: boolean): Question[] => [...readZippedCsvs(zip, prefix + '/')].flatMap(([name, rows]) => {
    const subject = path.basename(name).replace(/_(dev|val|test)\.csv$/, '');
    return rows.map((r, i) => ({
      subject,
      prompt: `${r.question}\n${renderOptions([r.A!, r.B!, r.C!, r.D!])}\n答案：`,
      gold: withAnswer ? letterIndex(r.answer, 4, `${name} row ${i + 2}`) : 0,
      nOptions: 4,
    }));
  });
  const zhName = (s: string) => {
    const m = CEVAL_SUBJECTS[s];
    if (!m) throw new Error(`ceval: unknown subject '${s}' (not one of C-Eval's 52)`);
    return m.zh;
  };
  const style = ZH_STYLE((s) => `以下是中国关于${zhName(s)}考试的单项选择题，请选出其中的正确答案。\n\n`);
  return { name: 'ceval', title: 'C-Eval', metric: 'accuracy', shots, source: zip, protocol: `${shots}-shot (dev examples), ${split} split, letter log-prob`, items: choiceItems(read(split, true), read('dev', true), shots, style) };
}

function mmluLike(dir: string, rowToQuestion: (r: Record<string, string>, subject: string, where: string) => Question, suffix: RegExp): { test: Question[]; dev: Question[] } {
  const read = (split: string) => listFiles(path.join(dir, split), '.csv').flatMap((f) => {
    const subject = path.basename(f).replace(suffix, '');
    return readCsv(f).map((r, i) => rowToQuestion(r, subject, `${f} row ${i + 2}`));
  });
  return { test: read('test'), dev: read('dev') };
}

export function loadCmmlu(o: LoadOptions): Task {
  const dir = resolveData(o.data, 'cmmlu', 'data/dev');
  const shots = o.shots ?? 5;
  const { test, dev } = mmluLike(path.join(dir, 'data'), (r, subject, where) => ({
    subject, nOptions: 4, gold: letterIndex(r.Answer, 4, where),
    prompt: `题目：${r.Question}\n${renderOptions([r.A!, r.B!, r.C!, r.D!])}\n答案是：`,
  }), /\.csv$/);
  const style = ZH_STYLE((s) => `以下是关于${subjectWords(s)}的单项选择题，请直接给出正确答案的选项。\n\n`);
  return { name: 'cmmlu', title: 'CMMLU', metric: 'accuracy', shots, source: dir, protocol: `${shots}-shot (dev examples), letter log-prob`, items: choiceItems(test, dev, shots, style) };
}

export function loadMmlu(o: LoadOptions): Task {
  const dir = resolveData(o.data, 'mmlu', 'data/mmlu/dev');
  const shots = o.shots ?? 5;
  // this copy's CSVs have a header and a 0-3 answer index (see its SOURCE.md)
  const { test, dev } = mmluLike(path.join(dir, 'data/mmlu'), (r, subject, where) => {
    const gold = Number(r.answer);
    if (!(Number.isInteger(gold) && gold >= 0 && gold < 4)) throw new SyntaxError(`${where}: answer ${JSON.stringify(r.answer)} is not 0-3`);
    return { subject, nOptions: 4, gold, prompt: `${r.question}\n${renderOptions([r.choice0!, r.choice1!, r.choice2!, r.choice3!])}\nAnswer:` };
  }, /_(dev|test)\.csv$/);
  const style = EN_STYLE((s) => `The following are multiple choice questions (with answers) about ${subjectWords(s)}.\n\n`);
  return { name: 'mmlu', title: 'MMLU', metric: 'accuracy', shots, source: dir, protocol: `${shots}-shot (dev examples), letter log-prob`, items: choiceItems(test, dev, shots, style) };
}

interface GaokaoFile { keywords: string; example: { question: string; answer: string[]; year: string }[] }

export function loadGaokao(o: LoadOptions): Task {
  const dir = resolveData(o.data, 'gaokao', 'Data/Objective_Questions');
  const shots = o.shots ?? 5;
  const all: Question[] = [];
  for (const f of listFiles(path.join(dir, 'Data/Objective_Questions'), '.json')) {
    if (!/_MCQs\.json$/.test(f)) continue;  // the single-choice files; cloze/reading sets have several answers per item
    const subject = path.basename(f, '.json').replace(/^\d{4}-\d{4}_/, '');
    for (const q of readJson<GaokaoFile>(f).example) {
      if (q.answer.length !== 1 || !/^[ABCD]$/.test(q.answer[0]!) || !/D[．.、]/.test(q.question)) continue;  // four-option single answer only
      all.push({ subject, nOptions: 4, gold: letterIndex(q.answer[0], 4, f), prompt: `${q.question.trim()}\n答案：` });
    }
  }
  const { dev, test } = splitShotsPerSubject(all, shots);
  const style = ZH_STYLE((s) => `以下是中国高考${subjectWords(s)}的单项选择题，请选出其中的正确答案。\n\n`);
  return { name: 'gaokao', title: 'Gaokao', metric: 'accuracy', shots, source: dir, protocol: `${shots}-shot (first questions of each file), four-option single-answer MCQs, letter log-prob`, items: choiceItems(test, dev, shots, style) };
}

interface MedRecord { question: string; options: Record<string, string>; answer_idx: string }

function medTask(name: string, title: string, file: string, dir: string, shots: number, header: string): Task {
  const all = readJsonl<MedRecord>(file).map((r, i): Question => {
    const letters = Object.keys(r.options).sort();
    return {
      subject: name, nOptions: letters.length, gold: letterIndex(r.answer_idx, letters.length, `${file}:${i + 1}`),
      prompt: `Question: ${r.question}\n${renderOptions(letters.map((l) => r.options[l]!))}\nAnswer:`,
    };
  });
  const { dev, test } = splitShotsPerSubject(all, shots);
  return { name, title, metric: 'accuracy', shots, source: dir, protocol: `${shots}-shot (first questions as examples), letter log-prob`, items: choiceItems(test, dev, shots, EN_STYLE(() => header)) };
}

export function loadUsmle(o: LoadOptions): Task {
  const dir = resolveData(o.data, 'medqa', 'data/medqa_5options/test.jsonl');
  return medTask('usmle', 'USMLE', path.join(dir, 'data/medqa_5options/test.jsonl'), dir, o.shots ?? 5, 'The following are multiple choice questions (with answers) about medicine (USMLE).\n\n');
}

export function loadMedmcqa(o: LoadOptions): Task {
  const dir = resolveData(o.data, 'medmcqa', 'data/medmcqa/test.jsonl');
  return medTask('medmcqa', 'MedMCQA', path.join(dir, 'data/medmcqa/test.jsonl'), dir, o.shots ?? 5, 'The following are multiple choice questions (with answers) about medicine.\n\n');
}
