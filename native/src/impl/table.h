// The table of this arch's kernels (included last, inside the arch namespace).
const KernelTable table = {
    KERNEL_ARCH_NAME, gemm,       rmsnormFwd, rmsnormBwd, l2normFwd, l2normBwd, swigluFwd, swigluBwd,
    siluFwd,          siluBwd,    rope,       softmaxFwd, softmaxBwd, xentFwd,  xentBwd,   attnFwd,
    attnBwd,          adamw,      sumsq,      bf16ToF32,  f32ToBf16,  randomFill, quantizeRows,
    dequantizeRows,   qmatmul,    readBytes,
};
