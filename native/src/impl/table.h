// The table of this arch's kernels (included last, inside the arch namespace).
// bf16 dot products (kCapBf16Dot) are chosen at run time: bf16Gemm (bf16_variant.h) says which variant runs.
#define KERNEL_CAP_BF16 0
#if defined(QUANT_INT8_GEMM)
#define KERNEL_CAP_INT8 kCapInt8Gemm
#else
#define KERNEL_CAP_INT8 0
#endif
const KernelTable table = {
    KERNEL_ARCH_NAME, KERNEL_CAP_BF16 | KERNEL_CAP_INT8, gemm,       rmsnormFwd, rmsnormBwd, l2normFwd, l2normBwd, swigluFwd, swigluBwd,
    siluFwd,          siluBwd,    rope,       softmaxFwd, softmaxBwd, xentFwd,  xentBwd,   attnFwd,
    attnBwd,          adamw,      sumsq,      bf16ToF32,  f32ToBf16,  randomFill, quantizeRows,
    dequantizeRows,   qmatmul,    readBytes,  bf16Gemm,   decodeLayer,
    binaryF32,        affineF32,  copyStrided,
};
