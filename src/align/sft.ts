// Supervised fine-tuning (the official recipe, SPEC §12): conversations ->
// official examples (labels.ts) -> length-bucketed or packed batches
// (batches.ts) -> AdamW with a constant LR, global-norm clipping, bf16 weights
// with fp32 masters, activation recomputation; full weights or LoRA (lora.ts),
// LoRA also on a quantised base. Uses the pre-training machinery of src/train
// (AdamW, gradient clipping, checkpoint publishing, trainer state, loss plot):
// metrics.jsonl, a progress line, periodic validation on held-out
// conversations, checkpoints, SIGINT save and bit-exact --resume.
// The output folder is a normal model folder (full fine-tuning) or a PEFT
// adapter folder (LoRA), next to checkpoints/, metrics.jsonl and loss.svg.
// The loss of a batch is the mean over its loss tokens (assistant tokens and
// the eos after each assistant turn), as the Hugging Face Trainer computes it.
// Data parallel with `hooks.parallel` (src/train/parallel.ts): a step takes
// gradAccum x world batches of the epoch plan, rank r the r-th of each group
// of world, and the gradient is the mean of the batches' gradients, exactly
// as one rank accumulating gradAccum x world batches; rank 0 alone writes.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { Tensor } from '../engine/tensor.js';
import { backward, noGrad } from '../engine/autograd.js';
import { setThreads } from '../engine/backend.js';
import type { BaichuanForCausalLM, ForwardOutput } from '../model/baichuan.js';
import { loadModel, saveModel, readConfig, DEFAULT_GENERATION_CONFIG } from '../io/hf-folder.js';
import type { BpeTokenizer } from '../tokenizer/index.js';
import { loadTokenizer } from '../io/tokenizer-file.js';
import { stepStrategy, type ParallelOptions } from '../train/parallel.js';
import { publishCheckpoint, writeTrainingState, readTrainingState, latestCheckpoint, type TrainerState } from '../train/checkpoint.js';
import { lossSvg } from '../train/plot.js';
import { collectConversations, newConversationStats, describeSkipped, type ConversationReadStats } from './conversations.js';
import { officialExample, officialEncoder, lossTokens, type SftExample } from './labels.js';
import { planEpoch, buildBatch, splitHeldOut, type SftBatch } from './batches.js';
import { LoraAdapter, applyLoraAdapter } from './lora.js';
import type { SftConfig } from './config.js';

export interface EncodeResult { examples: SftExample[]; dropped: number; stats: ConversationReadStats }

/** Read conversation files and encode each one as the official script does; examples without a loss token are dropped (counted). */
export async function encodeConversationFiles(files: readonly string[], tok: BpeTokenizer, o: { maxLength: number; eosTokenId?: number; keepEmpty?: boolean }): Promise<EncodeResult> {
  const stats = newConversationStats();
  const convs = await collectConversations(files, stats);
  const examples: SftExample[] = [];
  let dropped = 0;
  const encode = officialEncoder(tok);
  for (const c of convs) {
    const ex = officialExample(c, encode, { maxLength: o.maxLength, eosTokenId: o.eosTokenId });
    if (!o.keepEmpty && lossTokens(ex.labels) === 0) { dropped++; continue; }
    examples.push(ex);
  }
  return { examples, dropped, stats };
}

/** Forward one batch with its loss (the piece a preference trainer reuses). */
export function forwardBatch(model: BaichuanForCausalLM, b: SftBatch, recompute = false): ForwardOutput {
  return model.forward(Tensor.from(b.inputs, [b.B, b.T], 'i32'), {
    targets: Tensor.from(b.targets, [b.B, b.T], 'i32'),
    ...(b.positions ? { positionIds: b.positions } : {}),
    ...(b.segments ? { segments: b.segments } : {}),
    recompute,
  });
}

/** Token-weighted mean loss over examples (padded batches of `batchSize`, no dropout). */
export function evaluateExamples(model: BaichuanForCausalLM, examples: readonly SftExample[], batchSize: number, adapter?: LoraAdapter | null): number {
  const was = model.training;
  model.eval();
  adapter?.eval();
  let sum = 0, n = 0;
  noGrad(() => {
    const order = examples.map((_, i) => i).sort((a, b) => examples[a]!.inputIds.length - examples[b]!.inputIds.length);
    for (let s = 0; s < order.length; s += batchSize) {
      const b = buildBatch(examples, order.slice(s, s + batchSize).map((i) => [i]), false);
      const out = forwardBatch(model, b);
      sum += out.lossStats!.ce * out.lossStats!.tokens;
      n += out.lossStats!.tokens;
    }
  });
  model.train(was);
  adapter?.train(was);
  return sum / n;
}

export interface SftMetrics { step: number; epoch: number; loss: number; lr: number; grad_norm: number; tokens: number; tokens_per_s: number; elapsed_s: number; val_loss?: number }
export interface SftResult { step: number; lastLoss: number; valLoss: number | null; checkpoint: string; out: string; metrics: SftMetrics[]; examples: number; valExamples: number }
export interface SftHooks {
  log?: (line: string, final?: boolean) => void;
  /** Stop (with a checkpoint) after this step: for tests of interruption. */
  stopAfter?: number;
  resume?: boolean;
  /** Data parallelism: this rank's communicator (and ZeRO stage). */
  parallel?: ParallelOptions;
}

/** What a checkpoint must match to resume; the accumulation counts as gradAccum x world (ranks and micro-batches may be traded). */
function configHash(c: SftConfig, world: number): string {
  const { steps: _s, epochs: _e, out: _o, evalEvery: _v, checkpointEvery: _c, keepCheckpoints: _k, threads: _t, zeroStage: _z, ...rest } = c;
  return crypto.createHash('sha256').update(JSON.stringify({ ...rest, gradAccum: c.gradAccum * world })).digest('hex').slice(0, 16);
}

function readGenerationConfig(dir: string): Record<string, unknown> {
  const f = path.join(dir, 'generation_config.json');
  try { return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown> : DEFAULT_GENERATION_CONFIG; } catch { return DEFAULT_GENERATION_CONFIG; }
}

export async function sft(c: SftConfig, hooks: SftHooks = {}): Promise<SftResult> {
  const rank = hooks.parallel?.comm.rank ?? 0, world = hooks.parallel?.comm.worldSize ?? 1;
  const writer = rank === 0;
  const log = (writer && hooks.log) || (() => {});
  if (c.threads) setThreads(c.threads);
  const tokFile = c.tokenizer ?? path.join(c.model, 'tokenizer.model');
  if (!fs.existsSync(tokFile)) throw new Error(`tokenizer: ${tokFile} not found (set "tokenizer" / --tokenizer)`);
  const tok = loadTokenizer(tokFile);
  const files = typeof c.data === 'string' ? [c.data] : c.data;
  const context = readConfig(c.model).modelMaxLength;
  const maxLength = c.maxLength ?? Math.min(512, context);
  if (maxLength > context) throw new Error(`maxLength ${maxLength} exceeds the model's context ${context}`);
  const enc = await encodeConversationFiles(files, tok, { maxLength });
  const skipped = describeSkipped(enc.stats);
  if (skipped) log(skipped, true);
  if (enc.dropped) log(`${enc.dropped} conversation(s) have no assistant token within ${maxLength} tokens: dropped`, true);
  if (!enc.examples.length) throw new Error(`${files.join(', ')}: no usable conversations`);
  const split = splitHeldOut(enc.examples.length, c.valExamples, c.seed);
  const train = split.train.map((i) => enc.examples[i]!), val = split.val.map((i) => enc.examples[i]!);
  const lengths = train.map((e) => e.inputIds.length);
  const plan = { batchSize: c.batchSize, pack: c.pack, maxLength, seed: c.seed };
  const batchesPerEpoch = planEpoch(lengths, 0, plan).length;
  const perStep = c.gradAccum * world;  // batches of the plan per optimizer step
  if (batchesPerEpoch < perStep) throw new Error(`${batchesPerEpoch} batch(es) per epoch cannot feed gradAccum ${c.gradAccum} x ${world} rank(s): use fewer ranks, a smaller batchSize or more data`);
  const stepsPerEpoch = Math.max(1, Math.floor(batchesPerEpoch / perStep));
  const totalSteps = c.steps ?? c.epochs * stepsPerEpoch;

  if (writer) fs.mkdirSync(c.out, { recursive: true });
  const metricsFile = path.join(c.out, 'metrics.jsonl');
  const hash = configHash(c, world);
  let state: TrainerState = { step: 0, loader: { position: 0, epoch: 0 }, tokensSeen: 0, configHash: hash, elapsedSeconds: 0 };
  let optState: Map<string, Tensor> | null = null;
  const ckpt = hooks.resume ? latestCheckpoint(c.out) : null;
  if (hooks.resume && !ckpt) log(`no checkpoint in ${c.out}: starting from scratch`, true);
  let model: BaichuanForCausalLM;
  let adapter: LoraAdapter | null = null;
  if (ckpt) {
    const r = readTrainingState(ckpt);
    if (r.state.configHash !== hash) throw new Error(`--resume: ${ckpt} was trained with a different configuration (hash ${r.state.configHash}, now ${hash}); only steps, epochs, out, evalEvery, checkpointEvery, keepCheckpoints, threads, zeroStage and the split of gradAccum x ranks may change`);
    state = r.state;
    optState = r.optimizer;
    if (c.lora) {
      model = loadModel(c.model, { dtype: c.precision });
      adapter = applyLoraAdapter(model, ckpt);
    } else model = loadModel(ckpt, { dtype: c.precision });
    log(`resumed from ${ckpt} (step ${state.step})`, true);
  } else {
    model = loadModel(c.model, { dtype: c.precision });
    if (c.lora) adapter = LoraAdapter.attach(model, { ...c.lora, targets: [...c.lora.targets] }, c.seed);
    if (writer) fs.writeFileSync(metricsFile, '');
  }
  const quantized = model.model.layers.some((l) => l.self_attn.W_pack.quantized);
  if (quantized && !adapter) throw new Error(`${c.model}: a quantised base can only be fine-tuned with LoRA (set "lora" / --lora)`);
  if (tok.vocabSize > model.config.vocabSize) throw new Error(`${tokFile}: ${tok.vocabSize} pieces, but the model's vocabulary has ${model.config.vocabSize}`);
  model.train();
  if (adapter) { adapter.seed = c.seed; adapter.train(); }
  const params: [string, Tensor][] = adapter ? adapter.namedParameters() : [...model.namedParameters()];
  const optimizer = stepStrategy(params, { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay }, hooks.parallel);
  if (optState) optimizer.loadState(optState, state.step);
  if (world > 1) log(`data parallel: ${world} ranks x ${c.gradAccum} batch(es) per step; ${hooks.parallel?.zeroStage === 1 ? `ZeRO-1 (optimizer state 1/${world} per rank)` : 'gradients all-reduced'} over ${hooks.parallel!.comm.backend}`, true);
  // rank 0 owns the file (another rank reading it while rank 0 rewrites it could see half a line)
  const metrics: SftMetrics[] = writer && fs.existsSync(metricsFile)
    ? fs.readFileSync(metricsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SftMetrics).filter((m) => m.step <= state.step)
    : [];
  if (writer) fs.writeFileSync(metricsFile, metrics.map((m) => JSON.stringify(m) + '\n').join(''));

  let epochPlan = planEpoch(lengths, state.loader.epoch, plan);
  /** Batch `micro` of this step for this rank: plan entry position + micro x world + rank. */
  const rowsOf = (micro: number): number[][] => epochPlan[state.loader.position + micro * world + rank]!;
  const startStep = () => {
    if (state.loader.position >= stepsPerEpoch * perStep) {
      state.loader = { epoch: state.loader.epoch + 1, position: 0 };
      epochPlan = planEpoch(lengths, state.loader.epoch, plan);
    }
  };
  let interrupted = false;
  const onSigint = () => { interrupted = true; log('interrupt: saving a checkpoint after this step…', true); };
  process.on('SIGINT', onSigint);
  let lastCheckpoint = ckpt ?? '';
  let lastLoss = NaN, lastVal: number | null = null;
  const save = () => {
    const opt = optimizer.checkpointState();  // collective: ZeRO shards are gathered on every rank
    if (!writer) return;
    lastCheckpoint = publishCheckpoint(c.out, state.step, c.keepCheckpoints, (tmp) => {
      if (adapter) adapter.save(tmp, path.resolve(c.model)); else saveModel(model, tmp, { tokenizerModel: tokFile });
      writeTrainingState(tmp, opt, state);
    });
    writePlot(c.out, metrics);
  };
  log(`${train.length} training conversations (${val.length} held out), ${batchesPerEpoch} batches of ${c.batchSize}${c.pack ? ' packed rows' : ''} per epoch, ${totalSteps} steps; ${adapter ? `LoRA r ${c.lora!.r} alpha ${c.lora!.alpha} on ${c.lora!.targets.join(', ')} (${params.reduce((s, [, p]) => s + p.size, 0)} trainable)` : `full fine-tuning (${model.parameterCount()} parameters)`}${quantized ? ', quantised base' : ''}`, true);
  try {
    while (state.step < totalSteps) {
      const t0 = performance.now();
      const step = state.step + 1;
      const lr = c.warmupSteps > 0 && step <= c.warmupSteps ? (c.lr * step) / c.warmupSteps : c.lr;
      startStep();
      const epoch = state.loader.epoch;
      for (const [, p] of params) p.grad = null;
      let loss = 0, tokens = 0;
      for (let micro = 0; micro < c.gradAccum; micro++) {
        const b = buildBatch(train, rowsOf(micro), c.pack);
        // the dropout stream of the global micro-batch index, as one rank accumulating every batch would draw
        if (adapter) { adapter.step = step; adapter.micro = micro * world + rank; }
        const out = forwardBatch(model, b, c.activationRecomputation);
        loss += out.loss!.item() / c.gradAccum;
        tokens += b.tokens;
        backward(out.loss!, c.gradAccum > 1 ? Tensor.from([1 / c.gradAccum], []) : undefined);
      }
      state.loader.position += perStep;
      if (world > 1) { const [l, n] = optimizer.sum([loss, tokens]); loss = l! / world; tokens = n!; }
      if (!Number.isFinite(loss)) throw new Error(`step ${step}: loss is ${loss}; stopping (the last checkpoint is ${lastCheckpoint || 'none'})`);
      const gradNorm = optimizer.step(lr, c.gradClip);
      state.step = step;
      state.tokensSeen += tokens;
      const dt = (performance.now() - t0) / 1000;
      state.elapsedSeconds += dt;
      const m: SftMetrics = { step, epoch, loss, lr, grad_norm: gradNorm, tokens, tokens_per_s: tokens / dt, elapsed_s: state.elapsedSeconds };
      if (val.length && (step % c.evalEvery === 0 || step === totalSteps)) m.val_loss = lastVal = evaluateExamples(model, val, c.batchSize, adapter);
      metrics.push(m);
      if (writer) fs.appendFileSync(metricsFile, JSON.stringify(m) + '\n');
      lastLoss = loss;
      const eta = ((totalSteps - step) * state.elapsedSeconds) / Math.max(1, step);
      log(`step ${step}/${totalSteps} epoch ${epoch + 1} loss ${loss.toFixed(4)} lr ${lr.toExponential(2)} gnorm ${gradNorm.toFixed(3)} ${(tokens / dt).toFixed(0)} tok/s ETA ${eta.toFixed(0)}s${m.val_loss !== undefined ? ` val ${m.val_loss.toFixed(4)}` : ''}`,
        m.val_loss !== undefined || step === 1 || step % Math.max(1, Math.floor(totalSteps / 10)) === 0);
      // yield once per step so a SIGINT handler can run
      await new Promise((r) => setImmediate(r));
      const stopHere = optimizer.any(interrupted) || hooks.stopAfter === step;
      if (stopHere && !interrupted && hooks.stopAfter !== step) { interrupted = true; log('interrupt on another rank: saving a checkpoint after this step…', true); }
      if (step % c.checkpointEvery === 0 || stopHere) save();
      if (stopHere) break;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (interrupted) process.exitCode = 130;
  const finished = state.step >= totalSteps;
  if (finished) {
    // the result: a model folder, or a PEFT adapter folder
    if (writer) {
      if (adapter) adapter.save(c.out, path.resolve(c.model));
      else saveModel(model, c.out, { tokenizerModel: tokFile, generationConfig: readGenerationConfig(c.model) });
    }
    if (state.step % c.checkpointEvery !== 0) save();
  }
  if (writer) writePlot(c.out, metrics);
  return { step: state.step, lastLoss, valLoss: lastVal, checkpoint: lastCheckpoint, out: c.out, metrics, examples: train.length, valExamples: val.length };
}

function writePlot(out: string, metrics: SftMetrics[]): void {
  fs.writeFileSync(path.join(out, 'loss.svg'), lossSvg([
    { name: 'train loss', color: '#1f77b4', points: metrics.map((m) => [m.step, m.loss]) },
    { name: 'validation loss', color: '#d62728', points: metrics.filter((m) => m.val_loss !== undefined).map((m) => [m.step, m.val_loss!]) },
  ], 'Baichuan 2 supervised fine-tuning'));
}
