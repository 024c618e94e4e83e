// PPO with the paper's four models (SPEC §8): actor (the policy, from the SFT
// model), reference (frozen; the initial actor unless `ref` is given), reward
// (a frozen reward-model folder, or a JavaScript module exporting
// score(prompt, response) → number) and critic (per-token values: from the
// reward model, or from the actor's weights with a zero value head when the
// reward is programmatic). One iteration = batched sampling with the KV cache
// (src/infer/generate.ts) → scores → reference log-probs and values →
// per-token rewards −β·(log π − log π_ref) with the score at the last token →
// GAE (γ, λ) and masked whitening → `ppoEpochs` passes of clipped surrogate and
// clipped value loss (math.ts), the actor frozen during the first
// `criticWarmup` iterations. `advantage: "grpo"` samples `groupSize` responses
// per prompt, uses group-normalised scores as every token's advantage, adds the
// k3 KL penalty to the loss and has no critic (Shao et al. 2024, TRL's GRPOTrainer).
// Defaults are the paper's: critic warm-up 20, LR 5e-6 constant, clip 0.1,
// grad clip 0.5, β from 0.2 to 0.005 with geometric decay over the run
// (the paper does not name the schedule), 350 iterations.
// The log-probs of PPO's ratio denominator are recomputed with the training
// forward after sampling (as TRL), so the first epoch's ratio is exactly 1.
// With `lora`, the actor is a PEFT adapter on the base and the reference is that
// base with the adapter switched off (one copy of the weights, not two).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { backward, noGrad } from '../../engine/autograd.js';
import { clipGradNorm } from '../../engine/ops/optim.js';
import { setThreads } from '../../engine/backend.js';
import { loadModel, saveModel } from '../../io/hf-folder.js';
import { loadTokenizer } from '../../io/tokenizer-file.js';
import { logSoftmaxRow } from '../../infer/log-likelihood.js';
import { generate } from '../../infer/generate.js';
import type { BaichuanForCausalLM } from '../../model/baichuan.js';
import type { ChatMessage } from '../../infer/chat-format.js';
import { Tensor } from '../../engine/tensor.js';
import { AdamW } from '../../train/optimizer.js';
import { tokenRewards, gae, maskedWhiten, ppoPolicyLoss, ppoValueLoss, grpoAdvantages, klCoefficient, rowEntropy, k3KlPenalty, maskedMoments } from './math.js';
import { packSequences, tokenLogProbs, type SequenceBatch } from './logprobs.js';
import { readPrompts, encodePrompt, describeSkipped } from './data.js';
import { RewardModel, loadRewardModel, saveRewardModel } from './reward-model.js';
import { Run, hashConfig, loadOptimizer, IndexLoader, type MetricsRow } from './run.js';
import type { PpoConfig } from './config.js';
import type { TrainHooks } from './dpo.js';
import { LoraAdapter, applyLoraAdapter } from '../lora.js';

export interface RolloutOptions { maxNewTokens: number; temperature: number; topK: number; topP: number; seed: number }

export interface Rollout {
  responses: number[][];
  /** log π(token) of each sampled token under softmax(logits / temperature), float64 from the decode step's logits. */
  logprobs: number[][];
}

/** Batched sampling with the KV cache, recording each sampled token's log-prob. */
export function rollout(actor: BaichuanForCausalLM, prompts: number[][], o: RolloutOptions): Rollout {
  const was = actor.training;
  const logprobs: number[][] = prompts.map(() => []);
  const g = generate(actor, prompts, {
    maxNewTokens: o.maxNewTokens, temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed,
    onStep: (tokens, rows) => {
      tokens.forEach((t, b) => {
        if (t < 0) return;
        const row = o.temperature === 1 ? rows[b]! : rows[b]!.map((v) => v / o.temperature);
        logprobs[b]!.push(logSoftmaxRow(row)[t]!);
      });
    },
  });
  actor.train(was);
  return { responses: g.tokens, logprobs };
}

export type ScoreFn = (prompt: string, response: string) => number | Promise<number>;

/** A JavaScript module's `score(prompt, response)` (verifiable rewards). */
export async function loadScoreModule(file: string): Promise<ScoreFn> {
  if (!fs.existsSync(file)) throw new Error(`reward ${file}: not found`);
  const mod = (await import(pathToFileURL(path.resolve(file)).href)) as { score?: unknown; default?: { score?: unknown } };
  const fn = mod.score ?? mod.default?.score;
  if (typeof fn !== 'function') throw new Error(`reward ${file}: the module exports no function score(prompt, response)`);
  return fn as ScoreFn;
}

/** Rows of a batch at the response positions: mask [B*T] of 1 where a response token is predicted. */
function responseMask(batch: SequenceBatch): Float64Array {
  return Float64Array.from(batch.targets, (t) => (t === -100 ? 0 : 1));
}

/** Per row, the flat positions of its response tokens. */
function rowPositions(batch: SequenceBatch, b: number): number[] {
  return Array.from({ length: batch.length[b]! }, (_, t) => b * batch.T + batch.start[b]! + t);
}

interface Experience {
  batch: SequenceBatch;
  mask: Float64Array;
  oldLogp: Float64Array;
  refLogp: Float64Array;
  oldValues: Float64Array | null;
  advantages: Float64Array;
  returns: Float64Array | null;
}

/** Switch a LoRA-style delta off while computing (the reference of an adapter-trained actor). */
function withoutDeltas<T>(model: BaichuanForCausalLM, fn: () => T): T {
  const saved: [{ delta: unknown }, unknown][] = [];
  for (const layer of model.model.layers)
    for (const lin of [layer.self_attn.W_pack, layer.self_attn.o_proj, layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj]) {
      const l = lin as unknown as { delta?: unknown };
      if (l.delta) { saved.push([l as { delta: unknown }, l.delta]); l.delta = null; }
    }
  try { return fn(); } finally { for (const [l, d] of saved) l.delta = d; }
}

export interface PpoResult { step: number; modelDir: string; metrics: MetricsRow[] }

export async function trainPpo(c: PpoConfig, hooks: TrainHooks = {}): Promise<PpoResult> {
  const log = hooks.log ?? (() => {});
  if (c.threads) setThreads(c.threads);
  const grpo = c.advantage === 'grpo';
  const run = new Run(c.out, grpo ? 'GRPO' : 'PPO', log);
  const hash = hashConfig(c as unknown as Record<string, unknown>);
  const resumed = run.resumeFrom(!!hooks.resume, hash);
  const tokFile = c.tokenizer ?? path.join(c.model, 'tokenizer.model');
  const tok = loadTokenizer(tokFile);
  const actor = loadModel(resumed && !c.lora ? path.join(resumed.dir, 'actor') : c.model);
  // LoRA: the actor trains an adapter (no dropout: sampling, old and new log-probs are one function)
  // and the reference is the same base with the adapter switched off, not a second copy
  let adapter: LoraAdapter | null = null;
  if (c.lora) {
    adapter = resumed ? applyLoraAdapter(actor, path.join(resumed.dir, 'adapter')) : LoraAdapter.attach(actor, { ...c.lora, targets: [...c.lora.targets] }, c.seed);
    adapter.eval();
  }
  const ref = c.ref ? loadModel(c.ref) : adapter ? actor : loadModel(c.model);  // the initial actor, frozen
  if (ref !== actor) ref.eval();
  // the reward: a reward-model folder or a score(prompt, response) module
  const programmatic = /\.(mjs|js|cjs)$/.test(c.reward);
  const scoreFn = programmatic ? await loadScoreModule(c.reward) : null;
  const rewardModel = programmatic ? null : loadRewardModel(c.reward);
  rewardModel?.eval();
  let critic: RewardModel | null = null;
  if (!grpo) {
    if (resumed) critic = loadRewardModel(path.join(resumed.dir, 'critic'));
    else if (c.critic) critic = loadRewardModel(c.critic, { newHead: 'zero' });
    else if (!programmatic) critic = loadRewardModel(c.reward);
    else critic = loadRewardModel(c.model, { newHead: 'zero' });
    critic.train();
  }
  const { prompts: promptMsgs, report } = readPrompts(c.data);
  if (report.skipped.length) log(`${c.data}: skipped ${report.skipped.length} record(s): ${describeSkipped(report)}`, true);
  if (!promptMsgs.length) throw new Error(`${c.data}: no usable prompts`);
  const budget = Math.max(2, Math.min(c.maxPromptLength ?? c.maxLength - c.maxNewTokens, actor.config.modelMaxLength - c.maxNewTokens));
  const prompts = promptMsgs.map((m) => encodePrompt(m, (t) => tok.encode(t), budget));
  const promptText = promptMsgs.map((m: ChatMessage[]) => m[m.length - 1]!.content);
  actor.train();
  const aParams = adapter ? adapter.namedParameters() : [...actor.namedParameters()];
  const aOpt = new AdamW(aParams, { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay });
  const cParams = critic ? critic.namedParameters() : [];
  const cOpt = critic ? new AdamW(cParams, { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay }) : null;
  const loader = new IndexLoader(prompts.length, c.seed);
  let step = 0, elapsed = 0;
  if (resumed) {
    step = resumed.state.step;
    elapsed = resumed.state.elapsedSeconds;
    loadOptimizer(resumed.dir, 'actor', aOpt, resumed.state.data.actorSteps as number);
    if (cOpt) loadOptimizer(resumed.dir, 'critic', cOpt, step);
    loader.restore(resumed.state.data.loader as { epoch: number; position: number });
  }
  const tokenizer = fs.existsSync(tokFile) ? tokFile : undefined;
  const save = () => run.checkpoint({ step, configHash: hash, elapsedSeconds: elapsed, data: { loader: loader.state(), actorSteps: aOpt.step } }, (dir) => {
    if (adapter) adapter.save(path.join(dir, 'adapter'), path.resolve(c.model)); else saveModel(actor, path.join(dir, 'actor'), { tokenizerModel: tokenizer });
    if (critic) saveRewardModel(critic, path.join(dir, 'critic'), tokenizer);
  }, { actor: aOpt, ...(cOpt ? { critic: cOpt } : {}) }, c.keepCheckpoints);
  const pad = actor.config.padTokenId, eos = actor.config.eosTokenId;
  const k = grpo ? c.groupSize : 1;
  run.start();
  try {
    while (step < c.steps) {
      const t0 = performance.now();
      const beta = klCoefficient(step, c.steps, c.klStart, c.klEnd, c.klSchedule);
      // 1. rollout
      const idx = loader.next(c.batchSize).flatMap((i) => Array.from({ length: k }, () => i));
      const ro = rollout(actor, idx.map((i) => prompts[i]!), { maxNewTokens: c.maxNewTokens, temperature: c.temperature, topK: c.topK, topP: c.topP, seed: (c.seed * 1_000_003 + step * 7919) >>> 0 });
      const responses = ro.responses.map((r) => (r.length ? r : [eos]));  // an empty response still ends
      const t1 = performance.now();
      // 2. scores
      let scores: Float64Array;
      if (scoreFn) scores = Float64Array.from(await Promise.all(responses.map((r, b) => scoreFn(promptText[idx[b]!]!, tok.decode(r.filter((x) => x !== eos))))));
      else scores = rewardModel!.scoreSequences(responses.map((r, b) => ({ prompt: prompts[idx[b]!]!, response: r })));
      if (c.missingEosPenalty !== undefined) responses.forEach((r, b) => { if (r[r.length - 1] !== eos) scores[b] += c.missingEosPenalty!; });
      for (const s of scores) if (!Number.isFinite(s)) throw new Error(`reward ${c.reward}: returned a non-finite score (${s})`);
      const t2 = performance.now();
      // 3. old log-probs, reference log-probs, values, advantages
      const batch = packSequences(responses.map((r, b) => ({ prompt: prompts[idx[b]!]!, response: r })), pad);
      const mask = responseMask(batch);
      const exp = noGrad(() => {
        actor.eval();
        const old = tokenLogProbs(actor, batch, { temperature: c.temperature, keepLogits: true });
        const refLp = withoutDeltas(ref, () => tokenLogProbs(ref, batch, { temperature: c.temperature })).values;  // adapter off when ref is the actor
        const V = actor.config.vocabSize;
        const lg = old.logits!.f32();
        let ent = 0;
        for (let i = 0; i < mask.length; i++) if (mask[i]) ent += rowEntropy(lg.subarray(i * V, (i + 1) * V));
        const oldValues = critic ? Float64Array.from(critic.values(batch).f32()) : null;
        actor.train();
        return { oldLogp: old.values, refLogp: refLp, oldValues, entropy: ent / Math.max(1, maskedMoments(mask, mask).count) };
      });
      const N = batch.B * batch.T;
      let advantages: Float64Array = new Float64Array(N);
      let returns: Float64Array | null = null;
      let klSum = 0;
      const klPerSeq = new Float64Array(batch.B);
      for (let b = 0; b < batch.B; b++) {
        const pos = rowPositions(batch, b);
        const { rewards, kl } = tokenRewards(pos.map((p) => exp.oldLogp[p]!), pos.map((p) => exp.refLogp[p]!), scores[b]!, beta);
        klPerSeq[b] = kl.reduce((s, v) => s + v, 0);
        klSum += klPerSeq[b]!;
        if (!grpo) {
          returns ??= new Float64Array(N);
          const g = gae(rewards, pos.map((p) => exp.oldValues![p]!), c.gamma, c.lambda);
          pos.forEach((p, t) => { advantages[p] = g.advantages[t]!; returns![p] = g.returns[t]!; });
        }
      }
      if (grpo) {
        const a = grpoAdvantages(scores, k);
        for (let b = 0; b < batch.B; b++) for (const p of rowPositions(batch, b)) advantages[p] = a[b]!;
      } else if (c.whitenAdvantages) advantages = maskedWhiten(advantages, mask);
      const e: Experience = { batch, mask, oldLogp: exp.oldLogp, refLogp: exp.refLogp, oldValues: exp.oldValues, advantages, returns };
      // 4. PPO epochs
      const trainActor = grpo || step >= c.criticWarmup;
      const u = update(e, trainActor, beta, grpo);
      step++;
      const t3 = performance.now();
      const dt = (t3 - t0) / 1000;
      elapsed += dt;
      const sm = maskedMoments(scores, scores.map(() => 1));
      const lengths = responses.map((r) => r.length);
      run.record({
        step, loss: u.policy + u.value, 'reward/mean': sm.mean, 'reward/std': Math.sqrt(sm.variance), kl: klSum / batch.B, kl_coef: beta,
        entropy: exp.entropy, 'loss/policy': u.policy, 'loss/value': u.value, 'clipfrac/policy': u.clipPolicy, 'clipfrac/value': u.clipValue,
        approx_kl: u.approxKl, response_length: lengths.reduce((s, x) => s + x, 0) / lengths.length, actor_updated: trainActor ? 1 : 0,
        'time/rollout': (t1 - t0) / 1000, 'time/score': (t2 - t1) / 1000, 'time/update': (t3 - t2) / 1000,
      });
      log(`iter ${step}/${c.steps} reward ${sm.mean.toFixed(3)} kl ${(klSum / batch.B).toFixed(3)} β ${beta.toFixed(4)} entropy ${exp.entropy.toFixed(3)} pg ${u.policy.toFixed(4)} vf ${u.value.toFixed(4)} clip ${u.clipPolicy.toFixed(2)} len ${(lengths.reduce((s, x) => s + x, 0) / lengths.length).toFixed(1)} ${dt.toFixed(1)}s${trainActor ? '' : ' (critic warm-up)'}`,
        step === 1 || step % Math.max(1, Math.floor(c.steps / 10)) === 0);
      if (await run.endStep(step, c.steps, c.checkpointEvery, hooks.stopAfter, save)) break;
    }
  } finally {
    run.stop();
  }
  run.plot([{ key: 'reward/mean', name: 'mean reward', color: '#2ca02c' }, { key: 'kl', name: 'KL(actor‖ref)', color: '#d62728' }]);
  const modelDir = path.join(c.out, 'model');
  if (step === c.steps) {
    if (adapter) adapter.save(modelDir, path.resolve(c.model)); else saveModel(actor, modelDir, { tokenizerModel: tokenizer });
    if (critic) saveRewardModel(critic, path.join(c.out, 'critic'), tokenizer);
  }
  return { step, modelDir, metrics: run.metrics };

  /** `ppoEpochs` passes over the experience in `miniBatches` row groups. */
  function update(e: Experience, trainActor: boolean, beta: number, grpoMode: boolean) {
    const B = e.batch.B, T = e.batch.T;
    const mb = Math.min(c.miniBatches, B);
    let policy = 0, value = 0, clipPolicy = 0, clipValue = 0, approxKl = 0, n = 0;
    for (let epoch = 0; epoch < c.ppoEpochs; epoch++) {
      for (let m = 0; m < mb; m++) {
        const rows = Array.from({ length: B }, (_, b) => b).filter((b) => b % mb === m);
        const sub = subBatch(e.batch, rows);
        const pick = (x: Float64Array) => { const o = new Float64Array(rows.length * T); rows.forEach((b, i) => o.set(x.subarray(b * T, (b + 1) * T), i * T)); return o; };
        const mask = pick(e.mask);
        if (trainActor) {
          for (const [, p] of aParams) p.grad = null;
          const lp = tokenLogProbs(actor, sub, { temperature: c.temperature });
          const pl = ppoPolicyLoss(lp.values, pick(e.oldLogp), pick(e.advantages), mask, c.clip);
          const d = pl.dLogp;
          if (grpoMode) {
            const kp = k3KlPenalty(lp.values, pick(e.refLogp), mask, beta);
            for (let i = 0; i < d.length; i++) d[i] += kp.dLogp[i]!;
            policy += kp.penalty;
          }
          backward(lp.logp, Tensor.from(Float32Array.from(d), [d.length]));
          clipGradNorm(aParams.map(([, p]) => p), c.gradClip);
          aOpt.update(c.lr);
          policy += pl.loss; clipPolicy += pl.clipFraction; approxKl += pl.approxKl;
        }
        if (critic && e.returns) {
          for (const [, p] of cParams) p.grad = null;
          const v = critic.values(sub);
          const vl = ppoValueLoss(v.f32(), pick(e.oldValues!), pick(e.returns), mask, c.valueClip);
          backward(v, Tensor.from(Float32Array.from(vl.dValues), [vl.dValues.length]));
          clipGradNorm(cParams.map(([, p]) => p), c.gradClip);
          cOpt!.update(c.criticLr ?? c.lr);
          value += vl.loss; clipValue += vl.clipFraction;
        }
        n++;
      }
    }
    return { policy: policy / n, value: value / n, clipPolicy: clipPolicy / n, clipValue: clipValue / n, approxKl: approxKl / n };
  }
}

/** The rows `rows` of a packed batch (same T). */
export function subBatch(b: SequenceBatch, rows: readonly number[]): SequenceBatch {
  const T = b.T;
  const take = (x: Int32Array) => { const o = new Int32Array(rows.length * T); rows.forEach((r, i) => o.set(x.subarray(r * T, (r + 1) * T), i * T)); return o; };
  return { B: rows.length, T, ids: take(b.ids), mask: take(b.mask), targets: take(b.targets), last: Int32Array.from(rows, (r) => b.last[r]!), start: Int32Array.from(rows, (r) => b.start[r]!), length: Int32Array.from(rows, (r) => b.length[r]!) };
}

