// Server metrics in the Prometheus text exposition format (version 0.0.4):
// request counters by route and status, token counters, queue depth and batch
// size gauges (from the engine's worker), TTFT and inter-token histograms.
import type { EngineStats } from './protocol.js';

class Histogram {
  readonly counts: number[];
  sum = 0;
  n = 0;
  constructor(readonly buckets: number[]) { this.counts = buckets.map(() => 0); }
  observe(v: number): void {
    this.sum += v;
    this.n++;
    this.buckets.forEach((b, i) => { if (v <= b) this.counts[i]!++; });
  }
  render(name: string, help: string): string {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(`${name}_bucket{le="+Inf"} ${this.n}`, `${name}_sum ${this.sum}`, `${name}_count ${this.n}`);
    return lines.join('\n');
  }
}

const LATENCY = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Metrics {
  private readonly requests = new Map<string, number>();
  promptTokens = 0;
  completionTokens = 0;
  readonly ttft = new Histogram(LATENCY);
  readonly interToken = new Histogram(LATENCY);

  request(route: string, status: number): void {
    const k = `route="${route}",status="${status}"`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
  }

  render(s: EngineStats, ready: boolean): string {
    const g = (name: string, help: string, type: 'gauge' | 'counter', v: number) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${v}`;
    const req = ['# HELP baichuan2_requests_total HTTP requests by route and status', '# TYPE baichuan2_requests_total counter',
      ...[...this.requests].map(([k, v]) => `baichuan2_requests_total{${k}} ${v}`)].join('\n');
    return [
      req,
      g('baichuan2_prompt_tokens_total', 'prompt tokens of completed requests', 'counter', this.promptTokens),
      g('baichuan2_completion_tokens_total', 'generated tokens of completed requests', 'counter', this.completionTokens),
      g('baichuan2_queue_depth', 'sequences waiting for a KV slot', 'gauge', s.queued),
      g('baichuan2_running_sequences', 'sequences holding a KV slot', 'gauge', s.running),
      g('baichuan2_batch_size', 'rows in the last decode step', 'gauge', s.batchSize),
      g('baichuan2_slots', 'KV slots (--parallel)', 'gauge', s.slots),
      g('baichuan2_prefill_tokens_total', 'prompt tokens prefilled', 'counter', s.prefillTokens),
      g('baichuan2_prefill_seconds_total', 'seconds spent in prefill forwards', 'counter', s.prefillSeconds),
      g('baichuan2_decode_tokens_total', 'tokens decoded in batched steps', 'counter', s.decodeTokens),
      g('baichuan2_decode_seconds_total', 'seconds spent in decode steps', 'counter', s.decodeSeconds),
      g('baichuan2_ready', '1 once the model is loaded', 'gauge', ready ? 1 : 0),
      g('process_resident_memory_bytes', 'resident memory of the server process', 'gauge', process.memoryUsage.rss()),
      this.ttft.render('baichuan2_time_to_first_token_seconds', 'time from request to the first generated token'),
      this.interToken.render('baichuan2_inter_token_latency_seconds', 'time between consecutive tokens of a choice'),
    ].join('\n') + '\n';
  }
}
