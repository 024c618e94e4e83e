// `baichuan2 bench data`: the data pipeline's throughput (MB/s and documents/s
// per stage), peak RSS, and how time grows with corpus size. The corpus is
// built from text installed with the dependencies (the demo corpus: Chinese
// poetry, package READMEs, TypeScript .d.ts) plus ../shared/data/corpus when
// present, replicated with controlled duplicates: 15% exact copies (case and
// spacing changed), 15% near copies (3% of words replaced), the rest "fresh"
// variants (50% of words replaced, so they are not near duplicates). Replacement
// words (characters, for Chinese) are drawn from the corpus itself, so the
// variants stay plausible text for the quality filter.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildDemoCorpus } from '../src/data/demo-corpus.js';
import { Rng } from '../src/engine/rng.js';
import { parsePipelineConfig } from '../src/data/pipeline/config.js';
import { runPipeline } from '../src/data/pipeline/run.js';
import { machineInfo, machineLine } from './machine.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface DataBench {
  size_mb: number; documents: number; total_s: number; peak_rss_bytes: number;
  stages: { stage: string; mb_in: number; docs_in: number; seconds: number; mb_per_s: number; docs_per_s: number; removed_pct_of_raw: number }[];
}

function baseDocs(): { text: string; source: string }[] {
  const docs: { text: string; source: string }[] = buildDemoCorpus(ROOT, 1_500_000).map((d) => ({ text: d.text, source: d.lang }));
  const shared = path.resolve(ROOT, '../shared/data/corpus/demo-mix-v1.train.jsonl');
  if (fs.existsSync(shared))
    for (const l of fs.readFileSync(shared, 'utf8').split('\n')) if (l.trim()) { const j = JSON.parse(l) as { text: string; lang: string }; docs.push({ text: j.text, source: j.lang }); }
  return docs.filter((d) => d.text.length >= 200);
}

/** Write a JSONL corpus of about `mb` megabytes; returns its path and document count. */
export function buildBenchCorpus(mb: number, file: string): { documents: number; bytes: number } {
  const base = baseDocs();
  const rng = new Rng(42);
  const fd = fs.openSync(file, 'w');
  let bytes = 0, documents = 0, i = 0;
  const enWords = base.filter((d) => d.source !== 'zh').flatMap((d) => d.text.split(' ').slice(0, 200)).filter((w) => /^[A-Za-z]{2,12}$/.test(w));
  const zhChars = base.filter((d) => d.source === 'zh').flatMap((d) => Array.from(d.text).slice(0, 300)).filter((c) => /\p{Script=Han}/u.test(c));
  const mutate = (text: string, rate: number) => text.split(' ').map((w) => (rng.uniform() < rate ? enWords[rng.int(enWords.length)]! : w)).join(' ');
  const mutateZh = (text: string, rate: number) => Array.from(text).map((c) => (rng.uniform() < rate && /\p{Script=Han}/u.test(c) ? zhChars[rng.int(zhChars.length)]! : c)).join('');
  try {
    while (bytes < mb * 1e6) {
      const d = base[i++ % base.length]!;
      const r = rng.uniform();
      const zh = d.source === 'zh';
      let text: string;
      if (i <= base.length) text = d.text;
      else if (r < 0.15) text = '  ' + d.text.toUpperCase() + ' ';
      else if (r < 0.30) text = zh ? mutateZh(d.text, 0.03) : mutate(d.text, 0.03);
      else text = zh ? mutateZh(d.text, 0.5) : mutate(d.text, 0.5);
      const line = JSON.stringify({ text, source: d.source }) + '\n';
      fs.writeSync(fd, line);
      bytes += Buffer.byteLength(text);
      documents++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { documents, bytes };
}

/** One size, in this process (so peak RSS is this run's). */
export async function benchDataOnce(mb: number, work: string, log: (s: string) => void = () => {}): Promise<DataBench> {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const input = path.join(work, 'corpus.jsonl');
  const { documents } = buildBenchCorpus(mb, input);
  log(`corpus: ${documents} documents, ${mb} MB`);
  const reference = path.resolve(ROOT, '../shared/data/corpus/demo-mix-v1.val.jsonl');
  const ref = fs.existsSync(reference) ? reference : input;
  const c = parsePipelineConfig({ inputs: [input], out: path.join(work, 'out'), shard_docs: 2000, quality: { reference: [ref] }, filter: { exempt_sources: '^code' }, mix: { weights: { zh: 0.4, en: 0.4, code: 0.2 } } });
  const t0 = performance.now();
  const r = await runPipeline(c, { log });
  const total = (performance.now() - t0) / 1000;
  const raw = r.stages[0]!.bytesIn;
  return {
    size_mb: mb, documents, total_s: total, peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    stages: r.stages.map((s) => ({ stage: s.stage, mb_in: s.bytesIn / 1e6, docs_in: s.docsIn, seconds: s.seconds, mb_per_s: s.bytesIn / 1e6 / s.seconds, docs_per_s: s.docsIn / s.seconds, removed_pct_of_raw: (100 * (s.bytesIn - s.bytesOut)) / raw })),
  };
}

/** Each size in its own process (separate peak RSS), then one report. */
export function benchData(sizes: number[], work: string, log: (s: string) => void = () => {}): DataBench[] {
  return sizes.map((mb) => {
    log(`bench data: ${mb} MB`);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/baichuan2.js'), 'bench', 'data', '--size-mb', String(mb), '--work', path.join(work, `${mb}mb`), '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`bench data ${mb} MB failed (exit ${r.status})`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as DataBench;
  });
}

export function dataReport(rows: DataBench[]): string {
  const lines = [`### bench data — ${machineLine(machineInfo())}`, ''];
  for (const r of rows) {
    lines.push(`**${r.size_mb} MB** (${r.documents} documents): ${r.total_s.toFixed(1)} s in all, peak RSS ${(r.peak_rss_bytes / 2 ** 30).toFixed(2)} GiB`, '',
      '| Stage | MB in | Docs in | Seconds | MB/s | Docs/s | Removed (% of raw) |', '|---|---|---|---|---|---|---|');
    for (const s of r.stages) lines.push(`| ${s.stage} | ${s.mb_in.toFixed(1)} | ${s.docs_in} | ${s.seconds.toFixed(1)} | ${s.mb_per_s.toFixed(1)} | ${s.docs_per_s.toFixed(0)} | ${s.removed_pct_of_raw.toFixed(2)} |`);
    lines.push('');
  }
  if (rows.length >= 2) {
    const [a, b] = [rows[0]!, rows[rows.length - 1]!];
    lines.push(`Scaling ${a.size_mb} → ${b.size_mb} MB (×${(b.size_mb / a.size_mb).toFixed(1)} data): total time ×${(b.total_s / a.total_s).toFixed(2)}; per stage: ` +
      a.stages.map((s, i) => `${s.stage} ×${(b.stages[i]!.seconds / s.seconds).toFixed(2)}`).join(', ') + '.', '');
  }
  return lines.join('\n');
}
