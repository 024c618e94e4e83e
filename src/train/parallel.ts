// The optimizer step of one or many ranks: the seam between the training
// loops (trainer.ts, align/sft.ts, which stay single loops) and data
// parallelism. After the micro-batches' backward passes a loop calls
// `step(lr, clip)`; the strategy makes the gradients global, clips on the
// global norm and runs AdamW:
//   LocalStep      one rank: clip + AdamW (the behaviour of a plain run).
//   DataParallel   all-reduce (average) the gradients in buckets, then clip +
//                  AdamW on every rank (DDP; every rank holds the full state).
//   Zero1          ZeRO stage 1, as llm.c's zero.cuh: reduce-scatter the
//                  flattened gradients, so each rank owns 1/W of them; the
//                  global norm from the shards' sums of squares; AdamW on the
//                  rank's shard of master weights and moments only; all-gather
//                  the updated parameters. Moments and masters take 1/W of the
//                  memory; the flat gradient buffer (N floats, also the gather
//                  target) is the price of an engine without a flat gradient
//                  arena (docs/DISTRIBUTED.md).
// The gradient of a global batch is the mean of the ranks' gradients (each the
// mean over its own micro-batches), as DDP computes it. Every rank starts from
// rank 0's weights (a broadcast at construction). Checkpoints get the full
// optimizer state in AdamW's own format (Zero1 gathers its shards first), so a
// checkpoint is the same whatever the world size or stage that wrote it.
import { Tensor } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { backend } from '../engine/backend.js';
import { clipGradNorm } from '../engine/ops/optim.js';
import { AdamW, type AdamWConfig } from './optimizer.js';
import type { Communicator } from '../distributed/communicator.js';

export interface ParallelOptions {
  comm: Communicator;
  /** 0: plain data parallel; 1: ZeRO-1 (optimizer state sharded). */
  zeroStage?: 0 | 1;
}

/** What a checkpoint writes of the optimizer (AdamW's format: `<name>.exp_avg`, `.exp_avg_sq`, `.master`). */
export interface OptimizerState {
  step: number;
  stateTensors(): [string, Tensor][];
}

export interface StepStrategy {
  readonly rank: number;
  readonly world: number;
  /** Gradients -> global mean, clip to `maxNorm` by the global norm, AdamW; returns the norm before clipping. */
  step(lr: number, maxNorm: number): number;
  /** Element-wise sum over ranks of a few numbers (float64). */
  sum(xs: number[]): number[];
  /** True on every rank when it is true on any (a stop request). */
  any(flag: boolean): boolean;
  /** Collective: the full optimizer state for a checkpoint. */
  checkpointState(): OptimizerState;
  loadState(t: Map<string, Tensor>, step: number): void;
  /** Bytes this rank has sent in collectives (ring accounting, see distributed/communicator.ts). */
  sentBytes(): number;
}

/** The strategy for `params`: local without a communicator (or a world of one), else data parallel or ZeRO-1. */
export function stepStrategy(params: [string, Tensor][], cfg: AdamWConfig, par?: ParallelOptions): StepStrategy {
  if (!par || par.comm.worldSize === 1) return new LocalStep(params, cfg);
  broadcastParameters(par.comm, params);
  return par.zeroStage === 1 ? new Zero1(params, cfg, par.comm) : new DataParallel(params, cfg, par.comm);
}

/** Make every rank's parameters rank 0's (a fresh init is already identical; this guards against any drift). */
function broadcastParameters(comm: Communicator, params: [string, Tensor][]): void {
  for (const [name, p] of params) {
    if (!p.isContiguous() || (p.dtype !== 'f32' && p.dtype !== 'bf16')) throw new Error(`data parallel: parameter ${name} must be a contiguous f32 or bf16 tensor`);
    comm.broadcast(p.data.subarray(p.offset, p.offset + p.size) as Float32Array | Uint16Array, 0);
  }
}

/** The gradient buffer of `p` (a zero one when backward gave it none, so every rank reduces the same buffers). */
function gradOf(name: string, p: Tensor): Float32Array {
  if (!p.grad) p.grad = Tensor.zeros([...p.shape]);
  if (p.grad.dtype !== 'f32' || !p.grad.isContiguous()) throw new Error(`data parallel: gradient of ${name} must be contiguous f32`);
  return p.grad.f32();
}

class LocalStep implements StepStrategy {
  readonly optimizer: AdamW;
  constructor(readonly params: [string, Tensor][], cfg: AdamWConfig, readonly comm?: Communicator) {
    this.optimizer = new AdamW(params, cfg);
  }
  get rank(): number { return this.comm?.rank ?? 0; }
  get world(): number { return this.comm?.worldSize ?? 1; }
  step(lr: number, maxNorm: number): number {
    const norm = clipGradNorm(this.params.map(([, p]) => p), maxNorm);
    this.optimizer.update(lr);
    return norm;
  }
  sum(xs: number[]): number[] {
    if (!this.comm) return xs;
    const b = Float64Array.from(xs);
    this.comm.allReduce(b, 'sum');
    return Array.from(b);
  }
  any(flag: boolean): boolean {
    return this.comm ? this.sum([flag ? 1 : 0])[0]! > 0 : flag;
  }
  checkpointState(): OptimizerState { return this.optimizer; }
  loadState(t: Map<string, Tensor>, step: number): void { this.optimizer.loadStateTensors(t, step); }
  sentBytes(): number { return this.comm?.stats.sentBytes ?? 0; }
}

/** Elements per all-reduce bucket (16 MiB of f32): bounds the extra memory, amortises per-call latency. */
const BUCKET = 1 << 22;

class DataParallel extends LocalStep {
  private bucket: Float32Array | null = null;
  constructor(params: [string, Tensor][], cfg: AdamWConfig, comm: Communicator) { super(params, cfg, comm); }

  override step(lr: number, maxNorm: number): number {
    this.allReduceGrads();
    return super.step(lr, maxNorm);
  }

  /** Average every gradient over the ranks, packed into buckets in parameter order. */
  private allReduceGrads(): void {
    const total = this.params.reduce((s, [, p]) => s + p.size, 0);
    const bucket = (this.bucket ??= new Float32Array(Math.min(total, BUCKET)));
    const parts: { g: Float32Array; from: number; at: number; n: number }[] = [];
    let fill = 0;
    const flush = () => {
      if (!fill) return;
      this.comm!.allReduce(bucket.subarray(0, fill), 'avg');
      for (const s of parts) s.g.set(bucket.subarray(s.at, s.at + s.n), s.from);
      parts.length = 0;
      fill = 0;
    };
    for (const [name, p] of this.params) {
      const g = gradOf(name, p);
      for (let from = 0; from < g.length;) {
        const n = Math.min(g.length - from, bucket.length - fill);
        bucket.set(g.subarray(from, from + n), fill);
        parts.push({ g, from, at: fill, n });
        fill += n;
        from += n;
        if (fill === bucket.length) flush();
      }
    }
    flush();
  }
}

/** The part of one parameter inside this rank's shard: elements [a, b) of the parameter, at `at` in the shard. */
interface Segment { name: string; p: Tensor; a: number; b: number; at: number; decays: boolean }

class Zero1 implements StepStrategy {
  readonly rank: number;
  readonly world: number;
  private t = 0;
  private readonly offsets: number[] = [];
  private readonly shard: number;  // S: elements per rank (the flat length padded to W S)
  private readonly lo: number;
  private readonly g: Float32Array;  // [W S] flat gradients
  private readonly m: Float32Array;  // [S] moments of this rank's shard
  private readonly v: Float32Array;
  private readonly master: Float32Array | null;  // [S] fp32 masters of a bf16 model's shard
  private readonly segments: Segment[] = [];
  private readonly bf16: boolean;
  private readonly sendBuf: Float32Array | Uint16Array;  // [S] this rank's updated parameters
  private readonly total: number;  // N: elements of all parameters

  constructor(readonly params: [string, Tensor][], readonly cfg: AdamWConfig, readonly comm: Communicator) {
    this.rank = comm.rank;
    this.world = comm.worldSize;
    const dtypes = new Set(params.map(([, p]) => p.dtype));
    if (dtypes.size !== 1 || !(dtypes.has('f32') || dtypes.has('bf16'))) throw new Error(`ZeRO-1: parameters must all be f32 or all bf16 (got ${[...dtypes].join(', ')})`);
    this.bf16 = dtypes.has('bf16');
    let n = 0;
    for (const [, p] of params) { this.offsets.push(n); n += p.size; }
    this.shard = Math.ceil(n / this.world);
    this.lo = this.rank * this.shard;
    const hi = Math.min(n, this.lo + this.shard);
    this.g = new Float32Array(this.shard * this.world);
    this.m = new Float32Array(this.shard);
    this.v = new Float32Array(this.shard);
    params.forEach(([name, p], i) => {
      const off = this.offsets[i]!;
      const a = Math.max(this.lo, off) - off, b = Math.min(hi, off + p.size) - off;
      if (b > a) this.segments.push({ name, p, a, b, at: off + a - this.lo, decays: AdamW.decays(name, p) });
    });
    this.master = this.bf16 ? new Float32Array(this.shard) : null;
    this.sendBuf = this.bf16 ? new Uint16Array(this.shard) : new Float32Array(this.shard);
    this.total = n;
    if (this.master) for (const s of this.segments) this.master.set(s.p.f32().subarray(s.a, s.b), s.at);
  }

  step(lr: number, maxNorm: number): number {
    this.t++;
    const { g, shard, lo } = this;
    // the autograd gradients are copied into the flat buffer and released (the update needs only the flat copy)
    this.params.forEach(([name, p], i) => { g.set(gradOf(name, p), this.offsets[i]!); p.grad = null; });
    g.fill(0, this.total);  // the padding (the last all-gather reused this buffer)
    this.comm.reduceScatter(g, 'avg');
    const mine = g.subarray(lo, lo + shard);
    const norm = Math.sqrt(this.sum([backend().sumsq(mine)])[0]!);
    const coef = maxNorm / (norm + 1e-6);  // clipGradNorm's rule, on the global norm
    if (coef < 1) {
      const c = Math.fround(coef);
      for (let i = 0; i < mine.length; i++) mine[i] = mine[i]! * c;
    }
    const step = this.t;
    const bc1 = 1 - this.cfg.beta1 ** step, bc2 = 1 - this.cfg.beta2 ** step;
    noGrad(() => {
      for (const s of this.segments) {
        const h = { lr, beta1: this.cfg.beta1, beta2: this.cfg.beta2, eps: this.cfg.eps, weightDecay: s.decays ? this.cfg.weightDecay : 0, bc1, bc2 };
        const n = s.b - s.a, gs = mine.subarray(s.at, s.at + n), ms = this.m.subarray(s.at, s.at + n), vs = this.v.subarray(s.at, s.at + n);
        const own = s.p.data.subarray(s.p.offset + s.a, s.p.offset + s.b);
        if (this.master) backend().adamw(this.master.subarray(s.at, s.at + n), gs, ms, vs, h, own as Uint16Array);
        else backend().adamw(own as Float32Array, gs, ms, vs, h, null);
      }
    });
    this.gatherParameters();
    return norm;
  }

  /** Every rank's updated shard to every rank: the parameters are whole again. The gradient buffer is free by now: it receives them. */
  private gatherParameters(): void {
    const mine = this.sendBuf, full = this.bf16 ? new Uint16Array(this.g.buffer, this.g.byteOffset, this.g.length) : this.g;
    for (const s of this.segments) mine.set(s.p.data.subarray(s.p.offset + s.a, s.p.offset + s.b), s.at);
    this.comm.allGather(mine, full);
    this.params.forEach(([, p], i) => {
      const off = this.offsets[i]!;
      p.data.set(full.subarray(off, off + p.size), p.offset);
    });
  }

  sum(xs: number[]): number[] {
    const b = Float64Array.from(xs);
    this.comm.allReduce(b, 'sum');
    return Array.from(b);
  }

  any(flag: boolean): boolean {
    return this.sum([flag ? 1 : 0])[0]! > 0;
  }

  private gather(part: Float32Array): Float32Array {
    const full = new Float32Array(this.shard * this.world);
    this.comm.allGather(part, full);
    return full;
  }

  checkpointState(): OptimizerState {
    const m = this.gather(this.m), v = this.gather(this.v), master = this.master ? this.gather(this.master) : null;
    const out: [string, Tensor][] = [];
    this.params.forEach(([name, p], i) => {
      const off = this.offsets[i]!, sl = (x: Float32Array) => Tensor.from(x.slice(off, off + p.size), [...p.shape]);
      out.push([`${name}.exp_avg`, sl(m)], [`${name}.exp_avg_sq`, sl(v)]);
      if (master) out.push([`${name}.master`, sl(master)]);
    });
    return { step: this.t, stateTensors: () => out };
  }

  loadState(t: Map<string, Tensor>, step: number): void {
    this.t = step;
    for (const s of this.segments) {
      const get = (k: string) => {
        const x = t.get(`${s.name}.${k}`);
        if (!x || x.size !== s.p.size || x.dtype !== 'f32') throw new Error(`optimizer state: '${s.name}.${k}' is missing or has the wrong size`);
        return x.f32().subarray(s.a, s.b);
      };
      this.m.set(get('exp_avg'), s.at);
      this.v.set(get('exp_avg_sq'), s.at);
      if (this.master) this.master.set(get('master'), s.at);
    }
  }

  sentBytes(): number { return this.comm.stats.sentBytes; }
}
