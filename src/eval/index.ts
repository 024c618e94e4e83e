// The evaluation harness: tasks, scoring functions, the sandbox and the runner.
export { evaluate, type EvaluateOptions, type EvaluationReport } from './evaluate.js';
export { ModelLM, type EvalLM, type CompleteOptions } from './lm.js';
export { runTask, limitItems, fitPrompt, type RunOptions, type TaskResult } from './runner.js';
export { loadTask, TASKS } from './tasks/registry.js';
export type { Task, EvalItem, ChoiceItem, GenItem, CodeItem, PplItem } from './tasks/types.js';
export { corpusBleu, tokenize13a, tokenizeZh, type BleuScore } from './metrics/bleu.js';
export { passAtK, meanPassAtK } from './metrics/pass-at-k.js';
export * from './metrics/answers.js';
export { runPython, sandboxLauncher, assertSandboxUsable, meetsMinimum, MINIMUM_ISOLATION, SandboxRefusedError, type SandboxOptions, type SandboxResult, type SandboxStatus } from './sandbox.js';
export { hashModelFolder } from './model-hash.js';
export { markdownReport } from './report.js';
