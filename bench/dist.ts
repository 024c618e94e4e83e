// `baichuan2 bench dist`: data-parallel training throughput on the `bench
// train` shape (bench/train.ts) for 1 rank and for N ranks (plain data
// parallel and ZeRO-1), and the bytes each rank sends per step. Every
// configuration runs as real ranks under the launcher (src/distributed/launch.ts),
// which gives each rank cores / N kernel threads: on one machine the ranks
// share its cores, so this measures the communication and synchronisation
// cost of data parallelism, not a speed-up (that needs more machines or cores
// than ranks). Batch per rank = the `bench train` batch; tokens/s counts the
// global batch. Bytes are the ring accounting of src/distributed/communicator.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor } from '../src/engine/tensor.js';
import { backward } from '../src/engine/autograd.js';
import { backend } from '../src/engine/backend.js';
import { configFromJSON } from '../src/model/config.js';
import { BaichuanForCausalLM } from '../src/model/baichuan.js';
import { stepStrategy } from '../src/train/parallel.js';
import { communicatorFromEnv } from '../src/distributed/env.js';
import { launch } from '../src/distributed/launch.js';
import { TRAIN_BENCH_SHAPE } from './train.js';
import { machineInfo, machineLine } from './machine.js';

export interface DistRankResult { world: number; zeroStage: 0 | 1; threads: number; params: number; stepSeconds: number; tokensPerS: number; sentBytesPerStep: number; payloadBytesPerStep: number }

/** One rank's part (run under the launcher): timed optimizer steps; rank 0 writes the result to `out`. */
export async function benchDistRank(o: { out: string; steps: number; zeroStage: 0 | 1 }): Promise<void> {
  const s = TRAIN_BENCH_SHAPE;
  const comm = await communicatorFromEnv();
  try {
    const rank = comm?.rank ?? 0, world = comm?.worldSize ?? 1;
    const cfg = configFromJSON({ vocab_size: s.vocab, hidden_size: s.hidden, intermediate_size: s.ffn, num_hidden_layers: s.layers, num_attention_heads: s.heads, max_position_embeddings: s.seq, z_loss_weight: 2e-4, position_embedding: 'rope' });
    const model = new BaichuanForCausalLM(cfg).initWeights(1, 'f32').train();
    const params = [...model.namedParameters()];
    const opt = stepStrategy(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }, comm ? { comm, zeroStage: o.zeroStage } : undefined);
    const ids = Tensor.randFast([s.batch * s.seq], 2 + rank, 0, s.vocab).f32();
    const inputs = Tensor.from(Int32Array.from(ids, Math.floor), [s.batch, s.seq], 'i32');
    const targets = Tensor.from(Int32Array.from(ids, (v) => (Math.floor(v) * 7 + 1) % s.vocab), [s.batch, s.seq], 'i32');
    const times: number[] = [];
    let sent0 = 0, payload0 = 0;
    for (let i = 0; i < o.steps + 1; i++) {
      if (i === 1) { sent0 = comm?.stats.sentBytes ?? 0; payload0 = comm?.stats.payloadBytes ?? 0; }
      const t = performance.now();
      for (const [, p] of params) p.grad = null;
      backward(model.forward(inputs, { targets }).loss!);
      opt.step(1e-4, 0.5);
      if (i >= 1) times.push((performance.now() - t) / 1000);  // the first step warms up
    }
    times.sort((a, b) => a - b);
    const step = times[Math.floor(times.length / 2)]!;
    const r: DistRankResult = {
      world, zeroStage: o.zeroStage, threads: backend().threads(), params: params.reduce((n, [, p]) => n + p.size, 0), stepSeconds: step,
      tokensPerS: (world * s.batch * s.seq) / step,
      sentBytesPerStep: ((comm?.stats.sentBytes ?? 0) - sent0) / o.steps, payloadBytesPerStep: ((comm?.stats.payloadBytes ?? 0) - payload0) / o.steps,
    };
    if (rank === 0) fs.writeFileSync(o.out, JSON.stringify(r));
  } finally {
    comm?.close();
  }
}

/** Launch each configuration as real ranks and collect rank 0's numbers. */
export async function benchDist(o: { script: string; nproc: number; steps: number; log?: (s: string) => void }): Promise<DistRankResult[]> {
  const log = o.log ?? (() => {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-bench-dist-'));
  const rows: DistRankResult[] = [];
  try {
    for (const [nproc, zero] of [[1, 0], [o.nproc, 0], [o.nproc, 1]] as const) {
      const out = path.join(dir, `r${nproc}-${zero}.json`);
      log(`${nproc} rank(s)${zero ? ', ZeRO-1' : ''}: ${o.steps} timed steps…`);
      const r = await launch({ nproc, script: o.script, args: ['bench', 'dist', '--rank-out', out, '--steps', String(o.steps), '--zero-stage', String(zero)], log });
      if (r.code !== 0 || !fs.existsSync(out)) throw new Error(`bench dist: the ${nproc}-rank run failed (exit ${r.code})`);
      const row = JSON.parse(fs.readFileSync(out, 'utf8')) as DistRankResult;
      log(`  ${row.tokensPerS.toFixed(0)} tokens/s, ${(row.sentBytesPerStep / 2 ** 20).toFixed(1)} MiB sent per rank per step`);
      rows.push(row);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function distReport(rows: DistRankResult[]): string {
  const s = TRAIN_BENCH_SHAPE, base = rows[0]!.tokensPerS, cores = os.availableParallelism();
  return [`### bench dist — ${machineLine(machineInfo())}`, '',
    `The \`bench train\` shape (${s.layers} layers, hidden ${s.hidden}, vocab ${s.vocab}, ${(rows[0]!.params / 1e6).toFixed(1)} M parameters, f32), batch ${s.batch} × ${s.seq} per rank; Gloo over loopback TCP; median step (forward + backward + gradient sync + clip + AdamW). ` +
    `This machine has ${cores} cores: the ranks share them (threads per rank below), so more ranks here cannot be faster; the numbers give the cost of the synchronisation and of the bytes moved.`, '',
    '| ranks | optimizer | threads/rank | step ms | tokens/s (global) | vs 1 rank | MiB sent per rank per step | MiB handed to collectives per step |', '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.world} | ${r.world === 1 ? 'AdamW' : r.zeroStage ? 'ZeRO-1' : 'DP all-reduce'} | ${r.threads} | ${(1000 * r.stepSeconds).toFixed(0)} | ${r.tokensPerS.toFixed(0)} | ${(r.tokensPerS / base).toFixed(2)} | ${(r.sentBytesPerStep / 2 ** 20).toFixed(1)} | ${(r.payloadBytesPerStep / 2 ** 20).toFixed(1)} |`)].join('\n') + '\n';
}
