// Direct Preference Optimisation (Rafailov et al. 2023), as TRL's DPOTrainer:
// sigmoid loss with β (default 0.1), IPO and label-smoothed ("conservative")
// variants (math.ts). Sequence log-probs are summed over the response tokens,
// eos included, prompt excluded (IPO averages them per token, as TRL).
// The reference is never a second live model: its sequence log-probs are
// computed once, before the first step, from the `ref` folder or from the
// initial policy itself (or read from a file), and kept in the run folder so a
// resume uses the same numbers. With `lora` only a PEFT adapter trains (its
// B starts at zero, so the initial policy is the base: the reference is the
// adapter-off base) and OUT/model is the adapter folder. Logged per step: loss, rewards/chosen,
// rewards/rejected, rewards/accuracy, rewards/margin, logps/*, lr, grad_norm.
import fs from 'node:fs';
import path from 'node:path';
import { Tensor } from '../../engine/tensor.js';
import { backward, noGrad } from '../../engine/autograd.js';
import { clipGradNorm } from '../../engine/ops/optim.js';
import { setThreads } from '../../engine/backend.js';
import { loadModel, saveModel } from '../../io/hf-folder.js';
import { loadTokenizer } from '../../io/tokenizer-file.js';
import type { BaichuanForCausalLM } from '../../model/baichuan.js';
import { lrAt } from '../../train/schedule.js';
import { dpoBatch, type DpoOptions } from './math.js';
import { packSequences, tokenLogProbs, sequenceSums, spreadRowGrad, type Sequence } from './logprobs.js';
import { readPreferencePairs, encodePair, describeSkipped, type EncodedPair } from './data.js';
import { Run, hashConfig, startPairTraining, type MetricsRow } from './run.js';
import type { DpoConfig } from './config.js';
import { LoraAdapter, applyLoraAdapter } from '../lora.js';

export interface TrainHooks {
  log?: (line: string, final?: boolean) => void;
  /** Stop (with a checkpoint) after this step, as an interruption would. */
  stopAfter?: number;
  resume?: boolean;
}

/** Pairs of a data file, tokenised; the log line names malformed records. */
export function loadPairs(data: string, tokenizer: string, c: { maxLength: number; maxPromptLength?: number }, eos: number, log: (s: string, f?: boolean) => void): EncodedPair[] {
  const tok = loadTokenizer(tokenizer);
  const { pairs, report } = readPreferencePairs(data);
  if (report.skipped.length) log(`${data}: skipped ${report.skipped.length} malformed record(s): ${describeSkipped(report)}`, true);
  if (!pairs.length) throw new Error(`${data}: no usable preference pairs`);
  const enc = pairs.map((p) => encodePair(p, { encode: (t) => tok.encode(t), eosTokenId: eos, maxLength: c.maxLength, maxPromptLength: c.maxPromptLength }));
  const cut = enc.filter((e) => e.truncated).length;
  if (cut) log(`${cut} pair(s) had a response cut to maxLength ${c.maxLength} (its eos lost)`, true);
  return enc;
}

/** Both responses of each pair as sequences: [chosen…, rejected…]. */
export function pairSequences(pairs: readonly EncodedPair[]): Sequence[] {
  return [...pairs.map((p) => ({ prompt: p.prompt, response: p.chosen })), ...pairs.map((p) => ({ prompt: p.prompt, response: p.rejected }))];
}

/** Reference sequence log-probs {chosen, rejected} of every pair (summed, or per-token means for IPO). */
export function referenceLogProbs(ref: BaichuanForCausalLM, pairs: readonly EncodedPair[], mean: boolean, microBatch = 8): { chosen: Float64Array; rejected: Float64Array } {
  const chosen = new Float64Array(pairs.length), rejected = new Float64Array(pairs.length);
  const was = ref.training;
  ref.eval();
  noGrad(() => {
    for (let i = 0; i < pairs.length; i += microBatch) {
      const part = pairs.slice(i, i + microBatch);
      const batch = packSequences(pairSequences(part), ref.config.padTokenId);
      const s = sequenceSums(tokenLogProbs(ref, batch).values, batch);
      part.forEach((p, k) => {
        chosen[i + k] = mean ? s[k]! / p.chosen.length : s[k]!;
        rejected[i + k] = mean ? s[part.length + k]! / p.rejected.length : s[part.length + k]!;
      });
    }
  });
  ref.train(was);
  return { chosen, rejected };
}

export interface DpoStepResult {
  loss: number; rewardsChosen: number; rewardsRejected: number; accuracy: number; margin: number;
  logpsChosen: number; logpsRejected: number; tokens: number;
}

/**
 * Forward + backward of one micro-batch: gradients of the mean DPO loss over
 * `over` pairs accumulate into the policy's parameters.
 */
export function dpoMicroStep(policy: BaichuanForCausalLM, pairs: readonly EncodedPair[], refC: ArrayLike<number>, refR: ArrayLike<number>, o: DpoOptions, over: number): DpoStepResult {
  const n = pairs.length;
  const batch = packSequences(pairSequences(pairs), policy.config.padTokenId);
  const lp = tokenLogProbs(policy, batch);
  const sums = sequenceSums(lp.values, batch);
  const mean = o.loss === 'ipo';
  const piC = new Float64Array(n), piR = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    piC[i] = mean ? sums[i]! / batch.length[i]! : sums[i]!;
    piR[i] = mean ? sums[n + i]! / batch.length[n + i]! : sums[n + i]!;
  }
  const r = dpoBatch(piC, piR, refC, refR, o, over);
  const dRows = new Float64Array(2 * n);
  dRows.set(r.dChosen, 0);
  dRows.set(r.dRejected, n);
  if (lp.logp.requiresGrad) backward(lp.logp, spreadRowGrad(dRows, batch, mean));
  let tokens = 0;
  for (let i = 0; i < batch.mask.length; i++) tokens += batch.mask[i]!;
  return {
    loss: r.loss, rewardsChosen: r.rewardsChosen, rewardsRejected: r.rewardsRejected, accuracy: r.accuracy, margin: r.margin,
    logpsChosen: piC.reduce((s, v) => s + v, 0) / over, logpsRejected: piR.reduce((s, v) => s + v, 0) / over, tokens,
  };
}

/** DPO metrics of a model on pairs (no gradients): loss, accuracy, margin. */
export function dpoEvaluate(policy: BaichuanForCausalLM, pairs: readonly EncodedPair[], ref: { chosen: ArrayLike<number>; rejected: ArrayLike<number> }, o: DpoOptions): DpoStepResult {
  const was = policy.training;
  policy.eval();
  const acc: DpoStepResult = { loss: 0, rewardsChosen: 0, rewardsRejected: 0, accuracy: 0, margin: 0, logpsChosen: 0, logpsRejected: 0, tokens: 0 };
  noGrad(() => {
    for (let i = 0; i < pairs.length; i += 8) {
      const part = pairs.slice(i, i + 8);
      const r = dpoMicroStep(policy, part, Array.from(ref.chosen).slice(i, i + 8), Array.from(ref.rejected).slice(i, i + 8), o, pairs.length);
      for (const k of Object.keys(acc) as (keyof DpoStepResult)[]) acc[k] += r[k];
    }
  });
  policy.train(was);
  return acc;
}

function readRefFile(file: string, n: number): { chosen: Float64Array; rejected: Float64Array } {
  if (!fs.existsSync(file)) throw new Error(`refLogprobs ${file}: not found`);
  const rows = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  if (rows.length !== n) throw new Error(`refLogprobs ${file}: ${rows.length} rows for ${n} pairs (one {"chosen", "rejected"} row per usable pair, in data order)`);
  const chosen = new Float64Array(n), rejected = new Float64Array(n);
  rows.forEach((l, i) => {
    let j: { chosen?: unknown; rejected?: unknown };
    try { j = JSON.parse(l) as typeof j; } catch { throw new Error(`refLogprobs ${file}:${i + 1}: invalid JSON`); }
    if (typeof j.chosen !== 'number' || typeof j.rejected !== 'number') throw new Error(`refLogprobs ${file}:${i + 1}: needs numeric "chosen" and "rejected"`);
    chosen[i] = j.chosen;
    rejected[i] = j.rejected;
  });
  return { chosen, rejected };
}

export interface DpoResult { step: number; modelDir: string; metrics: MetricsRow[]; validation?: DpoStepResult }

export async function trainDpo(c: DpoConfig, hooks: TrainHooks = {}): Promise<DpoResult> {
  const log = hooks.log ?? (() => {});
  if (c.threads) setThreads(c.threads);
  const run = new Run(c.out, 'DPO', log);
  const hash = hashConfig(c as unknown as Record<string, unknown>);
  const resumed = run.resumeFrom(!!hooks.resume, hash);
  // full fine-tuning: the policy folder of the checkpoint; LoRA: the base plus the checkpoint's adapter
  const policy = loadModel(resumed && !c.lora ? path.join(resumed.dir, 'policy') : c.model);
  const tokFile = c.tokenizer ?? path.join(c.model, 'tokenizer.model');
  const all = loadPairs(c.data, tokFile, c, policy.config.eosTokenId, log);
  const nVal = Math.floor(all.length * c.validationFraction);
  const train = all.slice(0, all.length - nVal), val = all.slice(all.length - nVal);
  const o: DpoOptions = { beta: c.beta, loss: c.loss, labelSmoothing: c.labelSmoothing };
  const mean = c.loss === 'ipo';
  // reference log-probs: once, kept beside the checkpoints so that a resume uses the same numbers
  const refFile = path.join(c.out, 'reference-logprobs.jsonl');
  let ref: { chosen: Float64Array; rejected: Float64Array };
  if (resumed) ref = readRefFile(refFile, all.length);
  else if (c.refLogprobs) ref = readRefFile(c.refLogprobs, all.length);
  else {
    const refModel = c.ref ? loadModel(c.ref) : policy;
    log(`reference log-probs of ${all.length} pairs from ${c.ref ?? 'the initial policy'}…`, true);
    ref = referenceLogProbs(refModel, all, mean);
  }
  if (!resumed) fs.writeFileSync(refFile, Array.from(ref.chosen, (v, i) => JSON.stringify({ chosen: v, rejected: ref.rejected[i] })).join('\n') + '\n');
  let adapter: LoraAdapter | null = null;
  if (c.lora) {
    adapter = resumed ? applyLoraAdapter(policy, path.join(resumed.dir, 'adapter')) : LoraAdapter.attach(policy, { ...c.lora, targets: [...c.lora.targets] }, c.seed);
    adapter.seed = c.seed;
    adapter.train();
  }
  policy.train();
  const params = adapter ? adapter.namedParameters() : [...policy.namedParameters()];
  const start = startPairTraining(params, c, train.length, resumed, 'policy');
  const { opt, loader } = start;
  let { step, elapsed } = start;
  const tokenizer = fs.existsSync(tokFile) ? tokFile : undefined;
  const save = () => run.checkpoint({ step, configHash: hash, elapsedSeconds: elapsed, data: { loader: loader.state() } },
    (dir) => { if (adapter) adapter.save(path.join(dir, 'adapter'), path.resolve(c.model)); else saveModel(policy, path.join(dir, 'policy'), { tokenizerModel: tokenizer }); }, { policy: opt }, c.keepCheckpoints);
  const sched = { peakLr: c.lr, minLr: c.lr, warmupSteps: c.warmupSteps, totalSteps: c.steps };
  const over = c.batchSize * c.gradAccum;
  run.start();
  try {
    while (step < c.steps) {
      const t0 = performance.now();
      for (const [, p] of params) p.grad = null;
      const sum: DpoStepResult = { loss: 0, rewardsChosen: 0, rewardsRejected: 0, accuracy: 0, margin: 0, logpsChosen: 0, logpsRejected: 0, tokens: 0 };
      for (let m = 0; m < c.gradAccum; m++) {
        if (adapter) { adapter.step = step; adapter.micro = m; }
        const idx = loader.next(c.batchSize);
        const r = dpoMicroStep(policy, idx.map((i) => train[i]!), idx.map((i) => ref.chosen[i]!), idx.map((i) => ref.rejected[i]!), o, over);
        for (const k of Object.keys(sum) as (keyof DpoStepResult)[]) sum[k] += r[k];
      }
      if (!Number.isFinite(sum.loss)) throw new Error(`step ${step + 1}: loss is ${sum.loss}; stopping`);
      const gradNorm = clipGradNorm(params.map(([, p]) => p), c.gradClip);
      const lr = lrAt(step + 1, sched);
      opt.update(lr);
      step++;
      const dt = (performance.now() - t0) / 1000;
      elapsed += dt;
      run.record({
        step, loss: sum.loss, 'rewards/chosen': sum.rewardsChosen, 'rewards/rejected': sum.rewardsRejected, 'rewards/accuracy': sum.accuracy,
        'rewards/margin': sum.margin, 'logps/chosen': sum.logpsChosen, 'logps/rejected': sum.logpsRejected, lr, grad_norm: gradNorm, tokens_per_s: sum.tokens / dt,
      });
      log(`step ${step}/${c.steps} loss ${sum.loss.toFixed(4)} acc ${sum.accuracy.toFixed(2)} margin ${sum.margin.toFixed(3)} gnorm ${gradNorm.toFixed(3)} ${(sum.tokens / dt).toFixed(0)} tok/s`,
        step === 1 || step % Math.max(1, Math.floor(c.steps / 10)) === 0);
      if (await run.endStep(step, c.steps, c.checkpointEvery, hooks.stopAfter, save)) break;
    }
  } finally {
    run.stop();
  }
  run.plot();
  let validation: DpoStepResult | undefined;
  adapter?.eval();
  if (val.length) {
    validation = dpoEvaluate(policy, val, { chosen: ref.chosen.slice(train.length), rejected: ref.rejected.slice(train.length) }, o);
    log(`validation (${val.length} pairs): loss ${validation.loss.toFixed(4)}, accuracy ${validation.accuracy.toFixed(3)}, margin ${validation.margin.toFixed(3)}`, true);
  }
  const modelDir = path.join(c.out, 'model');
  if (step === c.steps) {
    if (adapter) adapter.save(modelDir, path.resolve(c.model)); else saveModel(policy, modelDir, { tokenizerModel: tokenizer });
  }
  return { step, modelDir, metrics: run.metrics, validation };
}
