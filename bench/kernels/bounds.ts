// The numeric bounds of the whole engine test suite, per dtype, with their
// reasons: the kernel table (test/engine/harness.test.ts, every build) and
// the op-level engine tests (test/engine/*.test.ts) use these and nothing
// else. Every bound is on the normalised MSE
//   NMSE = sum (out - ref)^2 / sum ref^2      (./case.ts nmse)
// against a float64 reference, or between two paths that must agree.
// An indexing slip, a wrong layout or a missing term gives NMSE ~ 1 (or at
// least 1 / n for a single wrong element of n), orders above every bound.
// Bounds are never loosened to make a test pass: a kernel that misses one
// is a finding.

/** bf16's unit roundoff: an 8-bit significand rounded to nearest errs by at most 2^-8 relative. */
export const BF16_U = 2 ** -8;
/** f32's unit roundoff (24-bit significand). */
export const F32_U = 2 ** -24;

export const BOUNDS = {
  /**
   * f32 results vs float64: 1e-7 (ggml's bound for f32). A result reached
   * through a reduction of depth K (a dot product over K, a row sum) errs by
   * at most K u relative (u = 2^-24), so even the worst case (every rounding
   * in one direction) gives NMSE <= (K u)^2 <= 1e-7 for K <= 5,300; rounding
   * errors are in fact independent (NMSE ~ K u^2 / 3 ~ 1e-15 K), so rows
   * with longer sums (cross-entropy over 125,696 logits) stay far below it.
   * A handful of roundings per output (norms, activations, softmax, RoPE,
   * AdamW) gives ~1e-14. Measured: every f32 row of the table is below
   * 1e-13 on every build. The bound's job is to catch slips: an indexing or
   * layout error (~1), a lost term, a bf16 rounding inside an f32 kernel
   * (~1e-5). It does not catch a parameter off by a relative delta below
   * ~3e-4 (NMSE ~ delta^2: a mutation test with RMSNorm's eps 1e-4 instead
   * of 1e-6 passed it). A single number
   * is held to f32Reduction(K) below instead (for one value NMSE 1e-7 would
   * be 3e-4 relative).
   *
   * bf16 GEMM inputs are bf16 *values*: their products are exact in f32
   * (8-bit x 8-bit significands) and the sums are f32 on every path
   * (widened FMAs or vdpbf16ps), so the reference is the float64 product of
   * the bf16 values and this bound applies; only a bf16 rounding of a
   * *result* (bf16Bound below) is not part of a kernel.
   */
  f32: 1e-7,
  /**
   * Backward kernels (f32) vs central finite differences (./case.ts fd,
   * h = 1e-4) of the float64 reference: 1e-7, the f32 bound. The difference
   * quotient errs by h^2 f'''/6 ~ 1e-9 relative (truncation) plus
   * ~eps64 |f| / h ~ 1e-12 |f| (rounding) - NMSE ~1e-17 - so the f32 error
   * of the kernel's gradient is what the bound measures.
   */
  fd: 1e-7,
  /**
   * Quantised products against refQMatmul (the float64 specification of the
   * int8 arithmetic): the block dot products are exact integers on every
   * path; only the f32 accumulation of the K/32 block terms differs
   * (<= 12 terms here: (12 u)^2 ~ 5e-13), so 1e-8.
   */
  qdot: 1e-8,
  /**
   * One or both operands of a product quantised to 8 bits per 32-block
   * (int8 activations, q8 weights) vs the unquantised product: 4e-4. The
   * step is s = absmax / 127 per block; round-to-nearest errors are uniform
   * in +-s/2 (variance s^2 / 12) and independent, and a Gaussian block's
   * absmax is ~2.1 sigma (32 values; ~2.6 for 128), so one operand gives
   * NMSE ~ (2.1 / 127)^2 / 12 = 2.3e-5 (the product y = W x inherits it,
   * the errors being independent of the values); two operands 4.6e-5
   * (measured: 2.5e-5 for int8 vs f32 activations in the table, 4.0e-5 for
   * the whole q8 scheme). The bound leaves 8x for groups with a large
   * absmax. (Was: relative RMS error < 0.02, i.e. NMSE < 4e-4; the
   * harness's int8-vs-f32-prefill bound was 1e-3.)
   */
  q8: 4e-4,
  /**
   * Weights quantised to 4 bits (Q4_0: scale = signed max / -8, codes
   * -8..7) plus int8 activations vs the unquantised product: 2.25e-2. The
   * step is absmax / 8: (2.1 / 8)^2 / 12 = 5.7e-3, and values of the other
   * sign near the max clamp at +7 (up to one whole step); measured 4.4e-3
   * on Gaussian weights (test/engine/quant.test.ts), so 5x margin. (Was:
   * relative RMS error < 0.15.)
   */
  q4: 2.25e-2,
  /** Results accumulated in float64 and rounded once to f32 (the sum of squares for clipping): 2^-48 = 3.6e-15; 1e-14. */
  f64: 1e-14,
  /** Exact kernels (bf16 conversion, quantisation codes and scales, the counter-based random fill vs the baseline bits). */
  exact: 0,
} as const;

/**
 * Results rounded to bf16: each rounding errs by at most 2^-8 relative
 * (BF16_U), so a value that went through n roundings (or two paths that
 * round n times between them) differs from the exact one by at most n 2^-8
 * relative, element by element, and the NMSE is at most (n 2^-8)^2:
 * 1.5e-5 for one rounding, 6.1e-5 for two, 1.4e-4 for three. This is the
 * worst case (every element at its largest rounding error); the f32 noise
 * under it is 1e-7 and ignored.
 */
export function bf16Bound(roundings: number): number {
  return (roundings * BF16_U) ** 2;
}

/**
 * One f32 number (a loss, a norm, a statistic) reached through a reduction
 * of depth K. For a single value the NMSE is the squared relative error, and
 * BOUNDS.f32 would allow 3e-4 relative: scalars are held to the worst case
 * of their own reduction instead, (K u)^2 with u = 2^-24 (K = 1: one
 * rounding, 3.6e-15; K = 100: 3.6e-11, i.e. 6e-6 relative).
 */
export function f32Reduction(K: number): number {
  return (K * F32_U) ** 2;
}
