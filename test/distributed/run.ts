// Run the CLI as a child process (the launcher and its ranks), for the data-parallel tests.
import path from 'node:path';
import { spawn } from 'node:child_process';

const BIN = path.resolve('bin/baichuan2.js');

export interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/** Run the CLI; `during(stderrSoFar, child)` is called on every stderr chunk (to send signals mid-run). */
export function cli(args: string[], o: { during?: (err: string, pid: number) => void; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, OMP_NUM_THREADS: '1', ...o.env } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; o.during?.(stderr, child.pid!); });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }); });
  });
}

