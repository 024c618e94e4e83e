// Writing a run's report (Markdown, JSON, SVG) and the manifest of the final shards.
import fs from 'node:fs';
import path from 'node:path';
import { reportMarkdown, reportSvg } from './report.js';
import type { PipelineResult } from './run.js';

export function writeRunOutputs(out: string, r: PipelineResult): void {
  fs.writeFileSync(path.join(out, 'report.md'), reportMarkdown(r));
  fs.writeFileSync(path.join(out, 'report.svg'), reportSvg(r));
  fs.writeFileSync(path.join(out, 'report.json'), JSON.stringify({ stages: r.stages }, null, 1) + '\n');
  const last = r.stages[r.stages.length - 1]!;
  const manifest = { shards: r.shards.map((s) => path.relative(out, s)), documents: last.docsOut, bytes: last.bytesOut, stages: r.stages.map((s) => s.stage) };
  fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}
