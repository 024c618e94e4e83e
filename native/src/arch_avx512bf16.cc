// AVX-512 F/BW/VL/DQ + AVX512-VNNI + AVX512-BF16 build (Cooper Lake, Sapphire Rapids, Zen 4/5): adds vdpbf16ps bf16 GEMM.
// Selected only when the CPU reports the features and the OS saves their register state (addon.cc).
#include <immintrin.h>
#include <omp.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <algorithm>
#include "kernels.h"

namespace bc {
namespace avx512bf16 {
#define KERNEL_ARCH_NAME "avx512bf16"
#include "impl/all.h"
}  // namespace avx512bf16
}  // namespace bc
