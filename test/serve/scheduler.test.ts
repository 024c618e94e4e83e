// The engine's scheduler on its own (no worker, no HTTP): a job the batch
// refuses fails alone, and chunks carry every generated token exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../../src/serve/scheduler.js';
import { loadModel } from '../../src/io/hf-folder.js';
import { loadTokenizer } from '../../src/io/tokenizer-file.js';
import type { EngineChunk, GenerationJob } from '../../src/serve/protocol.js';
import { tinyModelDir } from './fixture.js';

test('scheduler: a refused job fails alone; deltas carry each token once; usage and finish come last', () => {
  const dir = tinyModelDir();
  const chunks: [number, EngineChunk][] = [];
  const s = new Scheduler(loadModel(dir), loadTokenizer(dir), { slots: 2, capacity: 48 }, (id, c) => chunks.push([id, c]));
  const job = (prompt: number[], maxTokens: number): GenerationJob => ({
    prompt, n: 1, maxTokens, seed: 1, stop: [], logprobs: null, frequencyPenalty: 0, presencePenalty: 0,
    sampling: { greedy: false, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 },
  });
  s.submit(1, job([10, 11, 12], 12));
  s.submit(2, job(new Array(60).fill(10), 4));  // longer than a slot
  s.submit(3, job([13, 14], 5));
  let guard = 0;
  while (!s.idle && guard++ < 100) s.tick();
  const failures = s.takeFailures();
  assert.deepEqual(failures.map((f) => f.id), [2]);
  assert.match(failures[0]!.message, /exceeds the slot capacity 48/);
  for (const id of [1, 3]) {
    const mine = chunks.filter(([i]) => i === id).map(([, c]) => c);
    const tokens = mine.flatMap((c) => (c.type === 'delta' ? c.tokens : []));
    const usage = mine[mine.length - 1]!;
    assert.equal(usage.type, 'usage');
    if (usage.type === 'usage') assert.equal(usage.usage.completionTokens, tokens.length);
    assert.equal(mine[mine.length - 2]!.type, 'finish');
    assert.ok(tokens.length >= 1 && tokens.length <= (id === 1 ? 12 : 5));
  }
  assert.equal(chunks.filter(([i]) => i === 2).length, 0);
  assert.equal(s.batch.free, 2, 'every slot is free again');
});
