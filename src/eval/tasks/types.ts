// What a task is: a list of items, each a prompt (header, few-shot examples,
// query) plus what to do with it, and the protocol it follows. Items carry
// data only (no functions), so the runner can hash and cache them.
import type { BleuTokenizer } from '../metrics/bleu.js';

interface PromptParts {
  /** Stable within the task: `${subject}/${index}`. */
  id: string;
  subject: string;
  /** Instruction placed before the examples. */
  header: string;
  /** Worked examples, each a complete text; dropped from the end when the prompt does not fit. */
  shots: string[];
  /** The question, ending where the model continues. */
  query: string;
}

/** Multiple choice: the option whose continuation has the highest log-probability wins. */
export interface ChoiceItem extends PromptParts {
  kind: 'choice';
  /** Continuations scored after the prompt, e.g. ['A', 'B', 'C', 'D'] or [' A', ...]. */
  options: string[];
  gold: number;
}

/** Free generation scored against a reference. */
export interface GenItem extends PromptParts {
  kind: 'gen';
  stop: string[];
  maxNewTokens: number;
  gold: string;
  /** How the completion is compared with `gold`. */
  check: 'number' | 'math' | 'exact' | 'bleu';
  /** For check 'bleu': the tokeniser sacreBLEU would use for the target language. */
  bleuTokenizer?: BleuTokenizer;
}

/** Code generation: program = before + completion + after, run in the sandbox. */
export interface CodeItem extends PromptParts {
  kind: 'code';
  stop: string[];
  maxNewTokens: number;
  before: string;
  after: string;
}

/** One perplexity window: score tokens[from..] given what precedes them. */
export interface PplItem {
  kind: 'ppl';
  id: string;
  subject: string;
  tokens: number[];
  from: number;
  /** UTF-8 bytes of the text these predicted tokens cover. */
  bytes: number;
}

export type EvalItem = ChoiceItem | GenItem | CodeItem | PplItem;

export type Metric = 'accuracy' | 'pass@1' | 'bleu' | 'bits/byte';

export interface Task {
  name: string;
  /** The column it fills in the paper's tables. */
  title: string;
  metric: Metric;
  /** Prompting and scoring protocol in words, recorded with the results. */
  protocol: string;
  shots: number;
  items: EvalItem[];
  /** Where the data came from (resolved path). */
  source: string;
}

export interface LoadOptions {
  /** The task's data folder or file, or a folder that holds the benchmark folders (../shared/data/eval). */
  data: string;
  /** Few-shot count (default: the paper's). */
  shots?: number;
  /** Tokenizer, for tasks that work on tokens (perplexity). */
  encode?: (text: string) => number[];
  maxLength?: number;
  /** Task-specific choices, e.g. Flores language pairs. */
  pairs?: string[];
  split?: string;
}

export const LETTERS = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
