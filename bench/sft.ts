// `baichuan2 bench sft`: fine-tuning step throughput.
//   shape run   the `bench train` shape (8 layers, hidden 512, vocab 32000,
//               batch 4 x 256), one official SFT step (bf16 weights + fp32
//               masters, recomputation, AdamW 0.9/0.98, clip 1): full and LoRA
//               (official W_pack r 1 alpha 32 dropout 0.1); tokens/s.
//   --model     a model folder (bf16 or quantised by `baichuan2 quantize`):
//               LoRA steps at batch 1 x 512 (default), tokens/s and the
//               process's peak RSS (run one folder per process so the peak is its own).
// Every step is forward + backward + clip + AdamW on a batch of official SFT
// targets (assistant tokens only), median of the timed steps.
import { Tensor } from '../src/engine/tensor.js';
import { backward } from '../src/engine/autograd.js';
import { clipGradNorm } from '../src/engine/ops/optim.js';
import { configFromJSON } from '../src/model/config.js';
import { BaichuanForCausalLM } from '../src/model/baichuan.js';
import { loadModel } from '../src/io/hf-folder.js';
import { AdamW } from '../src/train/optimizer.js';
import { LoraAdapter, OFFICIAL_LORA } from '../src/align/lora.js';
import { forwardBatch } from '../src/align/sft.js';
import type { SftBatch } from '../src/align/batches.js';
import { machineInfo, machineLine } from './machine.js';
import { TRAIN_BENCH_SHAPE } from './train.js';

export interface SftBenchRow { what: string; mode: 'full' | 'lora'; batch: string; tokens_per_s: number; step_s: number; trainable: number; peak_rss_gib: number }

/** A batch of one user turn (first quarter) and one assistant turn per row, labels on the assistant part. */
function syntheticBatch(B: number, T: number, V: number): SftBatch {
  const inputs = new Int32Array(B * T), targets = new Int32Array(B * T).fill(-100);
  const r = Tensor.randFast([B * T], 7, 3, V - 1).f32();
  for (let i = 0; i < B * T; i++) inputs[i] = Math.floor(r[i]!);
  for (let b = 0; b < B; b++) {
    inputs[b * T] = 195;
    inputs[b * T + T / 4] = 196;
    for (let t = T / 4; t < T - 1; t++) targets[b * T + t] = inputs[b * T + t + 1]!;
  }
  return { B, T, inputs, targets, positions: null, segments: null, tokens: B * T, lossTokens: B * (T - T / 4 - 1) };
}

function timeSteps(model: BaichuanForCausalLM, adapter: LoraAdapter | null, b: SftBatch, steps: number, log: (s: string) => void, label: string): number {
  const params: [string, Tensor][] = adapter ? adapter.namedParameters() : [...model.namedParameters()];
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 1e-4 });
  model.train();
  const times: number[] = [];
  for (let i = 0; i < steps + 1; i++) {
    const t = performance.now();
    for (const [, p] of params) p.grad = null;
    if (adapter) adapter.step = i + 1;
    const out = forwardBatch(model, b, true);
    backward(out.loss!);
    clipGradNorm(params.map(([, p]) => p), 1.0);
    opt.update(2e-5);
    const dt = (performance.now() - t) / 1000;
    log(`${label} step ${i + 1}/${steps + 1}: ${dt.toFixed(2)} s, peak RSS ${rssGiB().toFixed(2)} GiB${i === 0 ? ' (warm-up, not timed)' : ''}`);
    if (i >= 1) times.push(dt);
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)]!;
}

const rssGiB = () => (process.resourceUsage().maxRSS * 1024) / 2 ** 30;

export function benchSftShape(steps: number, log: (s: string) => void = () => {}): SftBenchRow[] {
  const s = TRAIN_BENCH_SHAPE;
  const cfg = configFromJSON({ vocab_size: s.vocab, hidden_size: s.hidden, intermediate_size: s.ffn, num_hidden_layers: s.layers, num_attention_heads: s.heads, max_position_embeddings: s.seq, z_loss_weight: 0, position_embedding: 'rope' });
  const b = syntheticBatch(s.batch, s.seq, s.vocab);
  const rows: SftBenchRow[] = [];
  for (const mode of ['full', 'lora'] as const) {
    const model = new BaichuanForCausalLM(cfg).initWeights(1, 'bf16');
    const adapter = mode === 'lora' ? LoraAdapter.attach(model, OFFICIAL_LORA, 0) : null;
    const dt = timeSteps(model, adapter, b, steps, log, `bench-train shape, ${mode}`);
    const trainable = adapter ? adapter.namedParameters().reduce((n, [, p]) => n + p.size, 0) : model.parameterCount();
    rows.push({ what: `bench train shape (bf16)`, mode, batch: `${s.batch} × ${s.seq}`, tokens_per_s: (s.batch * s.seq) / dt, step_s: dt, trainable, peak_rss_gib: rssGiB() });
  }
  return rows;
}

/** LoRA (official targets unless given) steps on a model folder. */
export function benchSftFolder(dir: string, o: { steps: number; batch: number; seq: number; r?: number }, log: (s: string) => void = () => {}): SftBenchRow {
  const t0 = performance.now();
  const model = loadModel(dir);
  const quant = model.model.layers[0]!.self_attn.W_pack.quantized;
  log(`loaded ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s (${quant ? `${quant.bits}-bit base` : model.model.embedTokens.dtype}), peak RSS ${rssGiB().toFixed(2)} GiB`);
  const adapter = LoraAdapter.attach(model, { ...OFFICIAL_LORA, r: o.r ?? OFFICIAL_LORA.r }, 0);
  const b = syntheticBatch(o.batch, o.seq, model.config.vocabSize);
  const dt = timeSteps(model, adapter, b, o.steps, log, dir);
  return { what: `${dir} (${quant ? `${quant.bits}-bit` : model.model.embedTokens.dtype} base)`, mode: 'lora', batch: `${o.batch} × ${o.seq}`, tokens_per_s: (o.batch * o.seq) / dt, step_s: dt, trainable: adapter.namedParameters().reduce((n, [, p]) => n + p.size, 0), peak_rss_gib: rssGiB() };
}

export function sftReport(rows: SftBenchRow[], threads: number): string {
  return [`### bench sft — ${machineLine(machineInfo())}`, '',
    `One SFT step = forward + backward (activation recomputation on) + clip 1.0 + AdamW (0.9, 0.98), official targets (assistant tokens); LoRA = W_pack r 1 α 32 dropout 0.1 unless noted; median of the timed steps; ${threads} kernel threads. Peak RSS is the whole process's so far.`, '',
    '| model | mode | batch | tokens/s | s/step | trainable params | peak RSS (GiB) |', '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.what} | ${r.mode} | ${r.batch} | ${r.tokens_per_s.toFixed(1)} | ${r.step_s.toFixed(2)} | ${r.trainable.toLocaleString('en-US')} | ${r.peak_rss_gib.toFixed(2)} |`)].join('\n') + '\n';
}
