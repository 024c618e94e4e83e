// The kernel harness: every row of the kernel table (bench/kernels/) on every
// kernel build this CPU supports, against the float64 reference (or central
// finite differences of it, for backward rows) and against the baseline
// build, by normalised MSE with the per-dtype bounds of
// bench/kernels/bounds.ts; builds the CPU lacks are skipped with the reason.
// Plus: the dispatcher picks the build that matches the CPU's features (read
// independently from /proc/cpuinfo), forcing works, and each build gives the
// same bits on 1, 2 and 3 threads.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { native, KERNEL_BUILDS, type KernelBuild } from '../../src/engine/native.js';
import { KERNEL_CASES, BOUNDS, bf16Bound, nmse, outputBound, baselineBound, type Instance, type Caps } from '../../bench/kernels/index.js';

const info = native.info();
const supported = new Set(info.supported);
const baseline: KernelBuild = 'generic';

function withBuild<T>(b: KernelBuild, fn: () => T): T {
  const prev = native.info().arch;
  native.setArch(b);
  try { return fn(); } finally { native.setArch(prev); }
}

const capsOf = (b: KernelBuild): Caps => withBuild(b, () => native.info().caps);

// Rows are seeded: each is made once, its baseline outputs computed once, its
// reference once per distinct caps (only the quantised prefill's depends on them).
const rows = KERNEL_CASES.filter((c) => !c.perfOnly).map((c) => ({ c, inst: null as Instance | null, base: null as Float32Array[] | null, refs: new Map<string, ArrayLike<number>[]>() }));
const instOf = (r: typeof rows[number]) => (r.inst ??= r.c.make('test'));
function refOf(r: typeof rows[number], caps: Caps): ArrayLike<number>[] {
  const key = JSON.stringify(caps);
  if (!r.refs.has(key)) r.refs.set(key, instOf(r).ref(caps));
  return r.refs.get(key)!;
}
const runOn = (b: KernelBuild, inst: Instance) => withBuild(b, () => inst.run().map((a) => a.slice()));

for (const b of KERNEL_BUILDS) {
  if (!supported.has(b)) {
    test(`kernel build ${b}: every row`, (t) => { t.skip(`this CPU or OS lacks what build ${b} needs; it is compiled but cannot run here`); });
    continue;
  }
  test(`kernel build ${b}: every row against the float64 reference and the ${baseline} build`, (t) => {
    const caps = capsOf(b), baseCaps = capsOf(baseline);
    const failures: string[] = [];
    const worst = new Map<number, { e: number; what: string }>();  // per bound: the output closest to it
    const check = (what: string, e: number, bound: number) => {
      if (!(e <= bound)) failures.push(`${what}: NMSE ${e.toExponential(2)} > ${bound.toExponential(2)}`);
      else if (bound > 0 && e >= (worst.get(bound)?.e ?? 0)) worst.set(bound, { e, what });
    };
    for (const r of rows) {
      const inst = instOf(r);
      const out = runOn(b, inst);
      const ref = refOf(r, caps);
      out.forEach((o, i) => {
        const bound = outputBound(r.c, i);
        if (bound !== Infinity) check(`${r.c.name}, output ${i} against the reference`, nmse(o, ref[i]!), bound);
      });
      if (b !== baseline) {
        r.base ??= runOn(baseline, inst);
        const bound = baselineBound(r.c, caps, baseCaps);
        out.forEach((o, i) => check(`${r.c.name}, output ${i} against ${baseline}`, nmse(o, r.base![i]!), bound));
      }
    }
    t.diagnostic(`${rows.length} rows; largest NMSE under each bound: ${[...worst].map(([bound, w]) => `${w.e.toExponential(1)} <= ${bound.toExponential(1)} (${w.what})`).join('; ')}`);
    assert.deepEqual(failures, [], `build ${b}:\n${failures.join('\n')}`);
  });
}

test('every entry point of the addon has a row, and every row takes its bounds from bounds.ts', () => {
  const covered = new Set(KERNEL_CASES.flatMap((c) => c.kernels));
  const entry = Object.keys(native).filter((k) => !['info', 'setThreads', 'setArch', 'setBf16Gemm', 'readBytes'].includes(k));
  assert.deepEqual(entry.filter((k) => !covered.has(k)), []);
  const allowed = new Set<number>([...Object.values(BOUNDS), bf16Bound(1), bf16Bound(2), bf16Bound(3), Infinity]);
  for (const c of KERNEL_CASES) {
    for (const bound of [c.bound, ...(c.outputBounds ?? []).filter((x) => x !== undefined)])
      assert.ok(allowed.has(bound!), `${c.name}: bound ${bound} is not one of BOUNDS or bf16Bound(n)`);
    if (typeof c.baselineBound === 'number') assert.ok(allowed.has(c.baselineBound), `${c.name}: baseline bound ${c.baselineBound}`);
    if (c.kind === 'backward') assert.ok(c.bound === BOUNDS.fd, `${c.name}: a backward row is held to BOUNDS.fd`);
  }
  assert.equal(new Set(KERNEL_CASES.map((c) => c.name)).size, KERNEL_CASES.length, 'row names are unique');
});

test('no bound is vacuous: flipping the sign of the largest element of any output exceeds its bound', () => {
  // NMSE of that slip is 4 max^2 / sum ref^2 >= 4 / n, so this also fails for an all-zero reference
  // (a gradient that is identically 0 would pass any kernel that returns zeros)
  const caps = capsOf(baseline);
  for (const r of rows) {
    refOf(r, caps).forEach((ref, i) => {
      const bound = outputBound(r.c, i);
      if (bound === Infinity) return;
      let at = 0;
      for (let j = 1; j < ref.length; j++) if (Math.abs(ref[j]!) > Math.abs(ref[at]!)) at = j;
      const slip = Float64Array.from(ref);
      slip[at] = -slip[at]!;
      const e = nmse(slip, ref);
      assert.ok(e > bound && ref[at] !== 0, `${r.c.name}, output ${i}: a sign slip gives NMSE ${e.toExponential(2)}, not above its bound ${bound}`);
    });
  }
});

/** The build /proc/cpuinfo says this CPU should get (the kernel clears flags whose register state it does not enable). */
function expectedBuild(flags: Set<string>): KernelBuild {
  const has = (...f: string[]) => f.every((x) => flags.has(x));
  const avx2 = has('avx', 'avx2', 'fma', 'f16c');
  const avx512 = avx2 && has('avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd');
  // amx also needs the kernel's permission for tile data (arch_prctl), which Linux grants wherever it lists amx_tile
  if (avx512 && has('avx512_vnni', 'avx512_bf16', 'amx_tile', 'amx_bf16', 'amx_int8')) return 'amx';
  if (avx512 && has('avx512_vnni', 'avx512_bf16')) return 'avx512bf16';
  if (avx512 && has('avx512_vnni')) return 'avx512vnni';
  if (avx512) return 'avx512';
  if (avx2 && has('avx_vnni')) return 'avx2vnni';
  if (avx2) return 'avx2';
  return 'generic';
}

test('the dispatcher picks the build that matches the CPU features in /proc/cpuinfo', (t) => {
  if (!fs.existsSync('/proc/cpuinfo')) { t.skip('no /proc/cpuinfo (not Linux)'); return; }
  const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
  if (!line) { t.skip('/proc/cpuinfo has no flags line (not x86)'); return; }
  const flags = new Set(line.split(':')[1]!.trim().split(/\s+/));
  const want = expectedBuild(flags);
  const amxState = want === 'amx' ? ` (XCR0 tile state ${info.features.osAmx}, tile-data permission from arch_prctl ${info.features.amxPerm})` : '';
  assert.equal(info.best, want, `CPU flags call for ${want}, the dispatcher picked ${info.best}${amxState}`);
  if (!process.env.BAICHUAN2_KERNELS) assert.equal(info.arch, want);
  // the feature bits the addon read agree with the kernel's view
  const map: Record<string, string> = { avx2: 'avx2', fma: 'fma', f16c: 'f16c', avx512f: 'avx512f', avx512bw: 'avx512bw', avx512vl: 'avx512vl',
    avx512dq: 'avx512dq', avx512vnni: 'avx512_vnni', avx512bf16: 'avx512_bf16', avxvnni: 'avx_vnni', amxTile: 'amx_tile', amxBf16: 'amx_bf16', amxInt8: 'amx_int8' };
  for (const [k, f] of Object.entries(map))
    if (flags.has(f)) assert.equal(info.features[k as keyof typeof info.features], true, `/proc/cpuinfo reports ${f}, the addon does not`);
  // every build ranked at or below the best one that the flags allow is runnable
  assert.ok(info.supported.includes(want) && info.supported.includes('generic'));
});

test('setArch refuses an unknown build and one the CPU lacks, with the reason', () => {
  assert.throws(() => native.setArch('avx1024'), /unknown kernel build 'avx1024'/);
  const lacking = KERNEL_BUILDS.find((b) => !supported.has(b));
  if (lacking) assert.throws(() => native.setArch(lacking), /needs .* which this CPU or OS lacks/);
  assert.equal(native.info().arch, info.arch);
});

test('each build gives the same bits on 1, 2 and 3 threads (GEMM f32/bf16, quantised GEMV and prefill, attention, rmsnorm backward)', () => {
  const threads = native.info().threads;
  const picks = rows.filter(({ c }) => /^gemm (f32|bf16) NT 37|^gemm f32 NT 531|^gemm f32 TN 1560|^gemm bf16 TN 533|^gemm f32 NN 130x70x600|^qmatmul q4 g32 M=(1|13) |^attention forward \+ backward, causal, past 2, key mask, ALiBi|^attention forward, causal, ALiBi, \[1,2\] 150|^rmsnorm backward 5x67/.test(c.name));
  assert.ok(picks.length >= 10, `${picks.length} rows picked`);
  try {
    for (const b of info.supported)
      for (const r of picks) {
        const inst = instOf(r);
        const outs = [1, 2, 3].map((n) => withBuild(b, () => { native.setThreads(n); return inst.run().map((a) => a.slice()); }));
        for (const o of outs.slice(1)) o.forEach((x, i) => assert.deepEqual(x, outs[0]![i], `${r.c.name} on ${b}: output ${i} depends on the thread count`));
      }
  } finally {
    native.setThreads(threads);
  }
});
