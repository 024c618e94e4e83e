// `--perf` mode of the kernel table (`baichuan2 bench kernels`): every row
// that is not test-only, at its perf size, timed on each given build
// (warm-up, then the median of at least 3 runs and 300 ms, at most 30).
import { native } from '../../src/engine/native.js';
import type { KernelCase } from './case.js';
import { KERNEL_CASES } from './index.js';

export interface PerfRow { case: string; build: string; ms: number; gflops?: number; gbs?: number }

function timeIt(fn: () => void, minMs = 300): number {
  fn();
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < 3 || performance.now() - t0 < minMs) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
    if (times.length >= 30) break;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Times every case (perf sizes) on each given build; the kernel benchmark. */
export function runPerf(builds: string[], filter: RegExp | null, log: (s: string) => void = () => {}, cases: KernelCase[] = KERNEL_CASES): PerfRow[] {
  const rows: PerfRow[] = [];
  const active = native.info().arch;
  try {
    for (const c of cases) {
      if (c.testOnly || (filter && !filter.test(c.name))) continue;
      const inst = c.make('perf');
      for (const b of builds) {
        native.setArch(b);
        const ms = timeIt(() => inst.run());
        const row: PerfRow = { case: inst.label ?? `${c.name} (perf size)`, build: b, ms };
        if (inst.flops) row.gflops = inst.flops / ms / 1e6;
        if (inst.bytes) row.gbs = inst.bytes / ms / 1e6;
        rows.push(row);
        log(`${row.case} [${b}]: ${ms.toFixed(3)} ms${row.gflops ? `, ${row.gflops.toFixed(1)} GFLOP/s` : ''}${row.gbs ? `, ${row.gbs.toFixed(1)} GB/s` : ''}`);
      }
    }
  } finally {
    native.setArch(active);
  }
  return rows;
}

/** Markdown: one row per case, one column per build (GFLOP/s where the case counts FLOPs, else GB/s, else ms). */
export function perfReport(rows: PerfRow[], header: string): string {
  const builds = [...new Set(rows.map((r) => r.build))];
  const cases = [...new Set(rows.map((r) => r.case))];
  const lines = [header, '', `kernel table at model sizes (\`baichuan2 bench kernels\`); median ms and GFLOP/s (FLOP-counted cases) or GB/s; builds: ${builds.join(', ')}`, '',
    `| case | ${builds.join(' | ')} | ${builds[0]} ÷ ${builds[builds.length - 1]} |`, `|---|${builds.map(() => '---|').join('')}---|`];
  for (const c of cases) {
    const cells = builds.map((b) => rows.find((r) => r.case === c && r.build === b));
    const fmt = (r?: PerfRow) => !r ? 'n/a' : r.gflops ? `${r.gflops.toFixed(1)} GFLOP/s` : r.gbs ? `${r.gbs.toFixed(1)} GB/s` : `${r.ms.toFixed(2)} ms`;
    const first = cells[0], last = cells[cells.length - 1];
    lines.push(`| ${c} | ${cells.map(fmt).join(' | ')} | ${first && last ? (last.ms / first.ms).toFixed(2) : 'n/a'} |`);
  }
  return lines.join('\n') + '\n';
}
