// Data-parallel fine-tuning on 2 CPU ranks (`baichuan2 launch --nproc 2 -- sft`):
// - LoRA with dropout 0.1: 2 ranks x 1 batch per step follow the loss curve of
//   1 rank accumulating 2 batches within 1e-6 relative (the same batches of the
//   epoch plan, the same dropout masks: rank r draws the stream of global
//   micro-batch r; only the float32 order of the gradient sum differs).
// - bf16 full fine-tuning: ZeRO-1 (fp32 master shards, bf16 all-gather) gives
//   plain data parallel's curve within 1e-6, and rank 0 alone writes the
//   final model folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setThreads } from '../../src/engine/backend.js';
import { trainBpe } from '../../src/tokenizer/trainer.js';
import { serializeModel } from '../../src/tokenizer/sentencepiece-model.js';
import { configFromJSON } from '../../src/model/config.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { saveModel, loadModel } from '../../src/io/hf-folder.js';
import { parseSftConfig } from '../../src/align/config.js';
import { sft, type SftMetrics } from '../../src/align/sft.js';
import { glooStatus } from '../../src/distributed/gloo.js';
import { cli } from './run.js';

setThreads(1);
const gloo = glooStatus();
const skip = gloo.available ? false : gloo.reason;
type Conv = { id: string; conversations: { from: string; value: string }[] };

function tinyFolder(dir: string): string {
  const convs = JSON.parse(fs.readFileSync(path.resolve('examples/sft/demo-chat.json'), 'utf8')) as Conv[];
  const { model: sp } = trainBpe(convs.flatMap((c) => c.conversations.map((m) => m.value)), { vocabSize: 700 });
  const tokFile = path.join(dir, 'tokenizer.model');
  fs.writeFileSync(tokFile, serializeModel(sp));
  const cfg = configFromJSON({ position_embedding: 'rope', vocab_size: 704, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 128, model_max_length: 128, z_loss_weight: 0 });
  const folder = path.join(dir, 'base');
  saveModel(new BaichuanForCausalLM(cfg).initWeights(0), folder, { tokenizerModel: tokFile });
  fs.writeFileSync(path.join(dir, 'convs.json'), JSON.stringify(convs.slice(0, 24)));
  return folder;
}

function metrics(out: string): SftMetrics[] {
  return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SftMetrics);
}

function curveDiff(a: SftMetrics[], b: SftMetrics[]): number {
  assert.deepEqual(a.map((m) => [m.step, m.epoch, m.tokens]), b.map((m) => [m.step, m.epoch, m.tokens]));
  return Math.max(...a.flatMap((m, i) => [Math.abs(m.loss - b[i]!.loss) / b[i]!.loss, Math.abs(m.grad_norm - b[i]!.grad_norm) / b[i]!.grad_norm]));
}

test('SFT on 2 ranks: LoRA = 1 rank accumulating 2 batches (1e-6); bf16 ZeRO-1 = data parallel; rank 0 writes the model', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-sftdp-'));
  const model = tinyFolder(dir);
  const base = { model, data: path.join(dir, 'convs.json'), lr: 3e-3, steps: 5, batchSize: 4, maxLength: 96, activationRecomputation: false, checkpointEvery: 1000 };
  const lora = { ...base, precision: 'f32', lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['W_pack', 'o_proj'] } };
  const one = await sft(parseSftConfig({ ...lora, gradAccum: 2, out: path.join(dir, 'one') }));
  const write = (name: string, c: Record<string, unknown>) => { const f = path.join(dir, `${name}.json`); fs.writeFileSync(f, JSON.stringify({ ...c, out: path.join(dir, name) })); return f; };
  const dp = await cli(['launch', '--nproc', '2', '--', 'sft', '--config', write('dp', lora)]);
  assert.equal(dp.code, 0, dp.stderr);
  assert.match(dp.stderr, /data parallel: 2 ranks x 1 batch\(es\) per step; gradients all-reduced over gloo/);
  const d = curveDiff(metrics(path.join(dir, 'dp')), one.metrics);
  assert.ok(d <= 1e-6, `2 ranks vs 1 rank accumulating: ${d}`);
  assert.ok(fs.existsSync(path.join(dir, 'dp', 'adapter_model.safetensors')), 'the adapter folder');

  const full = { ...base, precision: 'bf16' };
  const plain = await cli(['launch', '--nproc', '2', '--', 'sft', '--config', write('plain', full)]);
  assert.equal(plain.code, 0, plain.stderr);
  const zero = await cli(['launch', '--nproc', '2', '--', 'sft', '--config', write('zero', full), '--zero-stage', '1']);
  assert.equal(zero.code, 0, zero.stderr);
  assert.match(zero.stderr, /ZeRO-1 \(optimizer state 1\/2 per rank\)/);
  const z = curveDiff(metrics(path.join(dir, 'zero')), metrics(path.join(dir, 'plain')));
  console.log(`max relative difference: LoRA 2 ranks vs 1 rank ${d.toExponential(2)}, bf16 ZeRO-1 vs DP ${z.toExponential(2)}`);
  assert.ok(z <= 1e-6, `bf16 ZeRO-1 vs data parallel: ${z}`);
  assert.ok(metrics(path.join(dir, 'zero')).at(-1)!.loss < metrics(path.join(dir, 'zero'))[0]!.loss, 'it learns');
  // the two runs end with the same bf16 weights, bit for bit or within one bf16 rounding of a few elements
  const a = loadModel(path.join(dir, 'zero')), b = loadModel(path.join(dir, 'plain'));
  const pa = new Map(a.namedParameters()), pb = new Map(b.namedParameters());
  let differ = 0, total = 0;
  for (const [name, p] of pa) { const x = p.f32(), y = pb.get(name)!.f32(); total += x.length; for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) differ++; }
  assert.ok(differ <= total * 1e-3, `${differ} of ${total} weights differ`);
});
