// Kernel build dispatch: the CPU's feature bits (CPUID) and the register state
// the OS saves (XCR0) decide which compiled build of the kernels may run. The
// best supported build is active at load time; selectBuild forces another.
#pragma once
#include <string>
#include "kernels.h"

namespace bc::dispatch {

struct Features {
  bool avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512cd = false;
  bool avx512vnni = false, avx512bf16 = false, avx512fp16 = false, avxvnni = false;
  bool amxTile = false, amxBf16 = false, amxInt8 = false;
  bool osYmm = false, osZmm = false, osAmx = false;  // XCR0 bits 1-2, 5-7, 17-18
  bool amxPerm = false;  // Linux granted XTILEDATA (arch_prctl ARCH_REQ_XCOMP_PERM), asked only when CPUID and XCR0 have AMX
};

// One compiled build, with what the CPU and OS must provide for it.
struct Build {
  const KernelTable* table;
  bool (*supported)(const Features&);
  const char* needs;
};

const Features& features();
// Every build, best first; `count` receives the number of entries.
const Build* builds(int* count);
const KernelTable* best();
const KernelTable* active();
// Selects a build by name; the CPU and OS must support it. Returns an error message or "".
std::string selectBuild(const std::string& name);

}  // namespace bc::dispatch
