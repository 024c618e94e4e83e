// CPU feature detection and kernel build selection (see dispatch.h).
#include "dispatch.h"
#include <cpuid.h>
#include <cstdint>
#include <sys/syscall.h>
#include <unistd.h>

namespace bc::dispatch {
namespace {

// CPU features from CPUID, and whether the OS saves the register state they
// need (XCR0): a CPU can report AVX-512 while the kernel leaves the zmm state
// disabled, and then the instructions fault.

uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

Features detect() {
  Features f;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(1, 0, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  f.fma = (c >> 12) & 1;
  f.avx = (c >> 28) & 1;
  f.f16c = (c >> 29) & 1;
  if (osxsave) {
    const uint64_t xcr0 = xgetbv0();
    f.osYmm = (xcr0 & 0x6) == 0x6;
    f.osZmm = f.osYmm && (xcr0 & 0xe0) == 0xe0;
    f.osAmx = (xcr0 & 0x60000) == 0x60000;
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = (b >> 5) & 1;
    f.avx512f = (b >> 16) & 1;
    f.avx512dq = (b >> 17) & 1;
    f.avx512cd = (b >> 28) & 1;
    f.avx512bw = (b >> 30) & 1;
    f.avx512vl = (b >> 31) & 1;
    f.avx512vnni = (c >> 11) & 1;
    f.amxBf16 = (d >> 22) & 1;
    f.avx512fp16 = (d >> 23) & 1;
    f.amxTile = (d >> 24) & 1;
    f.amxInt8 = (d >> 25) & 1;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
      f.avxvnni = (a >> 4) & 1;
      f.avx512bf16 = (a >> 5) & 1;
    }
  }
  return f;
}

// AMX tile data (XTILEDATA, XSAVE component 18) is off for a Linux process until
// it asks (kernel 5.16+; Documentation/arch/x86/xstate.rst): without this, the
// first tile instruction faults. The permission is process-wide; asked once.
bool requestAmxPermission() {
  constexpr long kReqXcompPerm = 0x1023, kGetXcompPerm = 0x1022, kXtileData = 18;
  if (syscall(SYS_arch_prctl, kReqXcompPerm, kXtileData) != 0) return false;
  unsigned long perm = 0;
  if (syscall(SYS_arch_prctl, kGetXcompPerm, &perm) != 0) return false;
  return (perm >> kXtileData) & 1;
}

Features detectAll() {
  Features f = detect();
  if (f.amxTile && f.amxBf16 && f.amxInt8 && f.osAmx) f.amxPerm = requestAmxPermission();
  return f;
}

const Features kFeatures = detectAll();

bool hasAvx2(const Features& f) { return f.avx && f.avx2 && f.fma && f.f16c && f.osYmm; }
bool hasAvx512(const Features& f) {
  return hasAvx2(f) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512cd && f.osZmm;
}

// Every build, best first.
bool hasAmx(const Features& f) {
  return hasAvx512(f) && f.avx512vnni && f.avx512bf16 && f.amxTile && f.amxBf16 && f.amxInt8 && f.osAmx && f.amxPerm;
}

const Build kBuilds[] = {
    {&bc::amx::table, hasAmx,
     "AVX-512 F/BW/VL/DQ/CD, AVX512-VNNI, AVX512-BF16, AMX-TILE/BF16/INT8, OS zmm and tile state (XCR0 bits 17-18) and the "
     "kernel's permission for tile data (arch_prctl ARCH_REQ_XCOMP_PERM)"},
    {&bc::avx512bf16::table, [](const Features& f) { return hasAvx512(f) && f.avx512vnni && f.avx512bf16; },
     "AVX-512 F/BW/VL/DQ/CD, AVX512-VNNI, AVX512-BF16 and OS zmm state"},
    {&bc::avx512vnni::table, [](const Features& f) { return hasAvx512(f) && f.avx512vnni; },
     "AVX-512 F/BW/VL/DQ/CD, AVX512-VNNI and OS zmm state"},
    {&bc::avx512::table, hasAvx512, "AVX-512 F/BW/VL/DQ/CD and OS zmm state"},
    {&bc::avx2vnni::table, [](const Features& f) { return hasAvx2(f) && f.avxvnni; }, "AVX2, FMA, F16C, AVX-VNNI and OS ymm state"},
    {&bc::avx2::table, hasAvx2, "AVX2, FMA, F16C and OS ymm state"},
    {&bc::generic::table, [](const Features&) { return true; }, "x86-64"},
    // test-only: the amx build's kernels on emulated tiles; ranked below generic, so never picked
    {&bc::amxemu::table, [](const Features& f) { return hasAvx512(f) && f.avx512vnni && f.avx512bf16; },
     "AVX-512 F/BW/VL/DQ/CD, AVX512-VNNI, AVX512-BF16 and OS zmm state (it emulates the AMX tiles)"},
};

const Build* findBuild(const std::string& name) {
  for (const Build& b : kBuilds)
    if (name == b.table->name) return &b;
  return nullptr;
}

const KernelTable* bestTable() {
  for (const Build& b : kBuilds)
    if (b.supported(kFeatures)) return b.table;
  return &bc::generic::table;
}

const KernelTable* gActive = bestTable();

std::string buildNames() {
  std::string s;
  for (const Build& b : kBuilds) s += (s.empty() ? "" : ", ") + std::string(b.table->name);
  return s;
}

}  // namespace

const Features& features() { return kFeatures; }
const Build* builds(int* count) {
  *count = static_cast<int>(sizeof(kBuilds) / sizeof(kBuilds[0]));
  return kBuilds;
}
const KernelTable* best() { return bestTable(); }
const KernelTable* active() { return gActive; }

std::string selectBuild(const std::string& name) {
  const Build* b = findBuild(name);
  if (!b) return "unknown kernel build '" + name + "' (builds: " + buildNames() + ")";
  if (!b->supported(kFeatures)) return "kernel build '" + name + "' needs " + b->needs + ", which this CPU or OS lacks";
  gActive = b->table;
  return "";
}

}  // namespace bc::dispatch
