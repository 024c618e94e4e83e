// Every task end to end on a few real items with a tiny model; the cache and
// resume; prompt fitting; the CLI; results JSON and Markdown.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { evaluate } from '../../src/eval/evaluate.js';
import { ModelLM } from '../../src/eval/lm.js';
import { runTask, fitPrompt } from '../../src/eval/runner.js';
import { loadTask } from '../../src/eval/tasks/registry.js';
import { hashModelFolder } from '../../src/eval/model-hash.js';
import { meetsMinimum, sandboxLauncher } from '../../src/eval/sandbox.js';
import { loadModel } from '../../src/io/hf-folder.js';
import { loadTokenizer } from '../../src/io/tokenizer-file.js';
import { EVAL_DATA, tinyEvalModel } from './fixture.js';

const haveData = fs.existsSync(EVAL_DATA);
const skip = haveData ? false : `needs ${EVAL_DATA}`;
const sandboxIsolation = sandboxLauncher().isolation;
const codeSkip = skip || (meetsMinimum(sandboxIsolation) ? false : `the sandbox here is below its minimum (${sandboxIsolation.join(', ')}): generated code is refused`);

function lmFor(dir: string): ModelLM {
  return new ModelLM(loadModel(dir), loadTokenizer(path.join(dir, 'tokenizer.model')));
}

test('every paper task runs end to end on real items (tiny random model)', { skip: codeSkip }, async () => {
  const dir = tinyEvalModel();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-eval-'));
  const tasks = ['ceval', 'mmlu', 'cmmlu', 'gaokao', 'agieval', 'bbh', 'gsm8k', 'humaneval', 'jecqa', 'usmle', 'medmcqa', 'math', 'mbpp'];
  const lm = lmFor(dir);
  const report = await evaluate({ model: dir, tasks, data: EVAL_DATA, limit: 2, out: path.join(out, 'results.json'), lm });
  assert.equal(report.results.length, tasks.length);
  for (const r of report.results) {
    assert.equal(r.n, 2, r.task);
    assert.ok(r.score >= 0 && r.score <= 100, `${r.task} score ${r.score}`);
    assert.equal(r.cachedItems, 0);
  }
  // 5-shot exam prompts exceed the 512-token context: examples were dropped, and it is reported
  assert.ok(report.results.find((r) => r.task === 'mmlu')!.fitting.itemsWithFewerShots > 0);
  const mmlu = report.results.find((r) => r.task === 'mmlu')!;
  assert.deepEqual(Object.keys(mmlu.perSubject).length, 2, 'limit spreads over subjects');
  const ceval = report.results.find((r) => r.task === 'ceval')!;
  assert.ok(Object.keys(ceval.extra).some((k) => k.startsWith('category: ')), 'C-Eval reports its categories');
  assert.deepEqual(report.results.find((r) => r.task === 'humaneval')!.isolation, sandboxIsolation, 'code results record the sandbox layers');
  const saved = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.equal(saved.model.sha256.length, 64);
  const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
  assert.match(md, /\| Model \| C-Eval \| MMLU \| CMMLU \| Gaokao \| AGIEval \| BBH \| GSM8K \| HumanEval \|/);
  assert.match(md, /JEC-QA \| USMLE \| MedMCQA \| GSM8K \| MATH \| HumanEval \| MBPP/);
  // a second run is served from the cache with identical numbers (deterministic)
  const again = await evaluate({ model: dir, tasks: ['mmlu', 'gsm8k', 'humaneval'], data: EVAL_DATA, limit: 2, out: path.join(out, 'again.json'), lm });
  for (const r of again.results) {
    assert.equal(r.cachedItems, 2, r.task);
    assert.equal(r.score, report.results.find((x) => x.task === r.task)!.score);
  }
});

test('an interrupted run resumes from its cache; a changed item is recomputed', { skip }, async () => {
  const lm = lmFor(tinyEvalModel());
  const task = loadTask('cmmlu', { data: EVAL_DATA });
  const cacheFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-cache-')), 'cmmlu.jsonl');
  const full = await runTask(lm, task, { limit: 6 });
  await runTask(lm, task, { limit: 3, cacheFile });              // "interrupted" after 3 items
  fs.appendFileSync(cacheFile, '{"key": "cut mid-wri');          // and a torn last line
  const resumed = await runTask(lm, task, { limit: 6, cacheFile });
  assert.equal(resumed.cachedItems, 3);
  assert.equal(resumed.score, full.score);
  assert.deepEqual(resumed.perSubject, full.perSubject);
  const changed = { ...task, items: task.items.map((it) => (it.kind === 'choice' ? { ...it, query: it.query + ' ' } : it)) };
  assert.equal((await runTask(lm, changed, { limit: 6, cacheFile })).cachedItems, 0);
});

test('letter scoring equals the log-softmax of a full forward at the answer position', { skip }, () => {
  const lm = lmFor(tinyEvalModel());
  const ctx = '题目：1+1=?\nA. 1\nB. 2\nC. 3\nD. 4\n答案是：';
  const fast = lm.scoreContinuations(ctx, ['A', 'B', 'C', 'D']);
  // the general path (one forward per continuation, all positions) must agree
  const slow = ['A', 'B', 'C', 'D'].map((l) => lm.scoreContinuations(ctx, [l, l + '\n'])[0]!);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(fast[i]! - slow[i]!) < 1e-4, `${fast[i]} vs ${slow[i]}`);  // fp32 logits, float64 log-softmax
  const p = fast.reduce((s, lp) => s + Math.exp(lp), 0);
  assert.ok(p > 0 && p <= 1 + 1e-6);
});

test('prompt fitting drops examples from the end, then reports left truncation', { skip }, () => {
  const lm = lmFor(tinyEvalModel());
  const item = { kind: 'choice' as const, id: 'x/0', subject: 'x', header: 'H\n', shots: ['a '.repeat(100), 'b '.repeat(100), 'c '.repeat(400)], query: 'Q', options: ['A'], gold: 0 };
  const fit = fitPrompt(lm, item, 1);
  assert.equal(fit.shotsUsed, 2);
  assert.equal(fit.truncated, false);
  assert.equal(fit.prompt, 'H\n' + item.shots[0] + item.shots[1] + 'Q');
  const huge = fitPrompt(lm, { ...item, query: 'q '.repeat(600) }, 1);
  assert.equal(huge.shotsUsed, 0);
  assert.equal(huge.truncated, true);
  assert.equal(lm.scoreContinuations(huge.prompt, ['A', 'B']).length, 2);  // still scored, on the last tokens
});

test('flores (Flores-101 layout) and perplexity run on files made here', { skip }, async () => {
  const dir = tinyEvalModel();
  const lm = lmFor(dir);
  const fl = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-flores-'));
  for (const split of ['dev', 'devtest']) {
    fs.mkdirSync(path.join(fl, split));
    fs.writeFileSync(path.join(fl, split, `zho_simpl.${split}`), '我们今天去公园。\n他喜欢读书。\n天气很好。\n');
    fs.writeFileSync(path.join(fl, split, `eng.${split}`), 'We go to the park today.\nHe likes reading.\nThe weather is nice.\n');
  }
  const task = loadTask('flores', { data: fl, pairs: ['zh-en', 'en-zh'], shots: 2 });
  assert.equal(task.items.length, 6);
  const r = await runTask(lm, task);
  assert.deepEqual(Object.keys(r.perSubject), ['zh-en', 'en-zh']);
  assert.ok(r.score >= 0 && r.score <= 100);
  assert.throws(() => loadTask('flores', { data: fl, pairs: ['zh-xx'] }), /unknown language 'xx'/);

  const txt = path.join(fl, 'text.txt');
  fs.writeFileSync(txt, 'Question: Janet has 3 apples. She buys 4 more. How many apples does she have?\n'.repeat(40));
  const ppl = loadTask('perplexity', { data: txt, encode: (t) => lm.encode(t), maxLength: lm.maxLength });
  assert.ok(ppl.items.length >= 2, 'several windows');
  const pr = await runTask(lm, ppl);
  assert.equal(pr.extra.bytes, Buffer.byteLength(fs.readFileSync(txt)));
  assert.equal(pr.extra.tokens, lm.encode(fs.readFileSync(txt, 'utf8')).length - 1);
  // a random model is near-uniform: nats/token close to ln V, and never better than 0
  assert.ok(pr.extra.natsPerToken! > 0.5 * Math.log(1500) && pr.extra.natsPerToken! < 2 * Math.log(1500), String(pr.extra.natsPerToken));
  assert.ok(Math.abs(pr.score - (pr.extra.natsPerToken! * pr.extra.tokens!) / Math.LN2 / pr.extra.bytes!) < 1e-9);
});

test('CLI: eval writes JSON and Markdown; bad flags exit 2, bad data exits 1', { skip }, () => {
  const dir = tinyEvalModel();
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-evalcli-')), 'r.json');
  const cli = (...a: string[]) => spawnSync(process.execPath, [path.resolve('bin/baichuan2.js'), 'eval', ...a], { encoding: 'utf8', timeout: 300_000 });
  const r = cli('--model', dir, '--task', 'ceval,gsm8k', '--data', EVAL_DATA, '--limit', '2', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\| Model \| C-Eval/);
  assert.match(r.stderr, /C-Eval: accuracy \d+\.\d\d on 2 items/);
  assert.ok(fs.existsSync(out) && fs.existsSync(out.replace(/\.json$/, '.md')));
  assert.equal(cli('--model', dir, '--task', 'nope', '--data', EVAL_DATA).status, 2);
  assert.equal(cli('--model', dir, '--task', 'ceval', '--data', EVAL_DATA, '--limit', '0').status, 2);
  const bad = cli('--model', dir, '--task', 'ceval', '--data', '/nonexistent');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /ceval: cannot find ceval-exam.zip/);
});

test('the model folder hash: memoised by name, size and time; any changed byte changes it', { skip }, () => {
  const src = tinyEvalModel();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-hash-'));
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const memo = path.join(dir, 'memo', 'hashes.json');
  const a = hashModelFolder(dir, { memoFile: memo });
  assert.equal(a, hashModelFolder(dir));                        // the memo holds the real hash
  assert.equal(hashModelFolder(dir, { memoFile: memo }), a);
  const cfg = path.join(dir, 'config.json');
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('{', '{ '));
  const b = hashModelFolder(dir, { memoFile: memo });
  assert.notEqual(b, a);
  assert.equal(b, hashModelFolder(dir));
});
