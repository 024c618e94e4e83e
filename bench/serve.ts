// `baichuan2 bench serve`: the HTTP server under load on loopback. For each
// concurrency level, that many streaming clients send /v1/completions
// requests (fixed-length token-id prompts, seeded sampling) back to back;
// reported: output tokens/s over the level's wall time, time to first token
// and inter-token latency (p50, p99) as the clients see them, and the
// engine's own prefill and decode tokens/s.
import { Engine } from '../src/serve/engine.js';
import { readConfig } from '../src/io/hf-folder.js';
import { startServer } from '../src/serve/server.js';
import { Rng } from '../src/engine/rng.js';
import { machineInfo, machineLine } from './machine.js';

export interface ServeBenchOptions {
  concurrency: number[];
  /** Requests per level, one number for all or one per level (default: 2 x concurrency, at least 4). */
  requests?: number[];
  promptTokens: number;
  maxTokens: number;
  parallel?: number;
  threads?: number;
  log?: (s: string) => void;
}

export interface ServeBenchRow {
  concurrency: number; requests: number; output_tokens: number; wall_s: number; tokens_per_s: number;
  ttft_p50_ms: number; ttft_p99_ms: number; itl_p50_ms: number; itl_p99_ms: number;
  prefill_tokens_per_s: number; decode_tokens_per_s: number;
}

export interface ServeBench { model: string; parallel: number; threads: number | null; prompt_tokens: number; max_tokens: number; load_s: number; rows: ServeBenchRow[] }

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export async function benchServe(model: string, o: ServeBenchOptions): Promise<ServeBench> {
  const log = o.log ?? (() => {});
  const parallel = o.parallel ?? Math.max(...o.concurrency);
  const t0 = performance.now();
  const ctx = Math.min(readConfig(model).modelMaxLength, o.promptTokens + o.maxTokens + 8);
  // KV slots sized to the benchmark's sequences (a 7B slot of 4096 positions is 2 GiB)
  const eng = new Engine({ model, parallel, ctx, threads: o.threads, maxQueue: 4 * Math.max(...o.concurrency) });
  const srv = await startServer({ engine: eng, modelName: 'bench', port: 0 });
  try {
    await eng.ready;
    const loadS = (performance.now() - t0) / 1000;
    log(`loaded in ${loadS.toFixed(1)} s; ${parallel} slots of ${ctx} positions`);
    const rng = new Rng(1);
    const V = eng.tokenizer.vocabSize;
    const prompt = () => Array.from({ length: o.promptTokens }, () => 3 + rng.int(V - 3));
    const one = async (seed: number, ttft: number[], itl: number[]): Promise<number> => {
      const sent = performance.now();
      const r = await fetch(`${srv.url}/v1/completions`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ prompt: prompt(), max_tokens: o.maxTokens, seed, stream: true, stream_options: { include_usage: true } }),
      });
      if (r.status !== 200) throw new Error(`bench serve: HTTP ${r.status}: ${await r.text()}`);
      const dec = new TextDecoder();
      let buf = '', last = 0, tokens = 0;
      for await (const part of r.body as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(part, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(6, i);
          buf = buf.slice(i + 2);
          if (ev === '[DONE]') continue;
          const j = JSON.parse(ev) as { choices: { text: string }[]; usage: { completion_tokens: number } | null };
          if (j.usage) { tokens = j.usage.completion_tokens; continue; }
          if (!j.choices[0]?.text) continue;
          const now = performance.now();
          if (!last) ttft.push(now - sent); else itl.push(now - last);
          last = now;
        }
      }
      return tokens;
    };
    await one(0, [], []);  // warm-up
    const rows: ServeBenchRow[] = [];
    for (const [li, c] of o.concurrency.entries()) {
      const n = o.requests?.[o.requests.length === 1 ? 0 : li] ?? Math.max(4, 2 * c);
      const ttft: number[] = [], itl: number[] = [];
      const s0 = { ...eng.stats };
      let next = 0, tokens = 0;
      const w0 = performance.now();
      await Promise.all(Array.from({ length: c }, async () => {
        while (next < n) { const k = await one(next++, ttft, itl); tokens += k; }
      }));
      const wall = (performance.now() - w0) / 1000;
      await new Promise((r) => setTimeout(r, 120));  // the worker's stats land
      const s1 = eng.stats;
      const row: ServeBenchRow = {
        concurrency: c, requests: n, output_tokens: tokens, wall_s: wall, tokens_per_s: tokens / wall,
        ttft_p50_ms: pct(ttft, 50), ttft_p99_ms: pct(ttft, 99), itl_p50_ms: pct(itl, 50), itl_p99_ms: pct(itl, 99),
        prefill_tokens_per_s: (s1.prefillTokens - s0.prefillTokens) / Math.max(1e-9, s1.prefillSeconds - s0.prefillSeconds),
        decode_tokens_per_s: (s1.decodeTokens - s0.decodeTokens) / Math.max(1e-9, s1.decodeSeconds - s0.decodeSeconds),
      };
      rows.push(row);
      log(`concurrency ${c}: ${row.tokens_per_s.toFixed(1)} tok/s, TTFT p50 ${row.ttft_p50_ms.toFixed(0)} ms, ITL p50 ${row.itl_p50_ms.toFixed(1)} ms`);
    }
    return { model, parallel, threads: o.threads ?? null, prompt_tokens: o.promptTokens, max_tokens: o.maxTokens, load_s: loadS, rows };
  } finally {
    await srv.close();
    await eng.close();
  }
}

export function serveReport(b: ServeBench): string {
  const lines = [`### bench serve — ${machineLine(machineInfo())}`, '',
    `Model \`${b.model}\`, ${b.parallel} slots, engine threads ${b.threads ?? 'all cores'}, prompts of ${b.prompt_tokens} tokens, up to ${b.max_tokens} new tokens, streaming /v1/completions over loopback (clients in the same process). Load ${b.load_s.toFixed(1)} s.`, '',
    '| concurrency | requests | output tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | engine prefill tok/s | engine decode tok/s |', '|---|---|---|---|---|---|---|---|---|'];
  for (const r of b.rows)
    lines.push(`| ${r.concurrency} | ${r.requests} | ${r.tokens_per_s.toFixed(1)} | ${r.ttft_p50_ms.toFixed(0)} | ${r.ttft_p99_ms.toFixed(0)} | ${r.itl_p50_ms.toFixed(1)} | ${r.itl_p99_ms.toFixed(1)} | ${r.prefill_tokens_per_s.toFixed(1)} | ${r.decode_tokens_per_s.toFixed(1)} |`);
  return lines.join('\n') + '\n';
}
