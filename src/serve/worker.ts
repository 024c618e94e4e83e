// The engine's worker thread: loads the model and tokenizer, then runs the
// scheduler one step at a time, yielding to its event loop between steps so
// submissions and cancellations land at step boundaries. The main thread
// (HTTP, the chat prompt) is never blocked by a prefill.
import { parentPort, workerData } from 'node:worker_threads';
import { loadModel } from '../io/hf-folder.js';
import { loadTokenizer } from '../io/tokenizer-file.js';
import { applyLoraAdapter } from '../align/lora.js';
import type { BaichuanForCausalLM } from '../model/baichuan.js';
import { Scheduler } from './scheduler.js';
import { setThreads } from '../engine/backend.js';
import type { EngineChunk, FromWorker, ToWorker, WorkerInit } from './protocol.js';

/**
 * The one place a loaded model is adapted before serving: a LoRA adapter (PEFT
 * folder, `--adapter`) goes on top of the base through fine-tuning's loader.
 */
export function prepareModel(model: BaichuanForCausalLM, init: WorkerInit): BaichuanForCausalLM {
  if (init.adapter !== undefined) applyLoraAdapter(model, init.adapter);
  return model;
}

function post(m: FromWorker): void {
  parentPort!.postMessage(m);
}

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  let sched: Scheduler;
  let out: { id: number; chunk: EngineChunk }[] = [];
  const flush = () => { if (out.length) { post({ type: 'chunks', items: out }); out = []; } };
  try {
    const t0 = performance.now();
    if (init.threads !== undefined) setThreads(init.threads);
    const model = prepareModel(loadModel(init.modelDir, { dtype: init.dtype, inference: true }), init);
    const tok = loadTokenizer(init.tokenizer);
    sched = new Scheduler(model, tok, { slots: init.slots, capacity: init.capacity, rowsPerForward: init.rowsPerForward }, (id, chunk) => out.push({ id, chunk }));
    post({ type: 'ready', vocabSize: model.config.vocabSize, loadSeconds: (performance.now() - t0) / 1000 });
  } catch (e) {
    post({ type: 'load-error', message: (e as Error).message });
    return;
  }
  let stopping = false;
  let wake: (() => void) | null = null;
  parentPort!.on('message', (m: ToWorker) => {
    if (m.type === 'submit') {
      try { sched.submit(m.id, m.job); } catch (e) { post({ type: 'failed', id: m.id, message: (e as Error).message }); }
    } else if (m.type === 'cancel') sched.cancel(m.id);
    else if (m.type === 'stop') stopping = true;
    wake?.();
  });
  let lastStats = 0;
  while (!stopping) {
    if (sched.idle) {
      post({ type: 'stats', stats: sched.stats() });
      await new Promise<void>((r) => { wake = r; });
      wake = null;
      continue;
    }
    try {
      sched.tick();
      flush();
      for (const f of sched.takeFailures()) post({ type: 'failed', id: f.id, message: f.message });
    } catch (e) {
      flush();
      // a failing step fails every running request, never the process
      for (const id of sched.running()) { post({ type: 'failed', id, message: (e as Error).message }); sched.cancel(id); }
    }
    const now = performance.now();
    if (now - lastStats > 100) { post({ type: 'stats', stats: sched.stats() }); lastStats = now; }
    await new Promise((r) => setImmediate(r));
  }
  parentPort!.close();
}

void main();
