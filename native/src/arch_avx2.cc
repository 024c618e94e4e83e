// AVX2 + FMA build of the kernels; selected only when the CPU reports both.
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
namespace avx2 {
#define KERNEL_ARCH_NAME "avx2"
#include "impl/all.h"
}  // namespace avx2
}  // namespace bc
