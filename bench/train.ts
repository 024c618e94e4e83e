// `baichuan2 bench train`: training tokens/s and MFU of one optimizer step
// (forward, backward, clip, AdamW) for a small Baichuan 2, and the same step
// in PyTorch CPU (bench/torch_train_step.py) in the same run.
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../src/engine/tensor.js';
import { backward } from '../src/engine/autograd.js';
import { clipGradNorm } from '../src/engine/ops/optim.js';
import { backend } from '../src/engine/backend.js';
import { configFromJSON } from '../src/model/config.js';
import { BaichuanForCausalLM } from '../src/model/baichuan.js';
import { AdamW } from '../src/train/optimizer.js';
import { flopsPerToken, measuredPeakFlops } from '../src/train/trainer.js';
import { machineInfo, machineLine } from './machine.js';
import { pythonWith } from './model.js';

export const TRAIN_BENCH_SHAPE = { layers: 8, hidden: 512, heads: 8, ffn: 1376, vocab: 32000, batch: 4, seq: 256 };

export interface TrainBenchRow { dtype: 'f32' | 'bf16'; tokens_per_s: number; mfu: number; torch_tokens_per_s: number | null; ratio: number | null }

export function benchTrain(dtype: 'f32' | 'bf16', steps: number, log: (s: string) => void = () => {}): TrainBenchRow {
  const s = TRAIN_BENCH_SHAPE;
  const cfg = configFromJSON({ vocab_size: s.vocab, hidden_size: s.hidden, intermediate_size: s.ffn, num_hidden_layers: s.layers, num_attention_heads: s.heads, max_position_embeddings: s.seq, z_loss_weight: 2e-4, position_embedding: 'rope' });
  const model = new BaichuanForCausalLM(cfg).initWeights(1, dtype).train();
  const params = [...model.namedParameters()];
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const ids = Tensor.randFast([s.batch * s.seq], 2, 0, s.vocab).f32();
  const inputs = Tensor.from(Int32Array.from(ids, Math.floor), [s.batch, s.seq], 'i32');
  const targets = Tensor.from(Int32Array.from(ids, (v) => (Math.floor(v) * 7 + 1) % s.vocab), [s.batch, s.seq], 'i32');
  const times: number[] = [];
  for (let i = 0; i < steps + 2; i++) {
    const t = performance.now();
    for (const [, p] of params) p.grad = null;
    const out = model.forward(inputs, { targets });
    backward(out.loss!);
    clipGradNorm(params.map(([, p]) => p), 0.5);
    opt.update(1e-4);
    if (i >= 2) times.push((performance.now() - t) / 1000);
  }
  times.sort((a, b) => a - b);
  const tps = (s.batch * s.seq) / times[Math.floor(times.length / 2)]!;
  const mfu = (tps * flopsPerToken(cfg, s.seq)) / measuredPeakFlops();
  log(`ours ${dtype}: ${tps.toFixed(0)} tokens/s (MFU ${(100 * mfu).toFixed(1)}% of the measured GEMM peak)`);
  let torch: number | null = null;
  const py = pythonWith('torch');
  if (py) {
    const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/torch_train_step.py');
    // OpenBLAS (if this torch uses it) picks its own kernel: the environment's overrides are removed for this command only
    const env = { ...process.env };
    delete env['OPENBLAS_CORETYPE'];
    delete env['OPENBLAS_L2_SIZE'];
    const r = spawnSync(py, [script, JSON.stringify({ ...s, steps, dtype, threads: backend().threads() })], { encoding: 'utf8', env });
    if (r.status === 0) torch = (JSON.parse(r.stdout.trim().split('\n').pop()!) as { tokens_per_s: number }).tokens_per_s;
    else log(`PyTorch run failed: ${r.stderr.trim().split('\n').pop()}`);
    if (torch) log(`PyTorch ${dtype}: ${torch.toFixed(0)} tokens/s`);
  } else {
    log('PyTorch not installed (apt-get install python3-torch): no reference in this run');
  }
  return { dtype, tokens_per_s: tps, mfu, torch_tokens_per_s: torch, ratio: torch ? tps / torch : null };
}

export function trainReport(rows: TrainBenchRow[]): string {
  const s = TRAIN_BENCH_SHAPE;
  return [`### bench train — ${machineLine(machineInfo())}`, '',
    `${s.layers} layers, hidden ${s.hidden}, ${s.heads} heads, ffn ${s.ffn}, vocab ${s.vocab}, batch ${s.batch} × ${s.seq}; one step = forward + backward + clip + AdamW; median of the timed steps.`, '',
    '| dtype | ours tokens/s | MFU (vs measured GEMM) | PyTorch tokens/s | ours / PyTorch |', '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.dtype} | ${r.tokens_per_s.toFixed(0)} | ${(100 * r.mfu).toFixed(1)}% | ${r.torch_tokens_per_s?.toFixed(0) ?? 'n/a'} | ${r.ratio?.toFixed(2) ?? 'n/a'} |`)].join('\n') + '\n';
}
