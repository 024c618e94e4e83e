// `baichuan2 bench gemm`: GEMM GFLOP/s (f32, bf16) at square sizes and at the
// model's shapes, attention tokens/s, and numpy's f32 GEMM in the same run.
import fs from 'node:fs';
import { Tensor } from '../src/engine/tensor.js';
import { backend, kernelInfo, setKernels } from '../src/engine/backend.js';
import type { KernelBuild } from '../src/engine/native.js';
import { attention } from '../src/engine/ops/attention.js';
import { backward } from '../src/engine/autograd.js';
import { machineInfo, machineLine, timeMedian } from './machine.js';
import { NumpyWorker } from './numpy-worker.js';

export interface GemmRow { dtype: 'f32' | 'bf16'; label: string; m: number; n: number; k: number; gflops: number; numpy_gflops: number | null; /** median of per-round ours/numpy (f32) */ ratio: number | null; build: string; before_build: string | null; before_gflops: number | null }
export interface AttnRow { T: number; H: number; D: number; fwd_tokens_per_s: number; fwdbwd_tokens_per_s: number; gemm_bound_ratio: number; bwd_gemm_bound_ratio: number; before_fwd_tokens_per_s: number | null; before_fwdbwd_tokens_per_s: number | null }

export interface EngineBenchOptions {
  quick?: boolean;
  log?: (s: string) => void;
  /** A second kernel build timed in the same run (the "before"); default avx2 when the active build is another one. */
  before?: KernelBuild | null;
}

/** The comparison build: the given one, or avx2 when it is supported and not the active build. */
export function beforeBuild(opts: EngineBenchOptions): KernelBuild | null {
  if (opts.before !== undefined) return opts.before;
  const i = kernelInfo();
  return i.arch !== 'avx2' && i.supported.includes('avx2') ? 'avx2' : null;
}

function gemmShapes(quick: boolean): { label: string; m: number; n: number; k: number }[] {
  const sq = (quick ? [512, 1024] : [512, 1024, 2048, 4096]).map((s) => ({ label: `${s}³`, m: s, n: s, k: s }));
  // 7B shapes (SPEC §4.1) for a T = 512 chunk: W_pack, gate/up, lm_head.
  const T = quick ? 128 : 512, C = 4096, F = 11008, V = 125696;
  return sq.concat([
    { label: 'T×C · C×3C', m: T, n: 3 * C, k: C },
    { label: 'T×C · C×F', m: T, n: F, k: C },
    { label: 'T×C · C×V', m: T, n: quick ? 8192 : V, k: C },
  ]);
}

/** Median of xs (not modified). */
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Our f32 GEMM and numpy's in alternating rounds, seconds apart: this VM's
 * clock drifts by tens of percent over minutes, so the ratio is the median
 * of per-round ratios, never two passes minutes apart. The pauses let the
 * other side's idle threads (OpenMP's, OpenBLAS's) go to sleep first.
 */
async function pairedF32(np: NumpyWorker, s: { m: number; n: number; k: number }, run: () => void, rounds: number): Promise<{ ours: number; numpy: number; ratio: number }> {
  const flops = 2 * s.m * s.n * s.k;
  const runs = flops > 1e11 ? 1 : flops > 1e10 ? 2 : 5;
  run();
  await np.time(s.m, s.n, s.k, 1);  // makes numpy's operands and warms it up
  const ours: number[] = [], theirs: number[] = [], ratio: number[] = [];
  for (let r = 0; r < rounds; r++) {
    await pause(300);
    const t: number[] = [];
    for (let i = 0; i < runs; i++) { const t0 = performance.now(); run(); t.push((performance.now() - t0) / 1000); }
    await pause(50);
    const tn = median(await np.time(s.m, s.n, s.k, runs)), to = median(t);
    ours.push(flops / to / 1e9); theirs.push(flops / tn / 1e9); ratio.push(tn / to);
  }
  return { ours: median(ours), numpy: median(theirs), ratio: median(ratio) };
}

export async function benchGemm(opts: EngineBenchOptions = {}): Promise<{ rows: GemmRow[]; blas: string; bf16: string; rounds: number }> {
  const log = opts.log ?? (() => {});
  const shapes = gemmShapes(!!opts.quick);
  const rows: GemmRow[] = [];
  const build = kernelInfo().arch, before = beforeBuild(opts);
  const bf = kernelInfo().bf16Gemm, bf16 = `${bf.variant} (${bf.why})`;  // which bf16 x bf16 GEMM runs, and why
  log(`bf16 GEMM variant of ${build}: ${bf16}`);
  const rounds = opts.quick ? 3 : 7;
  let np: NumpyWorker | null = null, blas = '';
  try { np = await NumpyWorker.start(); blas = np.blas; } catch (e) { blas = (e as Error).message; log(blas); }
  try {
    for (const s of shapes) {
      const A = Tensor.randn([s.m, s.k], { seed: 1 }).f32();
      const Bw = Tensor.randn([s.n, s.k], { seed: 2 }).f32();  // weights are [out, in]: B is used transposed, as in a Linear
      const C = new Float32Array(s.m * s.n);
      for (const dtype of ['f32', 'bf16'] as const) {
        const a = dtype === 'f32' ? A : Tensor.from(A, [s.m, s.k]).astype('bf16').data as Uint16Array;
        const b = dtype === 'f32' ? Bw : Tensor.from(Bw, [s.n, s.k]).astype('bf16').data as Uint16Array;
        const run = () => backend().gemm({ transA: false, transB: true, M: s.m, N: s.n, K: s.k, alpha: 1, beta: 0, A: a, lda: s.k, strideA: 0, B: b, ldb: s.k, strideB: 0, C, ldc: s.n, strideC: 0, batch: 1 });
        const time = () => (2 * s.m * s.n * s.k) / timeMedian(run) / 1e9;
        let gflops: number, numpyGflops: number | null = null, ratio: number | null = null;
        if (dtype === 'f32' && np) ({ ours: gflops, numpy: numpyGflops, ratio } = await pairedF32(np, s, run, rounds));
        else gflops = time();
        let beforeGflops: number | null = null;
        if (before) {
          setKernels(before);
          try { beforeGflops = time(); } finally { setKernels(build); }
        }
        rows.push({ dtype, label: s.label, m: s.m, n: s.n, k: s.k, gflops, numpy_gflops: numpyGflops, ratio, build, before_build: before, before_gflops: beforeGflops });
        log(`gemm ${dtype} ${s.label} (${s.m}×${s.n}×${s.k}): ${build} ${gflops.toFixed(1)} GFLOP/s${numpyGflops !== null ? `, numpy ${numpyGflops.toFixed(1)}, ratio ${ratio!.toFixed(3)} (median of ${rounds} rounds)` : ''}${before ? `, ${before} ${beforeGflops!.toFixed(1)}` : ''}`);
      }
    }
  } finally {
    np?.close();
  }
  return { rows, blas, bf16, rounds };
}

/**
 * Attention against its GEMM-bound time: each round times a reference f32
 * GEMM (2048^3; 1024^3 with quick) right before the attention, and the ratio
 * is the median of per-round ratios (the VM's clock drifts by tens of percent
 * between the GEMM table and this one).
 */
export function benchAttention(opts: EngineBenchOptions = {}): AttnRow[] {
  const log = opts.log ?? (() => {});
  const rows: AttnRow[] = [];
  const H = opts.quick ? 8 : 32, D = 128;
  const S = opts.quick ? 1024 : 2048, rounds = opts.quick ? 3 : 5;
  const RA = Tensor.randn([S, S], { seed: 5 }).f32(), RB = Tensor.randn([S, S], { seed: 6 }).f32(), RC = new Float32Array(S * S);
  const refGflops = () => (2 * S ** 3) / timeMedian(() => backend().gemm({ transA: false, transB: true, M: S, N: S, K: S, alpha: 1, beta: 0, A: RA, lda: S, strideA: 0, B: RB, ldb: S, strideB: 0, C: RC, ldc: S, strideC: 0, batch: 1 }), 3, 0) / 1e9;
  for (const T of opts.quick ? [512] : [512, 2048]) {
    const mk = (seed: number) => Tensor.randn([1, H, T, D], { seed });
    const q = mk(1), k = mk(2), v = mk(3);
    // fwd+bwd: the backward seeded with a contiguous [B, H, T, D] gradient, what the tape hands
    // attention's backward in training (a sum() seed would time a strided reduction and its copies)
    const g = Tensor.randn([1, H, T, D], { seed: 4 });
    const forward = () => { for (const x of [q, k, v]) x.requiresGrad_(false); attention(q, k, v); };
    const step = () => { for (const x of [q, k, v]) { x.requiresGrad_(); x.grad = null; } backward(attention(q, k, v), g); };
    // causal attention: QK^T and PV, each 2*T*T*D/2 FLOPs per head; the backward recomputes
    // QK^T and runs dO V^T, dQ, dK and dV: 2.5 times that
    const flops = 2 * T * T * D * H;
    const fwds: number[] = [], fbs: number[] = [], fRatio: number[] = [], bRatio: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const rate = refGflops();
      const fwd = timeMedian(forward, 3, 0.3), fb = timeMedian(step, 3, 0.3);
      const bound = flops / (rate * 1e9);
      fwds.push(fwd); fbs.push(fb); fRatio.push(fwd / bound); bRatio.push((fb - fwd) / (2.5 * bound));
    }
    const fwd = median(fwds), fb = median(fbs), ratio = median(fRatio), bwdRatio = median(bRatio);
    const before = beforeBuild(opts), build = kernelInfo().arch;
    let bFwd: number | null = null, bFb: number | null = null;
    if (before) {
      setKernels(before);
      try { bFwd = timeMedian(forward, 1, 1); bFb = timeMedian(step, 1, 1); } finally { setKernels(build); }
    }
    rows.push({ T, H, D, fwd_tokens_per_s: T / fwd, fwdbwd_tokens_per_s: T / fb, gemm_bound_ratio: ratio, bwd_gemm_bound_ratio: bwdRatio,
      before_fwd_tokens_per_s: bFwd ? T / bFwd : null, before_fwdbwd_tokens_per_s: bFb ? T / bFb : null });
    log(`attention T=${T} H=${H} D=${D}: forward ${(T / fwd).toFixed(0)} tok/s (${ratio.toFixed(2)}× GEMM-bound time), fwd+bwd ${(T / fb).toFixed(0)} tok/s (backward ${bwdRatio.toFixed(2)}× its GEMM-bound time)`);
  }
  return rows;
}

export function engineReport(gemm: { rows: GemmRow[]; blas: string; bf16?: string; rounds?: number }, attn: AttnRow[]): string {
  const m = machineInfo();
  const lines = [`### bench gemm — ${machineLine(m)}`, '', `numpy reference: ${gemm.blas}`, '',
    `GFLOP/s; kernels ${gemm.rows[0]?.build}${gemm.rows[0]?.before_build ? `, and ${gemm.rows[0].before_build} (the "before") timed in the same run` : ''}`, '',
    ...(gemm.bf16 ? [`bf16 GEMM: ${gemm.bf16}`, ''] : []),
    ...(gemm.rounds ? [`f32 and numpy: medians of ${gemm.rounds} alternating rounds; ours/numpy is the median of the per-round ratios`, ''] : []),
    '| shape | M×N×K | f32 | bf16 | bf16 ÷ f32 | numpy f32 | ours/numpy (f32) | before f32 | before bf16 |', '|---|---|---|---|---|---|---|---|---|'];
  for (let i = 0; i < gemm.rows.length; i += 2) {
    const f = gemm.rows[i]!, b = gemm.rows[i + 1]!;
    const ratio = f.ratio !== null ? f.ratio.toFixed(2) : 'n/a';
    lines.push(`| ${f.label} | ${f.m}×${f.n}×${f.k} | ${f.gflops.toFixed(1)} | ${b.gflops.toFixed(1)} | ${(b.gflops / f.gflops).toFixed(2)} | ${f.numpy_gflops?.toFixed(1) ?? 'n/a'} | ${ratio} | ${f.before_gflops?.toFixed(1) ?? 'n/a'} | ${b.before_gflops?.toFixed(1) ?? 'n/a'} |`);
  }
  lines.push('', 'GEMM-bound time: the FLOPs (forward 2·T²·D·H causal; backward 2.5× that) at the rate of a 2048³ f32 GEMM (1024³ with --quick) timed just before, in each of 5 rounds (3 with --quick): the ratios are medians of the per-round ratios. fwd+bwd: forward, then the backward seeded with a contiguous [B, H, T, D] gradient (the layout the tape hands attention in training), not a strided sum().', '',
    '| attention (causal, B=1) | forward tok/s | fwd+bwd tok/s | forward ÷ GEMM-bound time | backward ÷ GEMM-bound time | before: forward | before: fwd+bwd |', '|---|---|---|---|---|---|---|');
  for (const a of attn) lines.push(`| T=${a.T}, H=${a.H}, D=${a.D} | ${a.fwd_tokens_per_s.toFixed(0)} | ${a.fwdbwd_tokens_per_s.toFixed(0)} | ${a.gemm_bound_ratio.toFixed(2)} | ${a.bwd_gemm_bound_ratio.toFixed(2)} | ${a.before_fwd_tokens_per_s?.toFixed(0) ?? 'n/a'} | ${a.before_fwdbwd_tokens_per_s?.toFixed(0) ?? 'n/a'} |`);
  return lines.join('\n') + '\n';
}

export function appendReport(file: string, text: string): void {
  const header = fs.existsSync(file) ? '' : '# Benchmarks\n\nMedians after a warm-up; each section names its date, machine and commit.\n\n';
  fs.appendFileSync(file, header + text + '\n');
}
