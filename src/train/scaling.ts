// The scaling-law experiment (SPEC §6), scaled down: train a ladder of small
// Baichuan 2 models on the same data with the same token budget and recipe,
// fit L(C) = a * C^b + L_inf to (training FLOPs, final validation loss),
// predict a larger model's loss, train it, and report predicted vs actual.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseTrainConfig, parseWith } from './config.js';
import { pretrain, flopsPerToken } from './trainer.js';
import { fitPowerLaw, evalPowerLaw, type PowerLaw } from './curve-fit.js';
import { configFromJSON, PRESETS } from '../model/config.js';
import { BaichuanForCausalLM } from '../model/baichuan.js';
import { readManifest } from '../data/shards.js';
import { lossSvg } from './plot.js';

const Shape = z.object({ hidden: z.number().int().positive(), ffn: z.number().int().positive(), layers: z.number().int().positive(), heads: z.number().int().positive() }).strict();

export const ScalingConfigSchema = z.object({
  data: z.string(),
  out: z.string(),
  /** Default: the paper's seven shapes (N_hidden, N_FFN = 3 N_hidden, layers, heads) scaled down. */
  ladder: z.array(Shape).min(3).default([
    { hidden: 32, ffn: 96, layers: 2, heads: 2 },
    { hidden: 48, ffn: 144, layers: 2, heads: 2 },
    { hidden: 64, ffn: 192, layers: 3, heads: 4 },
    { hidden: 96, ffn: 288, layers: 4, heads: 4 },
  ]),
  target: Shape.default({ hidden: 160, ffn: 480, layers: 5, heads: 5 }),
  tokens: z.number().int().positive().default(200_000),
  batchSize: z.number().int().positive().default(8),
  seqLen: z.number().int().min(2).default(64),
  peakLr: z.number().positive().default(3e-3),
  minLr: z.number().min(0).default(3e-4),
  warmupFraction: z.number().min(0).max(0.5).default(0.05),
  seed: z.number().int().min(0).default(0),
}).strict();

export type ScalingConfig = z.infer<typeof ScalingConfigSchema>;

export interface ScalingPoint { name: string; params: number; flops: number; valLoss: number; seconds: number }
export interface ScalingResult { points: ScalingPoint[]; fit: PowerLaw; target: ScalingPoint; predicted: number; relativeError: number }

export function parseScalingConfig(raw: unknown, where = 'scaling config'): ScalingConfig {
  const c = parseWith(ScalingConfigSchema, raw, where);
  for (const s of [...c.ladder, c.target]) if (s.hidden % s.heads || (s.hidden / s.heads) % 2) throw new Error(`${where}: hidden ${s.hidden} must split into ${s.heads} heads of even size`);
  return c;
}

export async function runScaling(c: ScalingConfig, log: (s: string, final?: boolean) => void = () => {}): Promise<ScalingResult> {
  const vocab = readManifest(c.data).tokenizer.vocabSize;
  const steps = Math.max(2, Math.round(c.tokens / (c.batchSize * c.seqLen)));
  const train = async (s: z.infer<typeof Shape>, name: string): Promise<ScalingPoint> => {
    const model = { preset: 'tiny', config: { hidden_size: s.hidden, intermediate_size: s.ffn, num_hidden_layers: s.layers, num_attention_heads: s.heads, max_position_embeddings: Math.max(256, c.seqLen), model_max_length: Math.max(256, c.seqLen) } };
    const cfg = parseTrainConfig({
      data: c.data, out: path.join(c.out, name), model, seed: c.seed, batchSize: c.batchSize, seqLen: c.seqLen, steps,
      warmupSteps: Math.round(steps * c.warmupFraction), peakLr: c.peakLr, minLr: c.minLr, evalEvery: steps, evalBatches: 8, checkpointEvery: steps, keepCheckpoints: 1,
    });
    const t0 = performance.now();
    const r = await pretrain(cfg, { log: (l, f) => log(`${name}: ${l}`, f) });
    const mcfg = configFromJSON({ ...PRESETS.tiny, ...model.config, vocab_size: vocab });
    const params = new BaichuanForCausalLM(mcfg).parameterCount();
    const point = { name, params, flops: flopsPerToken(mcfg, c.seqLen) * steps * c.batchSize * c.seqLen, valLoss: r.valLoss!, seconds: (performance.now() - t0) / 1000 };
    log(`${name}: ${(params / 1e6).toFixed(2)} M parameters, C = ${point.flops.toExponential(3)} FLOPs, validation loss ${point.valLoss.toFixed(4)}`, true);
    return point;
  };
  const points: ScalingPoint[] = [];
  for (const [i, s] of c.ladder.entries()) points.push(await train(s, `ladder-${i}-h${s.hidden}-l${s.layers}`));
  const fit = fitPowerLaw(points.map((p) => p.flops), points.map((p) => p.valLoss));
  log(`fit: L(C) = ${fit.a.toExponential(3)} * C^${fit.b.toFixed(4)} + ${fit.lInf.toFixed(4)} (rmse ${fit.rmse.toFixed(4)})`, true);
  const tShape = c.target;
  const tCfg = configFromJSON({ ...PRESETS.tiny, hidden_size: tShape.hidden, intermediate_size: tShape.ffn, num_hidden_layers: tShape.layers, num_attention_heads: tShape.heads, vocab_size: vocab, max_position_embeddings: Math.max(256, c.seqLen), model_max_length: Math.max(256, c.seqLen) });
  const predicted = evalPowerLaw(fit, flopsPerToken(tCfg, c.seqLen) * steps * c.batchSize * c.seqLen);
  log(`prediction for the target (h${tShape.hidden}, ${tShape.layers} layers): ${predicted.toFixed(4)}`, true);
  const target = await train(tShape, `target-h${tShape.hidden}-l${tShape.layers}`);
  const relativeError = (target.valLoss - predicted) / target.valLoss;
  const result = { points, fit, target, predicted, relativeError };
  writeReport(c, result);
  return result;
}

function writeReport(c: ScalingConfig, r: ScalingResult): void {
  fs.mkdirSync(c.out, { recursive: true });
  fs.writeFileSync(path.join(c.out, 'scaling.json'), JSON.stringify(r, null, 2) + '\n');
  const cs = r.points.map((p) => p.flops).concat(r.target.flops);
  const lo = Math.min(...cs), hi = Math.max(...cs);
  const curve: [number, number][] = Array.from({ length: 40 }, (_, i) => { const C = lo * (hi / lo) ** (i / 39); return [C, evalPowerLaw(r.fit, C)]; });
  const svg = lossSvg([
    { name: 'ladder (fitted)', color: '#1f77b4', points: r.points.map((p) => [p.flops, p.valLoss]) },
    { name: 'fit a·C^b + L∞', color: '#999999', points: curve },
    { name: `target: predicted ${r.predicted.toFixed(3)}`, color: '#2ca02c', points: [[r.target.flops, r.predicted]] },
    { name: `target: actual ${r.target.valLoss.toFixed(3)}`, color: '#d62728', points: [[r.target.flops, r.target.valLoss]] },
  ], 'Scaling law: final validation loss vs training compute', 'training FLOPs (log)', 'validation loss', true);
  fs.writeFileSync(path.join(c.out, 'scaling.svg'), svg);
  const md = ['| model | params | C (FLOPs) | val loss | time s |', '|---|---|---|---|---|',
    ...r.points.concat([r.target]).map((p) => `| ${p.name} | ${(p.params / 1e6).toFixed(2)} M | ${p.flops.toExponential(3)} | ${p.valLoss.toFixed(4)} | ${p.seconds.toFixed(0)} |`),
    '', `Fit: L(C) = ${r.fit.a.toExponential(3)} · C^${r.fit.b.toFixed(4)} + ${r.fit.lInf.toFixed(4)}; predicted ${r.predicted.toFixed(4)}, actual ${r.target.valLoss.toFixed(4)} (${(100 * r.relativeError).toFixed(2)}% error).`];
  fs.writeFileSync(path.join(c.out, 'scaling.md'), md.join('\n') + '\n');
}
