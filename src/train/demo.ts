// The end-to-end demo (README's main job): corpus from installed packages ->
// tokenizer -> token shards -> pre-training a tiny Baichuan 2 -> samples ->
// validation loss and bits per byte -> a saved model folder.
import fs from 'node:fs';
import path from 'node:path';
import { buildDemoCorpus } from '../data/demo-corpus.js';
import { trainBpe } from '../tokenizer/trainer.js';
import { serializeModel } from '../tokenizer/sentencepiece-model.js';
import { BpeTokenizer } from '../tokenizer/bpe.js';
import { prepare } from '../data/prepare.js';
import { parseTrainConfig } from './config.js';
import { pretrain } from './trainer.js';
import { loadModel, saveModel } from '../io/hf-folder.js';
import { generate } from '../infer/generate.js';
import { evaluate } from '../eval/evaluate.js';
import { ModelLM } from '../eval/lm.js';
import type { TaskResult } from '../eval/runner.js';
import { meetsMinimum, MINIMUM_ISOLATION, sandboxLauncher } from '../eval/sandbox.js';

export interface DemoOptions {
  root: string;
  out: string;
  quick?: boolean;
  /** Benchmark folder for the evaluation step (../shared/data/eval layout); skipped when absent. */
  evalData?: string;
  log: (s: string, final?: boolean) => void;
}

export interface DemoResult { modelDir: string; valLoss: number; valBpb: number; samples: { prompt: string; text: string }[]; benchmarks: TaskResult[]; seconds: number }

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const t0 = performance.now();
  const q = !!o.quick;
  const log = o.log;
  fs.mkdirSync(o.out, { recursive: true });
  log(`[1/6] corpus: Chinese (chinese-poetry), English (READMEs of installed packages), code (TypeScript lib .d.ts)`, true);
  const docs = buildDemoCorpus(o.root, q ? 150_000 : 1_000_000);
  const corpus = path.join(o.out, 'corpus.jsonl');
  fs.writeFileSync(corpus, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const bytes = docs.reduce((s, d) => s + Buffer.byteLength(d.text), 0);
  log(`      ${docs.length} documents, ${(bytes / 1e6).toFixed(2)} MB -> ${corpus}`, true);

  log(`[2/6] tokenizer: BPE with byte fallback, split digits, identity normalisation`, true);
  const vocab = q ? 3072 : 8192;
  const { model: sp, report } = trainBpe(docs.map((d) => d.text), { vocabSize: vocab, characterCoverage: q ? 0.98 : 0.999, maxPieceLength: 16 });
  const tokFile = path.join(o.out, 'tokenizer.model');
  fs.writeFileSync(tokFile, serializeModel(sp));
  const tok = new BpeTokenizer(sp);
  log(`      ${vocab} pieces (${report.merges} merges, ${report.characters} characters) in ${report.seconds.toFixed(1)} s -> ${tokFile}`, true);

  log(`[3/6] token shards (worker threads, 5% validation split)`, true);
  const data = path.join(o.out, 'data');
  const { manifest } = await prepare({ tokenizer: tokFile, inputs: [corpus], out: data, valFraction: 0.05 });
  const nTrain = manifest.train.reduce((s, x) => s + x.tokens, 0);
  log(`      ${nTrain.toLocaleString('en-US')} training tokens, ${(manifest.bytes.train / nTrain).toFixed(2)} bytes/token -> ${data}`, true);

  log(`[4/6] pre-training a tiny Baichuan 2 (RoPE, NormHead, max-z, AdamW 0.9/0.95, warm-up + cosine, clip 0.5)`, true);
  const run = path.join(o.out, 'run');
  const cfg = parseTrainConfig({
    data, out: run, seed: 1,
    model: { preset: 'tiny', config: q
      ? { hidden_size: 96, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 256, model_max_length: 256 }
      : { hidden_size: 256, intermediate_size: 768, num_hidden_layers: 4, num_attention_heads: 4, max_position_embeddings: 512, model_max_length: 512 } },
    batchSize: q ? 4 : 8, seqLen: q ? 64 : 128, steps: q ? 40 : 500, warmupSteps: q ? 5 : 30,
    peakLr: 3e-3, minLr: 3e-4, evalEvery: q ? 20 : 100, evalBatches: 4, checkpointEvery: q ? 20 : 250,
  });
  const r = await pretrain(cfg, { log });
  log(`      final train loss ${r.lastLoss.toFixed(3)} (started at ${r.metrics[0]!.loss.toFixed(3)}); loss curve -> ${path.join(run, 'loss.svg')}`, true);

  log(`[5/6] samples (temperature 0.5, top-k 20, top-p 0.9, repetition penalty 1.1)`, true);
  const model = loadModel(r.checkpoint);
  const prompts = ['床前明月光，', 'The ', 'interface '];
  const samples = prompts.map((p, i) => {
    const g = generate(model, [tok.encode(p)], { temperature: 0.5, topK: 20, topP: 0.9, repetitionPenalty: 1.1, maxNewTokens: q ? 24 : 64, seed: 7 + i });
    return { prompt: p, text: p + tok.decode(g.tokens[0]!.filter((t) => t !== 2)) };
  });
  for (const s of samples) log(`      ${JSON.stringify(s.text)}`, true);

  log(`[6/6] evaluation and model folder`, true);
  const modelDir = path.join(o.out, 'model');
  saveModel(model, modelDir, { tokenizerModel: tokFile });
  log(`      validation loss ${r.valLoss!.toFixed(3)} nats/token, ${r.valBpb!.toFixed(3)} bits/byte (uniform over the vocabulary would be ${Math.log(vocab).toFixed(2)})`, true);
  let benchmarks: TaskResult[] = [];
  if (o.evalData && fs.existsSync(o.evalData)) {
    const limit = q ? 2 : 20;
    // GSM8K's 256-token CoT decodes would add minutes; HumanEval only where generated code can be contained
    const contained = meetsMinimum(sandboxLauncher().isolation);
    const tasks = ['ceval', 'cmmlu', 'mmlu', ...(contained ? ['humaneval'] : [])];
    if (!contained) log(`      HumanEval skipped: the sandbox here is below its minimum (${MINIMUM_ISOLATION.join(' + ')}); install bubblewrap`, true);
    log(`      benchmarks (${limit} items each, chance level expected at this size): ${tasks.join(', ')}`, true);
    const rep = await evaluate({ model: modelDir, tasks, data: o.evalData, limit, out: path.join(o.out, 'eval', 'results.json'), lm: new ModelLM(model, tok) });  // the model in memory
    benchmarks = rep.results;
    for (const line of rep.markdown.trim().split('\n')) log(`      ${line}`, true);
  } else log(`      benchmarks skipped: no benchmark data at ${o.evalData ?? '(none given)'} (pass --eval-data DIR)`, true);
  const seconds = (performance.now() - t0) / 1000;
  log(`done in ${seconds.toFixed(0)} s. Model: ${modelDir} (try: npx baichuan2 generate --model ${modelDir} --prompt '春眠不觉晓，')`, true);
  return { modelDir, valLoss: r.valLoss!, valBpb: r.valBpb!, samples, benchmarks, seconds };
}
