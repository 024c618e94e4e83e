// The bf16 GEMM variants (widen / vdpbf16ps / AMX tiles) and the AMX kernels'
// arithmetic, beyond what the harness runs per build:
// - every bf16 GEMM case of the kernel table on every variant every supported
//   build has (whatever the calibration picked), against the float64 reference
//   and against the same build's widen variant, and 1 vs 2 threads;
// - the AMX int8 prefill (amxemu here; amx where the CPU has it) equals the
//   AVX512-VNNI prefill bit for bit: same per-block integer dots, same scales,
//   same f32 accumulation order;
// - the emulated tdpbf16ps, as the AMX GEMM drives it, equals bit for bit a model written here from
//   the SDM pseudo-code (per instruction: per output, two f32 FMA chains over the 16 k-pairs, even and odd
//   elements, zeroed per instruction, then C += even + odd; per 512-deep slice: C = alpha * acc (+ beta C)
//   or C += alpha * acc);
// - forcing: setBf16Gemm and BAICHUAN2_BF16_GEMM, with the reasons info reports.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { native, KERNEL_BUILDS, BF16_GEMM_VARIANTS, type Bf16GemmVariant, type KernelBuild } from '../../src/engine/native.js';
import { KERNEL_CASES, nmse, baselineBound } from '../../bench/kernels/index.js';
import { Rng } from '../../src/engine/rng.js';

const info = native.info();

function withBuild<T>(b: KernelBuild, fn: () => T): T {
  const prev = native.info().arch;
  native.setArch(b);
  try { return fn(); } finally { native.setArch(prev); }
}

/** The variants build b has (setBf16Gemm refuses the others), restoring its automatic choice. */
function variantsOf(b: KernelBuild): Bf16GemmVariant[] {
  return withBuild(b, () => {
    const has = BF16_GEMM_VARIANTS.filter((v) => { try { native.setBf16Gemm(v); return true; } catch { return false; } });
    native.setBf16Gemm('auto');
    return has;
  });
}

const bf16Cases = KERNEL_CASES.filter((c) => !c.perfOnly && /^gemm bf16 /.test(c.name));

test('bf16 GEMM: every variant of every supported build against the float64 reference and its widen variant', () => {
  assert.ok(bf16Cases.length >= 8);
  const failures: string[] = [];
  let variantsRun = 0;
  for (const b of info.supported) {
    const variants = variantsOf(b);
    assert.ok(variants.includes('widen'), `${b} lacks the widen variant`);
    withBuild(b, () => {
      try {
        for (const c of bf16Cases) {
          const inst = c.make('test');
          const ref = inst.ref(native.info().caps)[0]!;
          native.setBf16Gemm('widen');
          const widen = inst.run()[0]!.slice();
          for (const v of variants) {
            native.setBf16Gemm(v);
            assert.equal(native.info().bf16Gemm.variant, v);
            const out = inst.run()[0]!.slice();
            const e = nmse(out, ref), w = nmse(out, widen);
            if (!(e <= c.bound)) failures.push(`${b}/${v} ${c.name}: NMSE ${e.toExponential(2)} > ${c.bound} against the reference`);
            const wb = baselineBound(c, native.info().caps, native.info().caps);
            if (!(w <= wb)) failures.push(`${b}/${v} ${c.name}: NMSE ${w.toExponential(2)} > ${wb} against widen`);
            variantsRun++;
          }
        }
      } finally {
        native.setBf16Gemm('auto');
      }
    });
  }
  assert.deepEqual(failures, []);
  assert.ok(variantsRun >= bf16Cases.length * info.supported.length);
});

test('bf16 GEMM: each variant gives the same bits on 1 and 2 threads', () => {
  const picks = bf16Cases.filter((c) => /NT 37x|TN 533x|NT 45x50x1100|NN 300x33x530/.test(c.name));
  assert.equal(picks.length, 4);
  const threads = native.info().threads;
  try {
    for (const b of info.supported)
      for (const v of variantsOf(b))
        withBuild(b, () => {
          try {
            native.setBf16Gemm(v);
            for (const c of picks) {
              const inst = c.make('test');
              native.setThreads(1);
              const one = inst.run()[0]!.slice();
              native.setThreads(2);
              assert.deepEqual(inst.run()[0]!, one, `${c.name} on ${b}/${v} depends on the thread count`);
            }
          } finally {
            native.setBf16Gemm('auto');
          }
        });
  } finally {
    native.setThreads(threads);
  }
});

test('AMX int8 prefill equals the AVX512-VNNI prefill bit for bit on 1 and 2 threads (8- and 4-bit, group sizes 32 to 128)', (t) => {
  const amx = (['amx', 'amxemu'] as const).filter((b) => info.supported.includes(b));
  const vnni = (['avx512bf16', 'avx512vnni'] as const).find((b) => info.supported.includes(b));
  if (!amx.length || !vnni) { t.skip('needs an AVX512-VNNI CPU (the amxemu build and its reference both run there)'); return; }
  const cases = KERNEL_CASES.filter((c) => !c.perfOnly && /^qmatmul .* M=(\d+) /.test(c.name) && Number(/M=(\d+)/.exec(c.name)![1]) > 8);
  assert.ok(cases.length >= 6);
  const threads = native.info().threads;
  try {
    for (const c of cases) {
      const inst = c.make('test');
      const want: Float32Array = withBuild(vnni, () => inst.run()[0]!.slice());
      for (const b of amx)
        for (const n of [1, 2]) {
          native.setThreads(n);
          assert.deepEqual(withBuild(b, () => inst.run()[0]!.slice()), want, `${c.name}: ${b} on ${n} threads differs from ${vnni}`);
        }
    }
  } finally {
    native.setThreads(threads);
  }
});

test('the bf16 variant is reported with its reason; setBf16Gemm refuses unknown and missing variants', () => {
  const i = native.info();
  assert.ok(BF16_GEMM_VARIANTS.includes(i.bf16Gemm.variant) && i.bf16Gemm.why.length > 10);
  if (i.arch === 'avx512bf16' && !process.env.BAICHUAN2_BF16_GEMM) assert.match(i.bf16Gemm.why, /calibrated on one core: vdpbf16ps \d+ GFLOP\/s vs vfmadd231ps \d+ GFLOP\/s/);
  assert.equal(i.caps.bf16Dot, i.bf16Gemm.variant !== 'widen');
  assert.throws(() => native.setBf16Gemm('fast' as Bf16GemmVariant), /unknown bf16 GEMM variant 'fast'/);
  withBuild('generic', () => {
    assert.equal(native.info().bf16Gemm.variant, 'widen');
    assert.throws(() => native.setBf16Gemm('dot'), /kernel build 'generic' has no bf16 GEMM variant 'dot'/);
  });
  if (info.supported.includes('amxemu')) withBuild('amxemu', () => assert.equal(native.info().bf16Gemm.variant, 'amx'));
});

test('BAICHUAN2_BF16_GEMM forces the variant at load, and a bad value fails the load naming it', () => {
  const mod = fileURLToPath(new URL('../../src/engine/native.js', import.meta.url));
  const script = `import(${JSON.stringify(mod)}).then((m) => { const i = m.native.info(); console.log(JSON.stringify([i.arch, i.bf16Gemm])); })`;
  const run = (value: string) => execFileSync(process.execPath, ['-e', script], { env: { ...process.env, BAICHUAN2_BF16_GEMM: value }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [arch, bf] = JSON.parse(run('widen')) as [string, { variant: string; why: string }];
  assert.equal(bf.variant, 'widen');
  if (arch !== 'generic') assert.match(bf.why, /BAICHUAN2_BF16_GEMM=widen/);
  if (info.supported.includes('avx512bf16') && arch === 'avx512bf16') {
    const [, dot] = JSON.parse(run('dot')) as [string, { variant: string; why: string }];
    assert.deepEqual(dot, { variant: 'dot', why: 'forced by BAICHUAN2_BF16_GEMM=dot' });
  }
  assert.throws(() => run('fastest'), (e: Error & { stderr?: string }) => /BAICHUAN2_BF16_GEMM=fastest: unknown bf16 GEMM variant/.test(String(e.stderr)));
});

test('amxemu bf16 GEMM equals a bit-exact model of tdpbf16ps (SDM pseudo-code) over its slices and tiles', (t) => {
  if (!info.supported.includes('amxemu')) { t.skip('the amxemu build needs AVX512-BF16 and VNNI'); return; }
  const f = Math.fround;
  const bf16 = (x: number) => { const u = new Uint32Array(new Float32Array([x]).buffer)[0]!; return u >>> 16; };  // truncation: any bf16 will do
  const val = (h: number) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]!;
  for (const [M, N, K, tB, beta] of [[19, 37, 1100, true, 0.5], [33, 20, 70, false, 0]] as const) {
    const rng = new Rng(M * N + K);
    const A = Uint16Array.from({ length: M * K }, () => bf16(rng.normal()));
    const B = Uint16Array.from({ length: K * N }, () => bf16(rng.normal()));
    const c0 = Float32Array.from({ length: M * N }, () => rng.normal());
    const C = c0.slice();
    withBuild('amxemu', () => native.gemm(false, tB, M, N, K, 1, A, K, 0, B, tB ? K : N, 0, beta, C, N, 0, 1));
    const a = (i: number, k: number) => (k < K ? val(A[i * K + k]!) : 0);
    const b = (k: number, j: number) => (k < K ? val(B[tB ? j * K + k : k * N + j]!) : 0);
    const want = new Float32Array(M * N);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let out = c0[i * N + j]!;
        for (let pc = 0; pc < K; pc += 512) {
          const kc = Math.min(512, K - pc);
          let acc = 0;  // the C tile element, zeroed per slice
          for (let s = 0; s < kc; s += 32) {  // one tdpbf16ps: 16 k-pairs
            let even = 0, odd = 0;
            for (let p = 0; p < 16; p++) {
              const k = pc + s + 2 * p, inSlice = s + 2 * p < kc, inSlice1 = s + 2 * p + 1 < kc;
              even = f(even + (inSlice ? a(i, k) * b(k, j) : 0));  // bf16 x bf16 is exact; one rounding per FMA
              odd = f(odd + (inSlice1 ? a(i, k + 1) * b(k + 1, j) : 0));
            }
            acc = f(acc + f(even + odd));
          }
          const x = f(1 * acc);
          out = pc === 0 ? (beta !== 0 ? f(beta * out + x) : x) : f(x + out);
        }
        want[i * N + j] = out;
      }
    assert.deepEqual(C, want, `${M}x${N}x${K} ${tB ? 'NT' : 'NN'}: amxemu differs from the SDM model`);
  }
});

test('the addon lists the builds in KERNEL_BUILDS order; the test-only amxemu ranks last and is never the best', () => {
  assert.deepEqual(info.builds, [...KERNEL_BUILDS]);
  assert.equal(info.builds[info.builds.length - 1], 'amxemu');
  assert.notEqual(info.best, 'amxemu');
  if (info.supported.includes('amx')) assert.equal(info.best, 'amx');
  assert.equal(info.features.amxPerm, info.supported.includes('amx'), 'amx is supported exactly when Linux granted tile data');
});
