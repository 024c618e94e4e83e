// Code generation, executed in the sandbox:
// - HumanEval (data/HumanEval.jsonl.gz): 0-shot; the completion continues the
//   function signature and docstring; stops are the Codex paper's
//   ('\nclass', '\ndef', '\n#', '\nif', '\nprint'); the program is
//   prompt + completion + test + check(entry_point).
// - MBPP (data/mbpp.jsonl): 3-shot with tasks 2-4 as examples (the usual
//   protocol of the MBPP paper and lm-eval/OpenCompass), test tasks 11-510;
//   the program is the setup code, the completion, then the three asserts.
import path from 'node:path';
import { readJsonl, resolveData } from './data-files.js';
import type { CodeItem, LoadOptions, Task } from './types.js';

interface HumanEvalRecord { task_id: string; prompt: string; entry_point: string; test: string }
interface MbppRecord { task_id: number; text: string; code: string; test_list: string[]; test_setup_code: string }

export function loadHumaneval(o: LoadOptions): Task {
  const dir = resolveData(o.data, 'humaneval', 'data/HumanEval.jsonl.gz');
  const file = path.join(dir, 'data/HumanEval.jsonl.gz');
  const items: CodeItem[] = readJsonl<HumanEvalRecord>(file).map((r) => ({
    kind: 'code', id: r.task_id, subject: 'humaneval', header: '', shots: [], query: r.prompt,
    stop: ['\nclass', '\ndef', '\n#', '\nif', '\nprint'], maxNewTokens: 512,
    before: r.prompt, after: `\n\n${r.test}\n\ncheck(${r.entry_point})\n`,
  }));
  return { name: 'humaneval', title: 'HumanEval', metric: 'pass@1', shots: 0, source: file, protocol: '0-shot, sandboxed execution, pass@k (unbiased estimator)', items };
}

const mbppPrompt = (r: MbppRecord) => `You are an expert Python programmer, and here is your task: ${r.text} Your code should pass these tests:\n\n${r.test_list.join('\n')}\n[BEGIN]\n`;

export function loadMbpp(o: LoadOptions): Task {
  const dir = resolveData(o.data, 'mbpp', 'data/mbpp.jsonl');
  const file = path.join(dir, 'data/mbpp.jsonl');
  const shots = o.shots ?? 3;
  const all = readJsonl<MbppRecord>(file);
  const byId = new Map(all.map((r) => [r.task_id, r]));
  const examples = [2, 3, 4].slice(0, shots).map((id) => {
    const r = byId.get(id);
    if (!r) throw new Error(`${file}: few-shot task ${id} is missing`);
    return `${mbppPrompt(r)}${r.code.replaceAll('\r\n', '\n')}\n[DONE]\n\n`;
  });
  const items: CodeItem[] = all.filter((r) => r.task_id >= 11 && r.task_id <= 510).map((r) => ({
    kind: 'code', id: `mbpp/${r.task_id}`, subject: 'mbpp', header: '', shots: examples, query: mbppPrompt(r),
    stop: ['[DONE]'], maxNewTokens: 512,
    before: `${r.test_setup_code}\n`, after: `\n\n${r.test_list.join('\n')}\n`,
  }));
  return { name: 'mbpp', title: 'MBPP', metric: 'pass@1', shots, source: file, protocol: `${shots}-shot (tasks 2-4), test tasks 11-510, sandboxed execution, pass@k`, items };
}
