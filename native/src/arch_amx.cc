// AVX-512 + VNNI + BF16 + AMX-TILE/BF16/INT8 build (Sapphire Rapids and later): bf16 GEMM on
// tdpbf16ps tiles, quantised prefill on tdpbssd tiles (impl/amx_tile.h, gemm_amx.h, quant_amx.h); the
// other kernels are the avx512bf16 build's (impl/table_amx.h).
// Selected only when CPUID, XCR0 (bits 17-18) and the kernel's permission
// (arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA, requested in dispatch.cc) all agree.
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
namespace amx {
#define KERNEL_ARCH_NAME "amx"
#define KERNEL_AMX 1
#include "impl/common.h"
#include "impl/amx_tile.h"
#include "impl/gemm.h"
#include "impl/quant.h"
#include "impl/gemm_amx.h"
#include "impl/quant_amx.h"
#include "impl/table_amx.h"
}  // namespace amx
}  // namespace bc
