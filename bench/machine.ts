// Describes the machine, build and commit for benchmark reports.
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { native } from '../src/engine/native.js';
import { kernelLine } from '../src/engine/backend.js';

export interface MachineInfo {
  date: string;
  cpu: string;
  cores: number;
  memGiB: number;
  node: string;
  kernels: string;
  /** the active build with its capabilities and threads (backend.kernelLine) */
  kernelLine: string;
  features: string;
  threads: number;
  commit: string;
  /** 1-minute load average when the report was made (the machine may be shared) */
  load: number;
}

export function machineInfo(): MachineInfo {
  const info = native.info();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch { /* not a git checkout */ }
  return {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernels: info.arch,
    kernelLine: kernelLine(),
    features: Object.entries(info.features).filter(([k, v]) => v && !k.startsWith('os')).map(([k]) => k).join(' '),
    threads: info.threads,
    commit,
    load: os.loadavg()[0]!,
  };
}

export function machineLine(m: MachineInfo): string {
  return `${m.date} · ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB · node ${m.node} · ${m.kernelLine} · CPU ${m.features} · load ${m.load.toFixed(2)} · commit ${m.commit}`;
}

/** Median of run times after one warm-up, with at least `minRuns` runs and ~`minSeconds` total. */
export function timeMedian(fn: () => void, minRuns = 3, minSeconds = 1): number {
  fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || (performance.now() - start) / 1000 < minSeconds) {
    const t = performance.now();
    fn();
    times.push((performance.now() - t) / 1000);
    if (times.length >= 50) break;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
