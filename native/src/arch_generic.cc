// Baseline x86-64 build of the kernels (SSE2 only): runs on any x86-64 CPU.
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
namespace generic {
#define KERNEL_ARCH_NAME "generic"
#include "impl/all.h"
}  // namespace generic
}  // namespace bc
