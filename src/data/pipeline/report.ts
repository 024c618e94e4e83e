// The run report: documents and bytes in/out per stage and per rule (the
// paper's Figure 2 as a table and a bar chart of the share of raw bytes each
// stage removed), examples of what each rule removed, malformed input.
import type { PipelineResult } from './run.js';

const pct = (a: number, b: number) => (b > 0 ? ((100 * a) / b).toFixed(2) + '%' : '–');
const mb = (b: number) => (b / 1e6).toFixed(2);

export function reportMarkdown(r: PipelineResult): string {
  const raw = r.stages[0]?.bytesIn ?? 0;
  const lines = ['# Data pipeline report', '', '| Stage | Docs in | Docs out | MB in | MB out | Removed (of raw bytes) | Seconds | MB/s |', '|---|---|---|---|---|---|---|---|'];
  for (const s of r.stages)
    lines.push(`| ${s.stage} | ${s.docsIn} | ${s.docsOut} | ${mb(s.bytesIn)} | ${mb(s.bytesOut)} | ${pct(s.bytesIn - s.bytesOut, raw)} | ${s.seconds.toFixed(1)} | ${s.seconds > 0 ? (s.bytesIn / 1e6 / s.seconds).toFixed(1) : '–'} |`);
  const last = r.stages[r.stages.length - 1];
  if (last) lines.push('', `Kept ${pct(last.bytesOut, raw)} of the raw bytes (${mb(last.bytesOut)} of ${mb(raw)} MB).`);
  lines.push('', '## Rules', '', '| Stage | Rule | Units | MB | Example |', '|---|---|---|---|---|');
  for (const s of r.stages)
    for (const [k, v] of Object.entries(s.rules))
      lines.push(`| ${s.stage} | ${k} | ${v.docs} | ${mb(v.bytes)} | ${v.examples[0] ? '`' + v.examples[0].replace(/[\n|`]/g, ' ').slice(0, 100) + '`' : ''} |`);
  lines.push('', '## Examples of removed text', '');
  for (const s of r.stages)
    for (const [k, v] of Object.entries(s.rules)) {
      if (!v.examples.length) continue;
      lines.push(`### ${s.stage}: ${k}`, '');
      for (const e of v.examples) lines.push('```', e.replace(/```/g, "'''"), '```');
      lines.push('');
    }
  return lines.join('\n') + '\n';
}

/** A horizontal bar chart (SVG): the share of the raw bytes each stage removed. */
export function reportSvg(r: PipelineResult): string {
  const raw = r.stages[0]?.bytesIn || 1;
  const rows = r.stages.slice(1).map((s) => ({ name: s.stage, share: (s.bytesIn - s.bytesOut) / raw }));
  const W = 640, rowH = 28, left = 190, H = 40 + rowH * (rows.length + 1);
  const max = Math.max(0.01, ...rows.map((x) => x.share), r.stages.length ? (r.stages[r.stages.length - 1]!.bytesOut / raw) : 0);
  const bar = (y: number, name: string, share: number, color: string) =>
    `<text x="${left - 8}" y="${y + 18}" text-anchor="end" font-size="13">${name}</text>` +
    `<rect x="${left}" y="${y + 4}" width="${((W - left - 70) * share) / max}" height="${rowH - 8}" fill="${color}"/>` +
    `<text x="${left + ((W - left - 70) * share) / max + 6}" y="${y + 18}" font-size="12">${(100 * share).toFixed(2)}%</text>`;
  const parts = rows.map((x, i) => bar(30 + i * rowH, x.name, x.share, '#c0504d'));
  const kept = r.stages.length ? r.stages[r.stages.length - 1]!.bytesOut / raw : 0;
  parts.push(bar(30 + rows.length * rowH, 'kept', kept, '#4f81bd'));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">` +
    `<text x="10" y="18" font-size="14">Share of raw bytes removed per stage (cf. paper Figure 2)</text>${parts.join('')}</svg>\n`;
}
