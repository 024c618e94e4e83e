// AVX-512 F/BW/VL/DQ + AVX512-VNNI build (Ice Lake): adds vpdpbusd int8 quantised products.
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
namespace avx512vnni {
#define KERNEL_ARCH_NAME "avx512vnni"
#include "impl/all.h"
}  // namespace avx512vnni
}  // namespace bc
