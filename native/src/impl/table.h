// The table of this arch's kernels (included last, inside the arch namespace).
#if defined(__AVX512BF16__) && defined(BAICHUAN2_BF16_DOT)  // gemm.h: vdpbf16ps is opt-in
#define KERNEL_CAP_BF16 kCapBf16Dot
#else
#define KERNEL_CAP_BF16 0
#endif
#if defined(QUANT_INT8_GEMM)
#define KERNEL_CAP_INT8 kCapInt8Gemm
#else
#define KERNEL_CAP_INT8 0
#endif
const KernelTable table = {
    KERNEL_ARCH_NAME, KERNEL_CAP_BF16 | KERNEL_CAP_INT8, gemm,       rmsnormFwd, rmsnormBwd, l2normFwd, l2normBwd, swigluFwd, swigluBwd,
    siluFwd,          siluBwd,    rope,       softmaxFwd, softmaxBwd, xentFwd,  xentBwd,   attnFwd,
    attnBwd,          adamw,      sumsq,      bf16ToF32,  f32ToBf16,  randomFill, quantizeRows,
    dequantizeRows,   qmatmul,    readBytes,
    binaryF32,        affineF32,
};
