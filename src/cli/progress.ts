// A progress line on stderr: redrawn in place on a terminal, a line every
// ~10% otherwise (logs stay readable in CI). With `bytes`, counts print as
// sizes (GiB) with the rate, for long reads and writes.
export class Progress {
  private lastPct = -1;
  private readonly start = performance.now();
  constructor(private readonly label: string, private readonly total: number, private readonly stream = process.stderr, private readonly bytes = false) {}

  /** A bar whose counts are bytes: "3.2/26.5 GiB (12%) 410 MiB/s". */
  static bytes(label: string, total: number, stream = process.stderr): Progress {
    return new Progress(label, total, stream, true);
  }

  update(done: number, extra = ''): void {
    const pct = this.total > 0 ? Math.floor((100 * done) / this.total) : 100;
    const elapsed = (performance.now() - this.start) / 1000;
    const eta = done > 0 ? (elapsed * (this.total - done)) / done : 0;
    const counts = this.bytes
      ? `${gib(done)}/${gib(this.total)} GiB (${pct}%) ${elapsed > 0 ? (done / 2 ** 20 / elapsed).toFixed(0) : '-'} MiB/s`
      : `${done}/${this.total} (${pct}%)`;
    const line = `${this.label} ${counts} ${elapsed.toFixed(1)}s elapsed, ETA ${eta.toFixed(1)}s${extra ? ' · ' + extra : ''}`;
    if (this.stream.isTTY && elapsed > 0.5) {
      this.stream.write(`\r\x1b[K${line}`);
      if (done >= this.total) this.stream.write('\n');
    } else if (elapsed > 2 && (pct >= this.lastPct + 10 || done >= this.total)) {  // short jobs stay quiet
      this.stream.write(line + '\n');
      this.lastPct = pct;
    }
  }
}

function gib(n: number): string {
  return (n / 2 ** 30).toFixed(n >= 10 * 2 ** 30 ? 1 : 2);
}

/**
 * A trainer's log callback: non-final lines redraw one status line on a
 * terminal (and are dropped otherwise); final lines are kept, on `finalStream`.
 */
export function progressLog(finalStream: NodeJS.WriteStream = process.stderr): (line: string, final?: boolean) => void {
  const tty = process.stderr.isTTY;
  return (line, final) => {
    if (!final) { if (tty) process.stderr.write(`\r\x1b[K${line}`); }
    else finalStream.write(`${tty ? '\r\x1b[K' : ''}${line}\n`);
  };
}
