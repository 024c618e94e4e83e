// A pool of worker threads running shard tasks (src/data/pipeline/worker.ts),
// one task per worker at a time, results returned in task order. Tasks carry
// only plain data (file names, parameters, drop lists).
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ShardTask, ShardResult } from './shard-tasks.js';

export async function runShardTasks(tasks: ShardTask[], o: { workers?: number; onResult?: (index: number, result: ShardResult) => void } = {}): Promise<ShardResult[]> {
  if (!tasks.length) return [];
  const n = Math.max(1, Math.min(o.workers ?? os.availableParallelism(), tasks.length, 32));
  const url = new URL('./worker.js', import.meta.url);
  const workers = Array.from({ length: n }, () => new Worker(url));
  const results = new Array<ShardResult>(tasks.length);
  let next = 0;
  try {
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      const feed = () => {
        if (next >= tasks.length) { resolve(); return; }
        const i = next++;
        w.once('message', (m: { ok: true; result: ShardResult } | { ok: false; error: string }) => {
          if (!m.ok) { reject(new Error(m.error)); return; }
          results[i] = m.result;
          o.onResult?.(i, m.result);
          feed();
        });
        w.postMessage(tasks[i]);
      };
      w.once('error', reject);
      feed();
    })));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
