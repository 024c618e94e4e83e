// AVX2 + FMA + F16C + AVX-VNNI build (Alder Lake and later without AVX-512): int8 dot products by vpdpbusd on ymm.
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
namespace avx2vnni {
#define KERNEL_ARCH_NAME "avx2vnni"
#include "impl/all.h"
}  // namespace avx2vnni
}  // namespace bc
