// The numeric bounds of the op-level engine tests, in one place with their
// reasons (the kernel harness states its NMSE bounds per case, per dtype, in
// bench/kernel-table.ts). Each is a max-abs error relative to the output
// scale (assertClose in test/helpers.ts).
export const OP_BOUNDS = {
  /** f32 norm / activation / softmax / loss ops vs the float64 reference: a few f32 roundings per output. */
  f32Forward: 2e-6,
  /** f32 attention vs the float64 materialised softmax: expNeg's 2e-7 relative error and the online rescaling on top. */
  attentionForward: 3e-6,
  /** f32 GEMM: accumulation over K terms of size ~1 errs ~sqrt(K) 2^-24; wide margin for K <= 600. */
  gemmF32: 1e-5,
  /** f32 analytic gradients vs central differences (h = 1e-5) of the float64 reference: truncation ~h^2, rounding ~1e-11/h. */
  backwardFd: 1e-4,
} as const;
