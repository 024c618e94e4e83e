// The pre-training loop (SPEC §5): packed sequences, AdamW (0.9, 0.95, wd
// 0.1), linear warm-up + cosine decay, global-norm clipping (0.5), max-z loss,
// NormHead, optional bf16 weights with fp32 masters, gradient accumulation,
// periodic validation and checkpoints, exact resume, SIGINT-safe.
// Data parallel with `hooks.parallel` (src/train/parallel.ts, launched by
// `baichuan2 launch`): batchSize is the per-rank micro-batch, so a step sees
// batchSize x gradAccum x world sequences; rank r reads its rows of every
// global batch; rank 0 alone writes metrics, plots and checkpoints; a SIGINT on
// any rank stops every rank after the same step.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { Tensor } from '../engine/tensor.js';
import { backward, noGrad } from '../engine/autograd.js';
import { setThreads, backend } from '../engine/backend.js';
import { configFromJSON, PRESETS, type BaichuanConfig } from '../model/config.js';
import { BaichuanForCausalLM } from '../model/baichuan.js';
import { loadModel } from '../io/hf-folder.js';
import { stepStrategy, type ParallelOptions } from './parallel.js';
import { lrAt } from './schedule.js';
import { readManifest, loadSplit } from '../data/shards.js';
import { PackedLoader } from './packed-loader.js';
import { saveCheckpoint, latestCheckpoint, loadCheckpoint, type TrainerState } from './checkpoint.js';
import { lossSvg } from './plot.js';
import type { TrainConfig } from './config.js';

export interface StepMetrics {
  step: number; loss: number; ce: number; z: number; lr: number; grad_norm: number;
  tokens_per_s: number; mfu: number; elapsed_s: number; val_loss?: number; val_bpb?: number;
}

export interface TrainResult { step: number; lastLoss: number; valLoss: number | null; valBpb: number | null; checkpoint: string; metrics: StepMetrics[] }

export interface TrainHooks {
  log?: (line: string, final?: boolean) => void;
  /** Stop (with a checkpoint) after this step: for tests of interruption. */
  stopAfter?: number;
  /** Data parallelism: this rank's communicator (and ZeRO stage). */
  parallel?: ParallelOptions;
}

/**
 * What a checkpoint must match to resume. The batch counts as the global batch
 * (batchSize x gradAccum x world), so a run may resume re-split over another
 * world size or accumulation; zeroStage changes nothing numerically.
 */
function configHash(c: TrainConfig, world: number): string {
  const { steps: _s, out: _o, evalEvery: _e, checkpointEvery: _c, keepCheckpoints: _k, threads: _t, zeroStage: _z, ...rest } = c;
  const global = { ...rest, batchSize: c.batchSize * c.gradAccum * world, gradAccum: 1 };
  return crypto.createHash('sha256').update(JSON.stringify(global)).digest('hex').slice(0, 16);
}

function buildModel(c: TrainConfig, vocab: number): BaichuanForCausalLM {
  if (c.model.init) {
    const m = loadModel(c.model.init, { dtype: c.precision });
    if (m.config.vocabSize !== vocab) throw new Error(`model.init ${c.model.init}: vocab ${m.config.vocabSize} differs from the data's tokenizer (${vocab})`);
    (m.config as { zLossWeight: number }).zLossWeight = c.zLossWeight;
    return m;
  }
  const base = c.model.preset ? PRESETS[c.model.preset] : {};
  if (c.model.preset && !base) throw new Error(`model.preset: unknown preset '${c.model.preset}' (${Object.keys(PRESETS).join(', ')})`);
  const cfg: BaichuanConfig = configFromJSON({ ...base, ...c.model.config, vocab_size: vocab, z_loss_weight: c.zLossWeight, torch_dtype: c.precision === 'bf16' ? 'bfloat16' : 'float32' }, 'model');
  if (cfg.modelMaxLength < c.seqLen) throw new Error(`seqLen ${c.seqLen} exceeds the model's context ${cfg.modelMaxLength}`);
  return new BaichuanForCausalLM(cfg).initWeights(c.seed, c.precision);
}

/** FLOPs per trained token: 6 N (matmul weights) + 12 L C T (attention), the PaLM/nanoGPT estimate. */
export function flopsPerToken(cfg: BaichuanConfig, T: number): number {
  const C = cfg.hiddenSize, L = cfg.numHiddenLayers, F = cfg.intermediateSize, V = cfg.vocabSize;
  const n = L * (4 * C * C + 3 * C * F) + V * C;
  return 6 * n + 12 * L * C * T;
}

/**
 * Measured f32 GEMM throughput (FLOP/s) of this machine: the denominator of
 * MFU. The median of at least 9 products and 0.1 s: five 0.2 ms products were
 * once dominated by waking the worker threads, and the demo printed MFU 440%.
 */
export function measuredPeakFlops(): number {
  const n = 512;
  const a = Tensor.randnFast([n, n], 1).f32(), c = new Float32Array(n * n);
  const run = () => backend().gemm({ transA: false, transB: true, M: n, N: n, K: n, alpha: 1, beta: 0, A: a, lda: n, strideA: 0, B: a, ldb: n, strideB: 0, C: c, ldc: n, strideC: 0, batch: 1 });
  run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 9 || (performance.now() - start < 100 && times.length < 200)) { const t = performance.now(); run(); times.push(performance.now() - t); }
  times.sort((x, y) => x - y);
  return (2 * n ** 3) / (times[times.length >> 1]! / 1000);
}

/**
 * Mean validation loss (CE only) over the first `batches` windows of the
 * validation tokens, and bits per byte. With `part`, the windows are global
 * batches of W x B rows, rank r evaluates its B rows of each (as in training)
 * and the sums are added over ranks: the rows one rank of batch W B would see.
 */
export function evaluate(model: BaichuanForCausalLM, val: Uint32Array, B: number, T: number, batches: number, bytesPerToken: number,
  part?: { rank: number; world: number; sum: (xs: number[]) => number[] }): { loss: number; bpb: number } {
  const was = model.training;
  model.eval();
  const world = part?.world ?? 1;
  const loader = new PackedLoader(val, B, Math.min(T, val.length - 1), { rank: part?.rank ?? 0, world });
  let sum = 0, n = 0;
  const maxBatches = Math.max(1, Math.min(batches, Math.floor(val.length / (world * B * loader.T + 1))));
  noGrad(() => {
    for (let i = 0; i < maxBatches; i++) {
      const b = loader.next();
      const out = model.forward(Tensor.from(b.inputs, [B, loader.T], 'i32'), { targets: Tensor.from(b.targets, [B, loader.T], 'i32') });
      sum += out.lossStats!.ce * out.lossStats!.tokens;
      n += out.lossStats!.tokens;
    }
  });
  model.train(was);
  if (part) [sum, n] = part.sum([sum, n]) as [number, number];
  const loss = sum / n;
  return { loss, bpb: loss / Math.LN2 / bytesPerToken };
}

export async function pretrain(c: TrainConfig, opts: { resume?: boolean } & TrainHooks = {}): Promise<TrainResult> {
  const rank = opts.parallel?.comm.rank ?? 0, world = opts.parallel?.comm.worldSize ?? 1;
  const writer = rank === 0;
  const log = (writer && opts.log) || (() => {});
  if (c.threads) setThreads(c.threads);
  const manifest = readManifest(c.data);
  const vocab = manifest.tokenizer.vocabSize;
  const train = loadSplit(c.data, manifest.train, vocab);
  const val = loadSplit(c.data, manifest.val, vocab);
  const bytesPerToken = manifest.bytes.val / Math.max(1, val.length);
  if (writer) fs.mkdirSync(c.out, { recursive: true });
  const metricsFile = path.join(c.out, 'metrics.jsonl');
  const hash = configHash(c, world);
  let model: BaichuanForCausalLM;
  let state: TrainerState = { step: 0, loader: { position: 0, epoch: 0 }, tokensSeen: 0, configHash: hash, elapsedSeconds: 0 };
  let optState: Map<string, Tensor> | null = null;
  const ckpt = opts.resume ? latestCheckpoint(c.out) : null;
  if (opts.resume && !ckpt) log(`no checkpoint in ${c.out}: starting from scratch`, true);
  if (ckpt) {
    const r = loadCheckpoint(ckpt);
    if (r.state.configHash !== hash) throw new Error(`--resume: ${ckpt} was trained with a different configuration (hash ${r.state.configHash}, now ${hash}); only steps, out, evalEvery, checkpointEvery, keepCheckpoints, threads, zeroStage and the split of the global batch (batchSize x gradAccum x ranks) may change`);
    model = r.model;
    state = r.state;
    optState = r.optimizer;
    (model.config as { zLossWeight: number }).zLossWeight = c.zLossWeight;
    log(`resumed from ${ckpt} (step ${state.step})`, true);
  } else {
    model = buildModel(c, vocab);
    if (writer) fs.writeFileSync(metricsFile, '');
  }
  model.train();
  const params = [...model.namedParameters()];
  const optimizer = stepStrategy(params, { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay }, opts.parallel);
  if (optState) optimizer.loadState(optState, state.step);
  if (world > 1) log(`data parallel: ${world} ranks x batch ${c.batchSize} x accumulation ${c.gradAccum} = ${world * c.batchSize * c.gradAccum} sequences per step; ${opts.parallel?.zeroStage === 1 ? `ZeRO-1 (optimizer state 1/${world} per rank)` : 'gradients all-reduced'} over ${opts.parallel!.comm.backend}`, true);
  const part = world > 1 ? { rank, world, sum: (xs: number[]) => optimizer.sum(xs) } : undefined;
  // metrics after the checkpoint belong to a lost future: drop them so the curve continues exactly
  // rank 0 owns the file (another rank reading it while rank 0 rewrites it could see half a line)
  const metrics: StepMetrics[] = writer && fs.existsSync(metricsFile)
    ? fs.readFileSync(metricsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as StepMetrics).filter((m) => m.step <= state.step)
    : [];
  if (writer) fs.writeFileSync(metricsFile, metrics.map((m) => JSON.stringify(m) + '\n').join(''));
  const loader = new PackedLoader(train, c.batchSize, c.seqLen, { rank, world });
  loader.restore(state.loader);
  const tokFile = manifest.tokenizer.file;
  const tokenizer = fs.existsSync(tokFile) ? tokFile : undefined;
  const peak = measuredPeakFlops();
  const fpt = flopsPerToken(model.config, c.seqLen);
  let interrupted = false;
  const onSigint = () => { interrupted = true; log('interrupt: saving a checkpoint after this step…', true); };
  process.on('SIGINT', onSigint);
  let lastCheckpoint = ckpt ?? '';
  let lastLoss = NaN;
  let lastVal: { loss: number; bpb: number } | null = null;
  const sched = { peakLr: c.peakLr, minLr: c.minLr, warmupSteps: c.warmupSteps, totalSteps: c.steps };
  const save = () => {
    state.loader = loader.state();
    const opt = optimizer.checkpointState();  // collective: ZeRO shards are gathered on every rank
    if (!writer) return;
    lastCheckpoint = saveCheckpoint(c.out, model, opt, state, tokenizer, c.keepCheckpoints);
    writePlot(c.out, metrics);
  };
  try {
    while (state.step < c.steps) {
      const t0 = performance.now();
      const step = state.step + 1;
      const lr = lrAt(step, sched);
      for (const [, p] of params) p.grad = null;
      let loss = 0, ce = 0, z = 0;
      for (let micro = 0; micro < c.gradAccum; micro++) {
        const b = loader.next();
        const out = model.forward(Tensor.from(b.inputs, [c.batchSize, c.seqLen], 'i32'), { targets: Tensor.from(b.targets, [c.batchSize, c.seqLen], 'i32'), recompute: c.activationRecomputation });
        const l = out.loss!;
        loss += l.item() / c.gradAccum;
        ce += out.lossStats!.ce / c.gradAccum;
        z += out.lossStats!.z / c.gradAccum;
        backward(l, c.gradAccum > 1 ? Tensor.from([1 / c.gradAccum], []) : undefined);
      }
      // the step's loss is the mean over ranks (every rank sees the same numbers, so all stop together on a NaN)
      if (world > 1) [loss, ce, z] = optimizer.sum([loss, ce, z]).map((x) => x / world) as [number, number, number];
      if (!Number.isFinite(loss)) throw new Error(`step ${step}: loss is ${loss}; stopping (the last checkpoint is ${lastCheckpoint || 'none'})`);
      const gradNorm = optimizer.step(lr, c.gradClip);
      state.step = step;
      const tokens = c.batchSize * c.seqLen * c.gradAccum * world;
      state.tokensSeen += tokens;
      const dt = (performance.now() - t0) / 1000;
      state.elapsedSeconds += dt;
      const m: StepMetrics = { step, loss, ce, z, lr, grad_norm: gradNorm, tokens_per_s: tokens / dt, mfu: (tokens * fpt) / dt / (peak * world), elapsed_s: state.elapsedSeconds };
      if (step % c.evalEvery === 0 || step === c.steps) {
        lastVal = evaluate(model, val, c.batchSize, c.seqLen, c.evalBatches, bytesPerToken, part);
        m.val_loss = lastVal.loss;
        m.val_bpb = lastVal.bpb;
      }
      metrics.push(m);
      if (writer) fs.appendFileSync(metricsFile, JSON.stringify(m) + '\n');
      lastLoss = loss;
      const eta = ((c.steps - step) * state.elapsedSeconds) / Math.max(1, metrics.length);
      log(`step ${step}/${c.steps} loss ${loss.toFixed(4)} lr ${lr.toExponential(2)} gnorm ${gradNorm.toFixed(3)} ${(tokens / dt).toFixed(0)} tok/s MFU ${(100 * m.mfu).toFixed(1)}% ETA ${eta.toFixed(0)}s${m.val_loss !== undefined ? ` val ${m.val_loss.toFixed(4)} (${m.val_bpb!.toFixed(3)} bpb)` : ''}`,
        m.val_loss !== undefined || step === 1 || step % Math.max(1, Math.floor(c.steps / 10)) === 0);
      // yield to the event loop once per step, so that a SIGINT handler can run
      await new Promise((r) => setImmediate(r));
      const stopHere = optimizer.any(interrupted) || opts.stopAfter === step;
      if (stopHere && !interrupted && opts.stopAfter !== step) { interrupted = true; log('interrupt on another rank: saving a checkpoint after this step…', true); }
      if (step % c.checkpointEvery === 0 || step === c.steps || stopHere) save();
      if (stopHere) break;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (interrupted) process.exitCode = 130;
  if (writer) writePlot(c.out, metrics);
  return { step: state.step, lastLoss, valLoss: lastVal?.loss ?? null, valBpb: lastVal?.bpb ?? null, checkpoint: lastCheckpoint, metrics };
}

function writePlot(out: string, metrics: StepMetrics[]): void {
  const svg = lossSvg([
    { name: 'train loss', color: '#1f77b4', points: metrics.map((m) => [m.step, m.loss]) },
    { name: 'validation loss', color: '#d62728', points: metrics.filter((m) => m.val_loss !== undefined).map((m) => [m.step, m.val_loss!]) },
  ], 'Baichuan 2 pre-training');
  fs.writeFileSync(path.join(out, 'loss.svg'), svg);
}
