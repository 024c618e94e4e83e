// A long-lived numpy process for paired timing: our GEMM and numpy's run
// alternately, seconds apart, so a per-round ratio cancels the slow clock
// drift of a shared VM (bench/numpy_gemm.py is the other end).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export class NumpyWorker {
  private readonly lines: string[] = [];
  private readonly waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private stderr = '';
  private exited: Error | null = null;

  /** The BLAS numpy runs and the kernel OpenBLAS picked. */
  blas = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  /** Starts the worker; rejects with the reason where python3 or numpy is missing. */
  static async start(): Promise<NumpyWorker> {
    const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/numpy_gemm.py');
    // OpenBLAS picks its own kernel for this CPU: the environment's OPENBLAS_CORETYPE /
    // OPENBLAS_L2_SIZE are removed for this process only
    const env = { ...process.env };
    delete env['OPENBLAS_CORETYPE'];
    delete env['OPENBLAS_L2_SIZE'];
    const child = spawn('python3', [script], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const w = new NumpyWorker(child);
    child.stderr.on('data', (d: Buffer) => { w.stderr = (w.stderr + d.toString()).slice(-2000); });
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const next = w.waiting.shift();
      if (next) next.resolve(line); else w.lines.push(line);
    });
    const fail = (why: string) => {
      w.exited = new Error(`numpy unavailable (${why}${w.stderr.trim() ? `: ${w.stderr.trim().split('\n').pop()}` : ''})`);
      for (const x of w.waiting.splice(0)) x.reject(w.exited);
    };
    child.on('error', (e) => fail(e.message));
    child.on('exit', (code) => fail(`python3 exited with ${code}`));
    const hello = JSON.parse(await w.nextLine()) as { blas: string; core?: string };
    w.blas = `${hello.blas}, OpenBLAS kernel ${hello.core ?? 'unknown'} (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset)`;
    return w;
  }

  private nextLine(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Seconds of each of `runs` products A [m, k] · B [n, k]^T. */
  async time(m: number, n: number, k: number, runs: number): Promise<number[]> {
    if (this.exited) throw this.exited;
    this.child.stdin.write(JSON.stringify({ m, n, k, runs }) + '\n');
    return (JSON.parse(await this.nextLine()) as { seconds: number[] }).seconds;
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}
