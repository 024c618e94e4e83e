// `baichuan2 train-rm`: a reward model from preference pairs (SPEC §8). The
// trunk starts from a causal-LM folder (usually the SFT model) with a new
// N(0, initializer_range) head; the loss is −log σ(r_c − r_r − margin); a
// held-out split (validationFraction, the file's last pairs) is scored every
// evalEvery steps and at the end, overall and by score gap in the paper's
// Table 4 layout (eval.md, eval.json). Metrics: step, loss, accuracy, lr,
// grad_norm (+ val_accuracy). SIGINT saves; --resume continues exactly.
import fs from 'node:fs';
import path from 'node:path';
import { backward } from '../../engine/autograd.js';
import { clipGradNorm } from '../../engine/ops/optim.js';
import { setThreads } from '../../engine/backend.js';
import { lrAt } from '../../train/schedule.js';
import { rmBatch } from './math.js';
import { packSequences } from './logprobs.js';
import type { EncodedPair } from './data.js';
import { loadPairs, pairSequences } from './dpo.js';
import { RewardModel, loadRewardModel, saveRewardModel, lastValues, lastValueGrad, accuracyByGap, gapTable, type GapAccuracy } from './reward-model.js';
import { Run, hashConfig, startPairTraining, type MetricsRow } from './run.js';
import type { RmConfig } from './config.js';
import type { TrainHooks } from './dpo.js';

/** Forward + backward of one micro-batch of pairs; gradients of the mean loss over `over` pairs accumulate. */
export function rmMicroStep(rm: RewardModel, pairs: readonly EncodedPair[], over: number): { loss: number; accuracy: number; tokens: number } {
  const n = pairs.length;
  const batch = packSequences(pairSequences(pairs), rm.config.padTokenId);
  const v = rm.values(batch);
  const r = lastValues(v.f32(), batch);
  const res = rmBatch(r.subarray(0, n), r.subarray(n), pairs.map((p) => p.margin), over);
  const d = new Float64Array(2 * n);
  d.set(res.dChosen, 0);
  d.set(res.dRejected, n);
  if (v.requiresGrad) backward(v, lastValueGrad(d, batch));
  return { loss: res.loss, accuracy: res.accuracy, tokens: batch.mask.reduce((s, x) => s + x, 0) };
}

export interface RmEval { overall: GapAccuracy; byGap: GapAccuracy[]; loss: number }

export function evaluateRewardModel(rm: RewardModel, pairs: readonly EncodedPair[]): RmEval {
  const s = rm.scoreSequences(pairSequences(pairs));
  const n = pairs.length;
  const rc = s.subarray(0, n), rr = s.subarray(n);
  return { ...accuracyByGap(rc, rr, pairs.map((p) => p.gap)), loss: rmBatch(rc, rr, pairs.map((p) => p.margin)).loss };
}

export interface RmResult { step: number; modelDir: string; metrics: MetricsRow[]; validation: RmEval | null }

export async function trainRewardModel(c: RmConfig, hooks: TrainHooks = {}): Promise<RmResult> {
  const log = hooks.log ?? (() => {});
  if (c.threads) setThreads(c.threads);
  const run = new Run(c.out, 'Reward model', log);
  const hash = hashConfig(c as unknown as Record<string, unknown>);
  const resumed = run.resumeFrom(!!hooks.resume, hash);
  const rm = resumed ? loadRewardModel(path.join(resumed.dir, 'reward-model')) : loadRewardModel(c.model, { newHead: 'normal', seed: c.seed });
  const tokFile = c.tokenizer ?? path.join(c.model, 'tokenizer.model');
  const all = loadPairs(c.data, tokFile, c, rm.config.eosTokenId, log);
  const nVal = Math.floor(all.length * c.validationFraction);
  const train = all.slice(0, all.length - nVal), val = all.slice(all.length - nVal);
  log(`${train.length} training pairs, ${val.length} held out`, true);
  rm.train();
  const params = rm.namedParameters();
  const start = startPairTraining(params, c, train.length, resumed, 'reward');
  const { opt, loader } = start;
  let { step, elapsed } = start;
  const tokenizer = fs.existsSync(tokFile) ? tokFile : undefined;
  const save = () => run.checkpoint({ step, configHash: hash, elapsedSeconds: elapsed, data: { loader: loader.state() } },
    (dir) => saveRewardModel(rm, path.join(dir, 'reward-model'), tokenizer), { reward: opt }, c.keepCheckpoints);
  const sched = { peakLr: c.lr, minLr: c.lr, warmupSteps: c.warmupSteps, totalSteps: c.steps };
  const over = c.batchSize * c.gradAccum;
  let validation: RmEval | null = null;
  run.start();
  try {
    while (step < c.steps) {
      const t0 = performance.now();
      for (const [, p] of params) p.grad = null;
      let loss = 0, accuracy = 0, tokens = 0;
      for (let m = 0; m < c.gradAccum; m++) {
        const r = rmMicroStep(rm, loader.next(c.batchSize).map((i) => train[i]!), over);
        loss += r.loss; accuracy += r.accuracy; tokens += r.tokens;
      }
      if (!Number.isFinite(loss)) throw new Error(`step ${step + 1}: loss is ${loss}; stopping`);
      const gradNorm = clipGradNorm(params.map(([, p]) => p), c.gradClip);
      const lr = lrAt(step + 1, sched);
      opt.update(lr);
      step++;
      const dt = (performance.now() - t0) / 1000;
      elapsed += dt;
      const row: MetricsRow = { step, loss, accuracy, lr, grad_norm: gradNorm, tokens_per_s: tokens / dt };
      if (val.length && (step % c.evalEvery === 0 || step === c.steps)) {
        validation = evaluateRewardModel(rm, val);
        rm.train();
        row.val_accuracy = validation.overall.accuracy;
        row.val_loss = validation.loss;
      }
      run.record(row);
      log(`step ${step}/${c.steps} loss ${loss.toFixed(4)} acc ${accuracy.toFixed(2)}${row.val_accuracy !== undefined ? ` val acc ${row.val_accuracy.toFixed(3)}` : ''} gnorm ${gradNorm.toFixed(3)}`,
        step === 1 || row.val_accuracy !== undefined || step % Math.max(1, Math.floor(c.steps / 10)) === 0);
      if (await run.endStep(step, c.steps, c.checkpointEvery, hooks.stopAfter, save)) break;
    }
  } finally {
    run.stop();
  }
  run.plot([{ key: 'loss', name: 'train loss', color: '#1f77b4' }, { key: 'val_loss', name: 'held-out loss', color: '#d62728' }]);
  const modelDir = path.join(c.out, 'model');
  if (step === c.steps) {
    saveRewardModel(rm, modelDir, tokenizer);
    if (validation) {
      fs.writeFileSync(path.join(c.out, 'eval.json'), JSON.stringify(validation, null, 2) + '\n');
      fs.writeFileSync(path.join(c.out, 'eval.md'), `Held-out accuracy of ${modelDir} on ${val.length} pairs, by score gap (the paper's Table 4 layout)\n\n${gapTable(validation)}`);
      log(gapTable(validation), true);
    }
  }
  return { step, modelDir, metrics: run.metrics, validation };
}
