// Released-size checkpoints from download to chat, measured: PyTorch writes a
// random 13B- or 7B-shaped bf16 checkpoint as sharded .bin files
// (bench/torch_bin_checkpoint.py), then each step runs as its own process
// under /usr/bin/time (peak RSS, wall time):
//   13b: quantize --bits 4 from the .bin shards; generate on the 4-bit result;
//        convert .bin -> sharded safetensors (when the disk has room)
//   7b:  loadModel from .bin; convert; loadModel from safetensors
// Every job that may pass 4 GB runs under `flock /work/wt/bigmem.lock` (the
// machine is shared), each big folder is deleted as soon as it is measured, and
// the results are appended to BENCHMARKS.md with --append.
//
//   npm run build:ts && node dist/bench/checkpoint-io.js --size 13b --work /work/tmp-ckpt --append BENCHMARKS.md
//   node dist/bench/checkpoint-io.js load DIR [--format bin]   (one measured load; used by the steps)
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/io/hf-folder.js';
import { listWeights } from '../src/io/weight-files.js';
import { Tensor } from '../src/engine/tensor.js';
import { noGrad } from '../src/engine/autograd.js';
import { firstNonFinite } from '../src/io/tensor-source.js';
import { machineLine, machineInfo } from './machine.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'bin/baichuan2.js');
const LOCK = '/work/wt/bigmem.lock';

interface Step { step: string; seconds: number; peak_rss_gib: number; note: string }

/** Run a command under flock + /usr/bin/time -v; peak RSS from its report. */
function measured(step: string, cmd: string[], note = ''): Step {
  const lock = fs.existsSync(path.dirname(LOCK)) ? ['flock', LOCK] : [];
  console.error(`[bench] ${step}: ${cmd.join(' ')}`);
  const t0 = performance.now();
  const r = spawnSync(lock[0] ?? '/usr/bin/time', [...lock.slice(1), ...(lock.length ? ['/usr/bin/time'] : []), '-v', ...cmd], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20, stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = (performance.now() - t0) / 1000;
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const wall = /Elapsed \(wall clock\) time[^:]*: ([\d:.]+)/.exec(r.stderr);
  if (r.status !== 0) throw new Error(`${step} failed (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
  const secs = wall ? wall[1]!.split(':').reduce((a, x) => a * 60 + Number(x), 0) : seconds;
  const s: Step = { step, seconds: secs, peak_rss_gib: m ? Number(m[1]) / 2 ** 20 : NaN, note: note || r.stdout.trim().split('\n').pop()!.slice(0, 200) };
  console.error(`[bench] ${step}: ${s.seconds.toFixed(1)} s, peak RSS ${s.peak_rss_gib.toFixed(2)} GiB · ${s.note}`);
  return s;
}

const dirBytes = (d: string) => fs.readdirSync(d).reduce((a, f) => a + fs.statSync(path.join(d, f)).size, 0);
const freeBytes = (d: string) => { const s = fs.statfsSync(d); return s.bavail * s.bsize; };
const gib = (b: number) => (b / 2 ** 30).toFixed(2);

/** Child mode: load a folder (for inference), one forward of 4 tokens, print JSON. */
function loadOnce(dir: string, format: 'bin' | 'safetensors'): void {
  const t0 = performance.now();
  const weightBytes = listWeights(dir, format).sources.reduce((a, s) => a + s.bytes, 0);
  const m = loadModel(dir, { format, inference: true });
  const loadS = (performance.now() - t0) / 1000;
  const rssAfterLoad = process.resourceUsage().maxRSS * 1024;
  noGrad(() => m.forward(Tensor.from([1, 92, 4003, 7], [1, 4], 'i32'), { lastLogitsOnly: true }));
  console.log(JSON.stringify({ format, load_s: loadS, weight_bytes: weightBytes, peak_rss_after_load: rssAfterLoad, peak_rss: process.resourceUsage().maxRSS * 1024 }));
}

/** Speed of the load-time NaN/Inf scan over a 1 GiB tensor per dtype (best of 3). */
function scanBench(): string {
  const rows: string[] = [];
  for (const dtype of ['bf16', 'f16', 'f32'] as const) {
    const bytes = 2 ** 30, n = bytes / (dtype === 'f32' ? 4 : 2);
    const data = dtype === 'f32' ? new Float32Array(n).fill(0.5) : new Uint16Array(n).fill(dtype === 'bf16' ? 0x3f00 : 0x3800);
    const t = Tensor.fromStorage(data, [n / 4096, 4096], dtype);
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      if (firstNonFinite(t) !== -1) throw new Error('scan found a non-finite value in finite data');
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    rows.push(`| ${dtype} | ${(bytes / 2 ** 30).toFixed(0)} GiB | ${best.toFixed(3)} | ${(bytes / 2 ** 30 / best).toFixed(2)} |`);
  }
  return ['| dtype | tensor | scan s | GiB/s |', '|---|---|---|---|', ...rows].join('\n');
}

function main(argv: string[]): void {
  if (argv[0] === 'scan') {
    const md = `\n### bench checkpoint-io scan (\`node dist/bench/checkpoint-io.js scan\`: the full NaN/Inf scan loadModel runs on every tensor) — ${machineLine(machineInfo())}\n\n${scanBench()}\n`;
    console.log(md);
    if (argv.includes('--append')) fs.appendFileSync(argv[argv.indexOf('--append') + 1]!, md);
    return;
  }
  if (argv[0] === 'load') { loadOnce(argv[1]!, argv.includes('--format') ? (argv[argv.indexOf('--format') + 1] as 'bin') : 'safetensors'); return; }
  const arg = (k: string, d?: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1]! : d; };
  const size = arg('--size', '13b')!;
  if (size !== '13b' && size !== '7b' && size !== 'small') throw new Error('--size must be 13b, 7b or small (a smoke test of the 13b steps)');
  const work = path.resolve(arg('--work', '/work/tmp-ckpt')!);
  const append = arg('--append');
  fs.mkdirSync(work, { recursive: true });
  const bin = path.join(work, `${size}-bin`), st = path.join(work, `${size}-st`), q4 = path.join(work, `${size}-q4`);
  for (const d of [bin, st, q4]) fs.rmSync(d, { recursive: true, force: true });
  const steps: Step[] = [];
  const rows: string[] = [];
  try {
    const shards = size === '7b' ? '2' : '3';
    steps.push(measured(`torch writes ${size} bf16 as ${shards} .bin shards`, ['/usr/bin/python3', path.join(ROOT, 'bench/torch_bin_checkpoint.py'), '--out', bin, '--preset', size, '--shards', shards]));
    const wb = dirBytes(bin);
    rows.push(`checkpoint: ${gib(wb)} GiB in ${fs.readdirSync(bin).filter((f) => f.endsWith('.bin')).length} .bin shards`);
    if (size !== '7b') {
      steps.push(measured('quantize --bits 4 from the .bin shards', ['node', CLI, 'quantize', '--model', bin, '--bits', '4', '--out', q4]));
      steps.push(measured('generate 16 tokens on the 4-bit model', ['node', CLI, 'generate', '--model', q4, '--ids', '1,92,4003,7,195', '--max-new-tokens', '16', '--greedy']));
      fs.rmSync(q4, { recursive: true, force: true });
    } else {
      steps.push(measured('loadModel from .bin (+ 4-token forward)', ['node', fileURLToPath(import.meta.url), 'load', bin, '--format', 'bin']));
    }
    if (freeBytes(work) > wb * 1.15) {
      steps.push(measured('convert .bin -> sharded safetensors', ['node', CLI, 'convert', '--model', bin, '--out', st]));
      fs.rmSync(bin, { recursive: true, force: true });
      if (size === '7b') steps.push(measured('loadModel from safetensors (+ 4-token forward)', ['node', fileURLToPath(import.meta.url), 'load', st, '--format', 'safetensors']));
    } else {
      rows.push(`convert skipped: ${gib(freeBytes(work))} GiB free on ${work}, it needs ${gib(wb)} GiB`);
    }
  } finally {
    for (const d of [bin, st, q4]) fs.rmSync(d, { recursive: true, force: true });
  }
  const table = ['| step | wall s | peak RSS GiB | output |', '|---|---|---|---|', ...steps.map((s) => `| ${s.step} | ${s.seconds.toFixed(1)} | ${s.peak_rss_gib.toFixed(2)} | ${s.note.replace(/\|/g, '/')} |`)];
  const md = `\n### bench checkpoint-io ${size} (\`node dist/bench/checkpoint-io.js --size ${size}\`) — ${machineLine(machineInfo())}\n${rows.map((r) => `- ${r}`).join('\n')}\n\n${table.join('\n')}\n`;
  console.log(md);
  if (append) fs.appendFileSync(append, md);
}

main(process.argv.slice(2));
