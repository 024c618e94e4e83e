// Building k-shot multiple-choice items. A question is rendered by a
// per-benchmark function; the few-shot examples are the same rendering with
// the answer appended; the options are the letters that follow the prompt.
import { LETTERS, type ChoiceItem } from './types.js';

export interface Question {
  subject: string;
  /** Text up to (not including) the answer letter. */
  prompt: string;
  /** Index of the correct option. */
  gold: number;
  nOptions: number;
}

export interface ChoiceStyle {
  header: (subject: string) => string;
  /** Text between the prompt and the letter, both in shots and as the scored continuation (e.g. ' ' after "Answer:"). */
  letterPrefix: string;
  /** Text after a shot's letter, separating examples. */
  shotEnd: string;
}

/** Items for `test` questions with the first `shots` `dev` questions of the same subject as examples. */
export function choiceItems(test: Question[], dev: Question[], shots: number, style: ChoiceStyle): ChoiceItem[] {
  const bySubject = new Map<string, Question[]>();
  for (const q of dev) bySubject.set(q.subject, [...(bySubject.get(q.subject) ?? []), q]);
  const counters = new Map<string, number>();
  return test.map((q) => {
    const i = counters.get(q.subject) ?? 0;
    counters.set(q.subject, i + 1);
    const examples = (bySubject.get(q.subject) ?? []).slice(0, shots);
    return {
      kind: 'choice',
      id: `${q.subject}/${i}`,
      subject: q.subject,
      header: style.header(q.subject),
      shots: examples.map((e) => e.prompt + style.letterPrefix + LETTERS[e.gold] + style.shotEnd),
      query: q.prompt,
      options: LETTERS.slice(0, q.nOptions).map((l) => style.letterPrefix + l),
      gold: q.gold,
    };
  });
}

/** Split each subject's questions: the first `shots` become examples, the rest are scored (for sets without a dev split). */
export function splitShotsPerSubject(all: Question[], shots: number): { dev: Question[]; test: Question[] } {
  const seen = new Map<string, number>();
  const dev: Question[] = [], test: Question[] = [];
  for (const q of all) {
    const n = seen.get(q.subject) ?? 0;
    seen.set(q.subject, n + 1);
    (n < shots ? dev : test).push(q);
  }
  return { dev, test };
}

export function letterIndex(letter: unknown, nOptions: number, where: string): number {
  const i = typeof letter === 'string' ? LETTERS.indexOf(letter.trim()) : -1;
  if (i < 0 || i >= nOptions) throw new SyntaxError(`${where}: answer ${JSON.stringify(letter)} is not one of ${LETTERS.slice(0, nOptions).join('')}`);
  return i;
}

export function renderOptions(options: readonly string[]): string {
  return options.map((o, i) => `${LETTERS[i]}. ${o}`).join('\n');
}
