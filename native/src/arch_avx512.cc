// AVX-512 F/BW/VL/DQ build (Skylake-X and later): 512-bit GEMM, GEMV and element-wise kernels.
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
namespace avx512 {
#define KERNEL_ARCH_NAME "avx512"
#include "impl/all.h"
}  // namespace avx512
}  // namespace bc
