// `baichuan2 sandbox run FILE.py`: run one program exactly as eval runs a
// HumanEval/MBPP completion (same launcher, limits and guard) and print its
// status as JSON, for debugging a task or a sandbox. Exit 0 when the program
// passed, 1 when it failed or timed out, 2 on a usage error.
import fs from 'node:fs';
import type { Command } from 'commander';
import { runPython } from '../eval/sandbox.js';
import { parseFloatFlag, parseIntFlag, UsageError } from './flags.js';

interface SandboxFlags { timeout: string; memory: string; unsafeExec?: boolean }

export function registerSandbox(program: Command): void {
  const sandbox = program.command('sandbox').description('the evaluation sandbox for generated code');
  sandbox
    .command('run <file>')
    .description('run one Python program the way eval runs generated code; prints a JSON status')
    .option('--timeout <s>', 'wall-clock seconds', '10')
    .option('--memory <mb>', 'address-space limit (MiB)', '2048')
    .option('--unsafe-exec', 'run even when the sandbox is below its minimum (no network namespace or no read-only filesystem)')
    .action(async (file: string, o: SandboxFlags) => {
      let source: string;
      try { source = fs.readFileSync(file, 'utf8'); } catch (e) { throw new UsageError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
      const r = await runPython(source, {
        timeoutMs: parseFloatFlag(o.timeout, '--timeout', 0.1, 3600) * 1000,
        memoryBytes: parseIntFlag(o.memory, '--memory', 64, 1 << 20) * 2 ** 20,
        unsafeExec: o.unsafeExec === true,
      });
      process.stdout.write(JSON.stringify({ file, status: r.status, exitCode: r.exitCode, signal: r.signal, ms: Math.round(r.ms), isolation: r.isolation, stdout: r.stdout, stderr: r.stderr }, null, 2) + '\n');
      process.exitCode = r.status === 'passed' ? 0 : 1;
    });
}
