// The kernel table: every native kernel as rows that run it on seeded inputs
// and say what it must equal - one table for two uses, in the manner of
// ggml's test-backend-ops:
// - test/engine/harness.test.ts runs every row on every kernel build the CPU
//   supports and compares each output with the float64 reference (or with
//   central finite differences of it, for backward rows) and with the
//   baseline build, by normalised MSE, with the bounds of ./bounds.ts;
// - `baichuan2 bench kernels` (./perf.ts) times the same rows at model sizes
//   on each build (the kernel benchmark).
//
// Layout: ./case.ts (the row type, nmse, finite differences, seeded data),
// ./bounds.ts (the per-dtype bounds and their reasons: the only tolerances of
// the engine tests), one file per kernel family below, ./perf.ts (imports
// this file; the CLI imports it directly).
//
// Adding a row: write it in its family's file (or a new file exporting a
// `KernelCase[]`, listed below) as { name, kernels, kind, bound, baselineBound,
// make }. `make(scale)` builds seeded inputs once and returns `run()` (calls
// the kernel, returns its outputs) and `ref(caps)` (the float64 expectation;
// wrap it in memo: the harness computes it once for all builds). Take
// `bound` from BOUNDS (or bf16Bound(n)), never a new number: if a new dtype
// needs one, add it to ./bounds.ts with its derivation. A backward row
// compares with `fd(...)` of the reference, not with an analytic formula.
// Give rows that only add an edge shape `testOnly: true` (so --perf times
// each kernel once), and a perf size in `make('perf')` for the others.
import type { KernelCase } from './case.js';
import { GEMM_CASES } from './gemm.js';
import { QUANT_CASES } from './quant.js';
import { NORM_CASES } from './norm.js';
import { ELEMENTWISE_CASES } from './elementwise.js';
import { LOSS_CASES } from './loss.js';
import { ATTENTION_CASES } from './attention.js';
import { OPTIM_CASES } from './optim.js';
import { CONVERT_CASES } from './convert.js';
import { DECODE_CASES } from './decode.js';
import { ARITH_CASES } from './arith.js';
import { COPY_CASES } from './copy.js';

export type { KernelCase, Instance, Scale, Caps } from './case.js';
export { nmse, fd, outputBound, baselineBound } from './case.js';
export { BOUNDS, bf16Bound, f32Reduction } from './bounds.js';

export const KERNEL_CASES: KernelCase[] = [
  ...GEMM_CASES, ...QUANT_CASES, ...NORM_CASES, ...ELEMENTWISE_CASES, ...LOSS_CASES, ...ATTENTION_CASES, ...OPTIM_CASES, ...CONVERT_CASES, ...DECODE_CASES, ...ARITH_CASES, ...COPY_CASES,
];
