// Test-only build: the amx build's kernels with the tile operations emulated in
// plain C++ (impl/amx_tile.h, BAICHUAN2_AMX_EMULATE), compiled for AVX512-BF16.
// Never picked by the dispatcher (it ranks below generic); selectable with
// setArch('amxemu') so the harness checks the AMX code path on CPUs without AMX.
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
namespace amxemu {
#define KERNEL_ARCH_NAME "amxemu"
#define KERNEL_AMX 1
#define BAICHUAN2_AMX_EMULATE 1
#include "impl/common.h"
#include "impl/amx_tile.h"
#include "impl/gemm.h"
#include "impl/quant.h"
#include "impl/gemm_amx.h"
#include "impl/quant_amx.h"
#include "impl/table_amx.h"
}  // namespace amxemu
}  // namespace bc
