// Child process for gguf-llama.test.ts: runs llama.cpp (node-llama-cpp, loaded
// from the cache folder given in the job) on GGUF files and prints JSON:
// next-token log-probs at every prompt position, or token ids of texts.
// Run only as `node llama-worker.js --job FILE`; anything else exits at once
// (the test runner may start every .js file under dist/test/).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface Job {
  cache: string;
  models: { file: string; prompt: number[] }[];
  tokenize?: { file: string; texts: string[] };
}

async function main(): Promise<void> {
  const job = JSON.parse(fs.readFileSync(process.argv[3]!, 'utf8')) as Job;
  const entry = pathToFileURL(path.join(job.cache, 'node_modules/node-llama-cpp/dist/index.js')).href;
  const { getLlama } = (await import(entry)) as { getLlama: (o: object) => Promise<any> };  // eslint-disable-line @typescript-eslint/no-explicit-any
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false });
  const out: { logprobs: number[][][]; ids: number[][] } = { logprobs: [], ids: [] };
  try {
    for (const m of job.models) {
      const model = await llama.loadModel({ modelPath: m.file, gpuLayers: 0 });
      // F32 K/V cache and no flash attention: llama.cpp's defaults store K/V in f16
      const ctx = await model.createContext({ contextSize: 64, batchSize: 64, threads: 1, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' });
      const seq = ctx.getSequence();
      const res = await seq.controlledEvaluate(m.prompt.map((t) => [t, { generateNext: { probabilities: true } }]));
      out.logprobs.push(res.map((r: { next: { probabilities: Map<number, number> } }) => {
        const row = new Array<number>(r.next.probabilities.size);
        for (const [id, p] of r.next.probabilities) row[id] = Math.log(p);
        return row;
      }));
      await ctx.dispose();
      await model.dispose();
    }
    if (job.tokenize) {
      const model = await llama.loadModel({ modelPath: job.tokenize.file, vocabOnly: true });
      for (const t of job.tokenize.texts) out.ids.push(Array.from(model.tokenize(t, false) as number[]));
      await model.dispose();
    }
  } finally {
    await llama.dispose();
  }
  process.stdout.write(JSON.stringify(out));
}

if (process.argv[2] === '--job') main().catch((e: Error) => { process.stderr.write(String(e.stack ?? e)); process.exit(1); });
