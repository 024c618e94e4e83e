// The SFT trainer end to end on a tiny model: it learns 16 conversations and
// answers them greedily word for word; an interrupted run resumed from its
// checkpoint gives the same loss curve bit for bit (full bf16 and LoRA with
// dropout); the CLI trains a LoRA adapter, merges it and loads it with --adapter.
import { test } from 'node:test';
import { setThreads } from '../../src/engine/backend.js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { trainBpe } from '../../src/tokenizer/trainer.js';
import { serializeModel } from '../../src/tokenizer/sentencepiece-model.js';
import { BpeTokenizer } from '../../src/tokenizer/bpe.js';
import { configFromJSON } from '../../src/model/config.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { saveModel, loadModel } from '../../src/io/hf-folder.js';
import { parseSftConfig } from '../../src/align/config.js';
import { sft } from '../../src/align/sft.js';
import { generate } from '../../src/infer/generate.js';
import { buildChatInput } from '../../src/infer/chat-format.js';

// one kernel thread: on a shared 2-core machine, threads fighting for cores cost 50x (results are bit-identical for any count)
setThreads(1);

const BIN = path.resolve('bin/baichuan2.js');
const DEMO = path.resolve('examples/sft/demo-chat.json');
type Conv = { id: string; conversations: { from: string; value: string }[] };

/** A tiny random model folder with a tokenizer trained on the demo conversations. */
function tinyFolder(dir: string, hidden = 64, layers = 2): { folder: string; tok: BpeTokenizer; convs: Conv[] } {
  const convs = JSON.parse(fs.readFileSync(DEMO, 'utf8')) as Conv[];
  const texts = convs.flatMap((c) => c.conversations.map((m) => m.value));
  const { model: sp } = trainBpe(texts, { vocabSize: 700 });
  const tok = new BpeTokenizer(sp);
  const tokFile = path.join(dir, 'tokenizer.model');
  fs.writeFileSync(tokFile, serializeModel(sp));
  const cfg = configFromJSON({ position_embedding: 'rope', vocab_size: 704, hidden_size: hidden, intermediate_size: 2 * hidden, num_hidden_layers: layers, num_attention_heads: 4, max_position_embeddings: 128, model_max_length: 128, z_loss_weight: 0 });
  const folder = path.join(dir, 'base');
  saveModel(new BaichuanForCausalLM(cfg).initWeights(0), folder, { tokenizerModel: tokFile });
  return { folder, tok, convs };
}

test('SFT: a tiny model fine-tuned on 16 conversations answers them greedily word for word', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-sft-'));
  const { folder, tok, convs } = tinyFolder(dir);
  const sixteen = convs.filter((c) => c.conversations.length === 2).slice(0, 16);
  const data = path.join(dir, 'sixteen.json');
  fs.writeFileSync(data, JSON.stringify(sixteen));
  const c = parseSftConfig({ model: folder, data, out: path.join(dir, 'run'), lr: 5e-3, steps: 40, batchSize: 16, precision: 'f32', activationRecomputation: false, pack: true, maxLength: 128, checkpointEvery: 1000 });
  const r = await sft(c);
  assert.equal(r.step, 40);
  assert.ok(r.metrics[0]!.loss > 5 && r.lastLoss < 0.1, `loss ${r.metrics[0]!.loss} -> ${r.lastLoss}`);
  const model = loadModel(c.out);  // the run folder is a model folder
  const prompts = sixteen.map((s) => buildChatInput([{ role: 'user', content: s.conversations[0]!.value }], (t) => tok.encode(t), { modelMaxLength: 128, maxNewTokens: 48 }));
  const out = generate(model, prompts, { greedy: true, maxNewTokens: 48 });
  sixteen.forEach((s, i) => {
    const ids = out.tokens[i]!;
    assert.equal(ids.at(-1), 2, `conversation ${i} ends with eos`);
    assert.equal(tok.decode(ids.slice(0, -1)), s.conversations[1]!.value, `conversation ${i}`);
  });
});

test('SFT: SIGINT-style stop and --resume reproduce the loss curve bit for bit (full bf16, LoRA with dropout)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-sftres-'));
  const { folder } = tinyFolder(dir, 32, 1);
  for (const lora of [null, { r: 2, alpha: 16, dropout: 0.1 }]) {
    const base = { model: folder, data: DEMO, lr: 1e-3, steps: 6, batchSize: 4, gradAccum: 2, precision: 'bf16', pack: false, maxLength: 64, valExamples: 4, evalEvery: 3, lora };
    const whole = await sft(parseSftConfig({ ...base, out: path.join(dir, `whole-${!!lora}`) }));
    const split = parseSftConfig({ ...base, out: path.join(dir, `split-${!!lora}`) });
    const first = await sft(split, { stopAfter: 3 });
    assert.equal(first.step, 3);
    const second = await sft(split, { resume: true });
    assert.equal(second.step, 6);
    const curve = (m: typeof whole.metrics) => m.map((x) => [x.step, x.loss, x.grad_norm, x.val_loss ?? null]);
    assert.deepEqual(curve(second.metrics), curve(whole.metrics), `${lora ? 'LoRA' : 'full'} curve`);
    assert.ok(whole.valLoss !== null && Number.isFinite(whole.valLoss));
    if (lora) assert.ok(fs.existsSync(path.join(split.out, 'adapter_model.safetensors')));
    await assert.rejects(sft(parseSftConfig({ ...base, lr: 2e-3, out: split.out }), { resume: true }), /different configuration/);
  }
});

test('CLI: sft --lora, lora merge, --adapter on logits and generate; bad configs are named', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-sftcli-'));
  const { folder } = tinyFolder(dir, 32, 1);
  const run = path.join(dir, 'run');
  const r = spawnSync(process.execPath, [BIN, 'sft', '--threads', '1', '--model', folder, '--data', DEMO, '--out', run, '--steps', '3', '--batch-size', '8', '--lr', '1e-2', '--lora', '--lora-r', '2', '--lora-targets', 'W_pack,down_proj', '--precision', 'f32'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done: step 3/);
  assert.match(r.stderr, /LoRA r 2 alpha 32 on W_pack, down_proj/);
  const cfg = JSON.parse(fs.readFileSync(path.join(run, 'adapter_config.json'), 'utf8')) as { r: number; lora_dropout: number };
  assert.equal(cfg.r, 2); assert.equal(cfg.lora_dropout, 0.1);
  const merged = path.join(dir, 'merged');
  const m = spawnSync(process.execPath, [BIN, 'lora', 'merge', '--model', folder, '--adapter', run, '--out', merged], { encoding: 'utf8' });
  assert.equal(m.status, 0, m.stderr);
  const logits = (args: string[]) => {
    const x = spawnSync(process.execPath, [BIN, 'logits', '--ids', '195,40,41,196', ...args], { encoding: 'utf8' });
    assert.equal(x.status, 0, x.stderr);
    return (JSON.parse(x.stdout) as { logits: number[][] }).logits.flat();
  };
  const withAdapter = logits(['--model', folder, '--adapter', run]), viaMerge = logits(['--model', merged]), base = logits(['--model', folder]);
  const diff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
  assert.ok(diff(withAdapter, viaMerge) < 1e-5, `merged vs adapter ${diff(withAdapter, viaMerge)}`);
  assert.ok(diff(withAdapter, base) > 1e-4, 'the adapter was trained');
  const g = spawnSync(process.execPath, [BIN, 'generate', '--model', folder, '--adapter', run, '--prompt', 'Hi', '--greedy', '--max-new-tokens', '3', '--json'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const bad = spawnSync(process.execPath, [BIN, 'generate', '--model', folder, '--adapter', path.join(dir, 'nope'), '--prompt', 'Hi'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--adapter .*nope: not a directory/);
  fs.writeFileSync(path.join(dir, 'sft.json'), JSON.stringify({ model: folder, data: DEMO, out: run, learningRate: 1 }));
  const badCfg = spawnSync(process.execPath, [BIN, 'sft', '--config', path.join(dir, 'sft.json')], { encoding: 'utf8' });
  assert.equal(badCfg.status, 1);
  assert.match(badCfg.stderr, /Unrecognized key\(s\) in object: 'learningRate'/);
  const badLora = spawnSync(process.execPath, [BIN, 'sft', '--model', folder, '--data', DEMO, '--out', run, '--lora-targets', 'q_proj'], { encoding: 'utf8' });
  assert.equal(badLora.status, 1);
  assert.match(badLora.stderr, /lora\.targets\.0/);
});

test('CLI: Ctrl-C during sft saves a checkpoint (exit 130); --resume continues the same loss curve', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc2-sftint-'));
  const { folder } = tinyFolder(dir, 32, 1);
  const run = path.join(dir, 'run');
  const args = ['--threads', '1', '--model', folder, '--data', DEMO, '--out', run, '--batch-size', '4', '--lr', '1e-3', '--checkpoint-every', '100000', '--precision', 'bf16'];
  const child = spawn(process.execPath, [BIN, 'sft', ...args, '--steps', '100000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const metrics = path.join(run, 'metrics.jsonl');
  const started = Date.now();
  while (!(fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').split('\n').length > 4)) {
    if (Date.now() - started > 60_000) { child.kill('SIGKILL'); assert.fail('training did not start'); }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 130);
  const latest = JSON.parse(fs.readFileSync(path.join(run, 'checkpoints/latest.json'), 'utf8')) as { step: number };
  assert.ok(latest.step >= 4);
  const total = latest.step + 2;
  const r = spawnSync(process.execPath, [BIN, 'sft', ...args, '--steps', String(total), '--resume'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`resumed from .*\\(step ${latest.step}\\)`));
  const resumed = fs.readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });
  const whole = await sft(parseSftConfig({ model: folder, data: DEMO, out: path.join(dir, 'whole'), batchSize: 4, lr: 1e-3, checkpointEvery: 100000, precision: 'bf16', steps: total, threads: 1 }));
  assert.deepEqual(resumed.map((m) => [m.step, m.loss]), whole.metrics.map((m) => [m.step, m.loss]));
});
