// The llama.cpp side of `baichuan2 bench decode` (run as a child process by
// bench/llama-cpp.ts, so its memory is gone before our model loads): loads a
// GGUF file with node-llama-cpp on the CPU, evaluates a prompt of random token
// ids (the prompt-processing speed, logits of the last token only, as llama-bench's
// pp test), then decodes greedily one token at a time (as llama-bench's tg test,
// plus the greedy pick, as our decode does). Prints one JSON line.
// argv: <node-llama-cpp index.js> <model.gguf> <prompt tokens> <new tokens> <threads> <vocab size> <seed>
import { pathToFileURL } from 'node:url';

const [entry, modelPath, promptArg, newArg, threadsArg, vocabArg, seedArg] = process.argv.slice(2);
const promptTokens = Number(promptArg), newTokens = Number(newArg), threads = Number(threadsArg);
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);
const llama = await getLlama({ gpu: false, build: 'never', maxThreads: threads, logLevel: LlamaLogLevel.error, progressLogs: false });
const t0 = performance.now();
// useMmap false: the weights live in anonymous memory, as ours do after loading
const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: false });
const loadS = (performance.now() - t0) / 1000;
const context = await model.createContext({ contextSize: promptTokens + newTokens + 64, batchSize: Math.max(512, promptTokens), threads: { ideal: threads, min: threads }, sequences: 1 });
const seq = context.getSequence();
// the same random-id rule as ours (ids 3 .. V-1), from a simple LCG seeded by argv
let s = Number(seedArg) >>> 0;
const rand = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s; };
const V = Number(vocabArg);
const prompt = Array.from({ length: promptTokens }, () => 3 + (rand() % (V - 3)));
const greedy = { generateNext: { token: true, options: { temperature: 0 } } };

async function run(np, nt) {
  await seq.clearHistory();
  const items = prompt.slice(0, np).map((t, i) => (i === np - 1 ? [t, greedy] : t));
  const cpu = (a, b) => (b.user - a.user + b.system - a.system) / 1e6;
  const c0 = process.cpuUsage(), tp = performance.now();
  const out = await seq.controlledEvaluate(items);
  const prefill = (performance.now() - tp) / 1000, c1 = process.cpuUsage();
  let next = out[np - 1]?.next.token ?? prompt[0];
  const td = performance.now();
  for (let i = 0; i < nt; i++) {
    const r = await seq.controlledEvaluate([[next, greedy]]);
    next = r[0]?.next.token ?? next;
  }
  return { prefill, decode: (performance.now() - td) / 1000, prefillCpu: cpu(c0, c1), decodeCpu: cpu(c1, process.cpuUsage()) };
}

await run(Math.min(16, promptTokens), 2);  // warm-up: first-touch costs, thread start
const r = await run(promptTokens, newTokens);
const release = llama.llamaCppRelease;
const sys = llama.systemInfo;
process.stdout.write(JSON.stringify({
  prefill_tokens_per_s: promptTokens / r.prefill, decode_tokens_per_s: newTokens / r.decode, load_s: loadS,
  prefill_cpu_s: r.prefillCpu, decode_cpu_s: r.decodeCpu,
  llama_cpp: `${release.repo}@${release.release}`, system_info: sys, threads,
}) + '\n');
await context.dispose();
await model.dispose();
await llama.dispose();
