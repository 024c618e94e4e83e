// The kernel harness: every case of bench/kernel-table.ts on every kernel
// build this CPU supports, against the float64 reference (or finite
// differences of it) and against the baseline build, by normalised MSE with
// the bound the table states per case; builds the CPU lacks are skipped with
// the reason. Plus: the dispatcher picks the build that matches the CPU's
// features (read independently from /proc/cpuinfo), forcing works, and each
// build gives the same bits on 1 and 2 threads.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { native, KERNEL_BUILDS, type KernelBuild } from '../../src/engine/native.js';
import { KERNEL_CASES, nmse, caseBaseline, outputBound } from '../../bench/kernel-table.js';

const info = native.info();
const supported = new Set(info.supported);
const baseline: KernelBuild = 'generic';
const baselineCache: Float32Array[][] = [];

function withBuild<T>(b: KernelBuild, fn: () => T): T {
  const prev = native.info().arch;
  native.setArch(b);
  try { return fn(); } finally { native.setArch(prev); }
}

function capsOf(b: KernelBuild) {
  return withBuild(b, () => native.info().caps);
}

for (const b of KERNEL_BUILDS) {
  if (!supported.has(b)) {
    test(`kernel build ${b}: every case`, (t) => { t.skip(`this CPU or OS lacks what build ${b} needs; it is compiled but cannot run here`); });
    continue;
  }
  test(`kernel build ${b}: every case against the float64 reference and the ${baseline} build`, () => {
    const caps = capsOf(b), baseCaps = capsOf(baseline);
    const baseOut = (i: number, run: () => Float32Array[]) => (baselineCache[i] ??= withBuild(baseline, () => run().map((a) => a.slice())));
    const failures: string[] = [];
    for (const [ci, c] of KERNEL_CASES.entries()) {
      if (c.perfOnly) continue;
      const inst = c.make('test');
      const out = withBuild(b, () => inst.run().map((a) => a.slice()));
      const ref = inst.ref(caps);
      out.forEach((o, i) => {
        const bound = outputBound(c, i);
        if (bound === Infinity) return;
        const e = nmse(o, ref[i]!);
        if (!(e <= bound)) failures.push(`${c.name}, output ${i}: NMSE ${e.toExponential(2)} > ${bound} against the reference`);
      });
      if (b !== baseline) {
        const base = baseOut(ci, () => inst.run());  // cases are seeded: the baseline outputs are computed once
        const { bound } = caseBaseline(c, caps, baseCaps);
        out.forEach((o, i) => {
          const e = nmse(o, base[i]!);
          if (!(e <= bound)) failures.push(`${c.name}, output ${i}: NMSE ${e.toExponential(2)} > ${bound} against ${baseline}`);
        });
      }
    }
    assert.deepEqual(failures, [], `build ${b}:\n${failures.join('\n')}`);
  });
}

test('every case of the table is run (no kernel of the addon is left out)', () => {
  const covered = new Set(KERNEL_CASES.flatMap((c) => c.kernels));
  const entry = Object.keys(native).filter((k) => !['info', 'setThreads', 'setArch', 'setBf16Gemm', 'readBytes'].includes(k));
  assert.deepEqual(entry.filter((k) => !covered.has(k)), []);
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

test('each build gives the same bits on 1 and 2 threads (GEMM f32/bf16, quantised GEMV and prefill, attention, rmsnorm backward)', () => {
  const threads = native.info().threads;
  const picks = KERNEL_CASES.filter((c) => /^gemm (f32|bf16) NT 37|^gemm f32 NT 531|^gemm f32 TN 1560|^gemm bf16 TN 533|^qmatmul q4 g32 M=(1|13) |^attention .*ALiBi|^rmsnorm backward/.test(c.name));
  assert.ok(picks.length >= 6);
  try {
    for (const b of info.supported)
      for (const c of picks) {
        const inst = c.make('test');
        const one = withBuild(b, () => { native.setThreads(1); return inst.run().map((a) => a.slice()); });
        const two = withBuild(b, () => { native.setThreads(2); return inst.run().map((a) => a.slice()); });
        one.forEach((o, i) => assert.deepEqual(o, two[i], `${c.name} on ${b}: output ${i} depends on the thread count`));
      }
  } finally {
    native.setThreads(threads);
  }
});
