// The run folder of a preference trainer (DPO, reward model, PPO), on the
// pre-training trainer's conventions (src/train): metrics.jsonl with one row per
// optimizer step (rows after a resumed checkpoint are dropped, so the curve
// continues exactly), a loss plot, checkpoints published through
// checkpoints/latest.json (written to a temporary folder, then renamed), a
// SIGINT handler that finishes the step and saves, and a configuration hash
// that a resume must match.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { publishCheckpoint, latestCheckpoint } from '../../train/checkpoint.js';
import { writeSafetensors, readSafetensors } from '../../io/safetensors.js';
import { lossSvg } from '../../train/plot.js';
import { AdamW } from '../../train/optimizer.js';
import type { Tensor } from '../../engine/tensor.js';

export type MetricsRow = { step: number; loss: number } & Record<string, number>;

export interface RunState {
  step: number;
  configHash: string;
  elapsedSeconds: number;
  /** Trainer-specific resumable state (data order position, RNG state, …). */
  data: Record<string, unknown>;
}

/** A stable hash of the settings that change the result (not steps, out, logging, checkpoint cadence or threads). */
export function hashConfig(c: Record<string, unknown>): string {
  const skip = new Set(['steps', 'out', 'checkpointEvery', 'keepCheckpoints', 'threads', 'evalEvery', 'logEvery']);
  const rest = Object.fromEntries(Object.entries(c).filter(([k]) => !skip.has(k)));
  return crypto.createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

export class Run {
  readonly metricsFile: string;
  readonly metrics: MetricsRow[] = [];
  interrupted = false;
  private readonly onSigint = () => { this.interrupted = true; this.log('interrupt: saving a checkpoint after this step…', true); };

  constructor(readonly out: string, readonly title: string, readonly log: (line: string, final?: boolean) => void) {
    fs.mkdirSync(out, { recursive: true });
    this.metricsFile = path.join(out, 'metrics.jsonl');
  }

  /** The checkpoint to resume from (or null), checked against the config hash. */
  resumeFrom(resume: boolean, hash: string): { dir: string; state: RunState } | null {
    const dir = resume ? latestCheckpoint(this.out) : null;
    if (resume && !dir) this.log(`no checkpoint in ${this.out}: starting from scratch`, true);
    if (!dir) {
      fs.writeFileSync(this.metricsFile, '');
      return null;
    }
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'run_state.json'), 'utf8')) as RunState;
    if (state.configHash !== hash) throw new Error(`--resume: ${dir} was trained with a different configuration (hash ${state.configHash}, now ${hash}); only steps, out, evalEvery, checkpointEvery, keepCheckpoints and threads may change`);
    const rows = fs.existsSync(this.metricsFile)
      ? fs.readFileSync(this.metricsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as MetricsRow).filter((m) => m.step <= state.step)
      : [];
    this.metrics.push(...rows);
    fs.writeFileSync(this.metricsFile, rows.map((m) => JSON.stringify(m) + '\n').join(''));
    this.log(`resumed from ${dir} (step ${state.step})`, true);
    return { dir, state };
  }

  record(row: MetricsRow): void {
    this.metrics.push(row);
    fs.appendFileSync(this.metricsFile, JSON.stringify(row) + '\n');
  }

  start(): void {
    process.on('SIGINT', this.onSigint);
  }

  stop(): void {
    process.off('SIGINT', this.onSigint);
    if (this.interrupted) process.exitCode = 130;
  }

  /**
   * The end of an optimizer step: yield to the event loop (so SIGINT is seen),
   * save on the checkpoint cadence, at the last step or when stopping, and say
   * whether the loop stops (interrupted, or the test hook's stopAfter step).
   */
  async endStep(step: number, steps: number, every: number, stopAfter: number | undefined, save: () => void): Promise<boolean> {
    await new Promise((r) => setImmediate(r));
    const stop = this.interrupted || stopAfter === step;
    if (step % every === 0 || step === steps || stop) save();
    return stop;
  }

  /**
   * Save a checkpoint: `writeModels(dir)` writes the model folder(s) into the
   * temporary folder, then the optimizers' states and the run state go beside them.
   */
  checkpoint(state: RunState, writeModels: (dir: string) => void, optimizers: Record<string, AdamW>, keep: number): string {
    const final = publishCheckpoint(this.out, state.step, keep, (tmp) => {
      writeModels(tmp);
      for (const [key, opt] of Object.entries(optimizers)) writeSafetensors(path.join(tmp, `optimizer-${key}.safetensors`), opt.stateTensors(), { step: String(opt.step) });
      fs.writeFileSync(path.join(tmp, 'run_state.json'), JSON.stringify(state, null, 2) + '\n');
    });
    this.plot();
    return final;
  }

  plot(series: { key: string; name: string; color: string }[] = [{ key: 'loss', name: 'loss', color: '#1f77b4' }]): void {
    fs.writeFileSync(path.join(this.out, 'loss.svg'), lossSvg(series.map((s) => ({ name: s.name, color: s.color, points: this.metrics.filter((m) => Number.isFinite(m[s.key])).map((m) => [m.step, m[s.key]!] as [number, number]) })), this.title));
  }
}

/** Restore an optimizer saved by Run.checkpoint. */
export function loadOptimizer(dir: string, key: string, opt: AdamW, step: number): void {
  opt.loadStateTensors(readSafetensors(path.join(dir, `optimizer-${key}.safetensors`)), step);
}

/** Fisher–Yates order of 0..n-1 for epoch `epoch` from `seed` (a resumable data order: (epoch, position) is the whole state). */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let s = (seed * 2654435761 + epoch * 40503 + 12345) >>> 0;
  const next = () => { s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0; s ^= s >>> 12; return s / 4294967296; };
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = order[i]!; order[i] = order[j]!; order[j] = t;
  }
  return order;
}

/** Draws batches of indices in a shuffled order per epoch; its position is resumable state. */
export class IndexLoader {
  epoch = 0;
  position = 0;
  private order: Int32Array;
  constructor(readonly n: number, readonly seed: number) {
    if (n < 1) throw new Error('no training examples');
    this.order = epochOrder(n, seed, 0);
  }
  next(k: number): number[] {
    const out: number[] = [];
    while (out.length < k) {
      if (this.position >= this.n) { this.epoch++; this.position = 0; this.order = epochOrder(this.n, this.seed, this.epoch); }
      out.push(this.order[this.position++]!);
    }
    return out;
  }
  state(): { epoch: number; position: number } { return { epoch: this.epoch, position: this.position }; }
  restore(s: { epoch: number; position: number }): void {
    this.epoch = s.epoch;
    this.position = s.position;
    this.order = epochOrder(this.n, this.seed, this.epoch);
  }
}

/**
 * The optimizer and data order of a pairwise trainer (DPO, reward model), restored
 * from `resumed` when there is one: the step and elapsed time it continues from.
 */
export function startPairTraining(params: [string, Tensor][], c: { beta1: number; beta2: number; eps: number; weightDecay: number; seed: number },
  count: number, resumed: { dir: string; state: RunState } | null, key: string): { opt: AdamW; loader: IndexLoader; step: number; elapsed: number } {
  const opt = new AdamW(params, { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay });
  const loader = new IndexLoader(count, c.seed);
  if (!resumed) return { opt, loader, step: 0, elapsed: 0 };
  loadOptimizer(resumed.dir, key, opt, resumed.state.step);
  loader.restore(resumed.state.data.loader as { epoch: number; position: number });
  return { opt, loader, step: resumed.state.step, elapsed: resumed.state.elapsedSeconds };
}
