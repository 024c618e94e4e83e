// `bench decode` with its peer: on a tiny 32-layer q4 folder, llama.cpp (node-llama-cpp,
// installed on demand into the cache folder as the GGUF test does; skipped with the reason
// when it cannot be) runs on the GGUF our exporter writes, in the same call as ours, and
// the report carries both rows and their ratio. The GGUF is cached and reused; a group
// size llama.cpp has no type for is refused by name. Speed is not asserted (that is the
// benchmark's job), only that both engines ran and were timed.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { benchDecode, decodeReport } from '../../bench/model.js';
import { cachedGguf, ensureNodeLlamaCpp, llamaCacheDir } from '../../bench/llama-cpp.js';
import { quantizeModelFolder } from '../../src/infer/quantize.js';
import { native } from '../../src/engine/native.js';
import { HAVE_DATA, makeFolder, tmpDir } from '../io/gguf-fixture.js';

function llamaReason(): string | false {
  if (!HAVE_DATA) return 'needs ../shared/data (tokenizers)';
  if (process.platform !== 'linux' || process.arch !== 'x64') return `node-llama-cpp's prebuilt binary used here is linux-x64 only (this is ${process.platform}-${process.arch})`;
  try { ensureNodeLlamaCpp(() => {}); return false; } catch (e) { return (e as Error).message; }
}

test('bench decode times llama.cpp on the same q4 weights in the same run; the GGUF is cached; group 64 is refused', { skip: llamaReason() }, () => {
  const dir = tmpDir('bench-decode');
  const threads = native.info().threads;
  const prevCache = process.env.BAICHUAN2_CACHE, prevLlama = process.env.BAICHUAN2_LLAMA_CACHE;
  process.env.BAICHUAN2_LLAMA_CACHE = llamaCacheDir();  // keep the installed node-llama-cpp
  process.env.BAICHUAN2_CACHE = path.join(dir, 'cache');  // the GGUF goes here (node-llama-cpp stays in its own folder)
  try {
    const src = makeFolder(path.join(dir, 'm'), { position: 'rope', layers: 32, ffn: 128 });
    const q4 = path.join(dir, 'q4');
    quantizeModelFolder(src, q4, { bits: 4, groupSize: 32 });
    native.setThreads(1);  // one thread each: on a shared CI machine spinning thread pools only add waiting
    const rows = benchDecode(q4, 8, 3, () => {}, [], { peer: true, bandwidthBytes: 2 ** 24, composed: true });
    native.setThreads(threads);
    assert.equal(rows.length, 2);
    assert.equal(rows[1]!.build, `${rows[0]!.build} (composed layers)`, 'the fused decode layer\'s before, same run');
    assert.equal(rows[0]!.threads, 1);
    const r = rows[0]!;
    assert.ok(r.peer, `llama.cpp did not run: ${r.peer_note}`);
    assert.equal(r.peer.gguf_type, 'q4_0');
    for (const v of [r.peer.prefill_tokens_per_s, r.peer.decode_tokens_per_s, r.prefill_tokens_per_s, r.decode_tokens_per_s]) assert.ok(Number.isFinite(v) && v > 0);
    assert.ok(r.peer.decode_cpu_s_per_token > 0 && r.decode_cpu_s_per_token > 0);
    const report = decodeReport(rows);
    assert.match(report, /\| llama\.cpp Q4_0 \| ggml-cpu \|/);
    assert.match(report, /\| ours q4 g32 \| [a-z0-9]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
    // cached: the same file, not written again
    const { file } = cachedGguf(q4, () => {});
    const mtime = fs.statSync(file).mtimeMs;
    assert.equal(cachedGguf(q4, () => { throw new Error('exported again'); }).file, file);
    assert.equal(fs.statSync(file).mtimeMs, mtime);
    const g64 = path.join(dir, 'q4g64');
    quantizeModelFolder(src, g64, { bits: 4, groupSize: 64 });
    assert.throws(() => cachedGguf(g64, () => {}), /group size 64; llama\.cpp's Q4_0 \/ Q8_0 need 32/);
  } finally {
    native.setThreads(threads);
    if (prevCache === undefined) delete process.env.BAICHUAN2_CACHE; else process.env.BAICHUAN2_CACHE = prevCache;
    if (prevLlama === undefined) delete process.env.BAICHUAN2_LLAMA_CACHE; else process.env.BAICHUAN2_LLAMA_CACHE = prevLlama;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
