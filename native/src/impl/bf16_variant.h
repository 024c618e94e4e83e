// Which bf16 x bf16 GEMM a build runs (included from gemm.h before gemmOne):
// - widen: bf16 widened to f32 while packing, f32 FMAs (every build);
// - dot:   vdpbf16ps on bf16 pairs (builds with AVX512-BF16);
// - amx:   tdpbf16ps on tiles (the amx build; amxemu emulates the tiles).
// Products of bf16 values are exact in f32 and all three sum in f32, so they
// agree to f32 rounding (the harness holds each to the float64 reference).
//
// With AVX512-BF16 the choice between widen and dot is made once per process
// by calibration: a short timed loop of each instruction on 24 independent
// accumulators (bench/fma-vs-dpbf16.cc's loop, ~1 ms in all), dot chosen when
// it does at least 1.1x the FLOPs of FMA on this core. Sapphire Rapids runs
// vdpbf16ps zmm at half the FMA rate (widen wins); Zen 5 is expected to run it
// at twice the FMA rate (dot wins). amx is chosen without calibrating.
// BAICHUAN2_BF16_GEMM=auto|widen|dot|amx (validated by the addon at load) or
// setBf16Gemm forces one; a variant the build lacks falls back to auto and says so.
// The choice is per process, never per call or per thread count, so results
// stay independent of the thread count.

enum Bf16Variant : int { kBf16Widen = 0, kBf16Dot = 1, kBf16Amx = 2, kBf16Auto = 3 };

struct Bf16State {
  int variant = kBf16Widen;
  char why[240] = {};
};

#if defined(__AVX512BF16__) && !defined(KERNEL_AMX)  // the amx builds choose tiles without calibrating
struct Bf16Rates { double fma = 0, dot = 0; };  // GFLOP/s, one core

static Bf16Rates calibrateBf16() {
  __m512 acc[24];
  for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps(i * 1e-3f);
  __m512 a = _mm512_set1_ps(1e-3f), b = _mm512_set1_ps(0.999f);
  __m512bh ah = (__m512bh)_mm512_set1_epi32(0x3a803a80), bh = (__m512bh)_mm512_set1_epi32(0x3f803f80);
  constexpr int n = 20000;
  Bf16Rates r;
  for (int rep = 0; rep < 3; rep++) {  // best of 3, alternating, so a preemption hurts one sample
    double t = omp_get_wtime();
    for (int k = 0; k < n; k++) {
#pragma GCC unroll 24
      for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(a, b, acc[i]);
      __asm__ volatile("" : "+v"(b));
    }
    r.fma = std::max(r.fma, n * 24.0 * 32 / (omp_get_wtime() - t) / 1e9);
    t = omp_get_wtime();
    for (int k = 0; k < n; k++) {
#pragma GCC unroll 24
      for (int i = 0; i < 24; i++) acc[i] = _mm512_dpbf16_ps(acc[i], ah, bh);
      __asm__ volatile("" : "+v"(bh));
    }
    r.dot = std::max(r.dot, n * 24.0 * 64 / (omp_get_wtime() - t) / 1e9);
  }
  float sink = 0;
  for (int i = 0; i < 24; i++) sink += _mm512_reduce_add_ps(acc[i]);
  __asm__ volatile("" : : "x"(sink));
  return r;
}

static const Bf16Rates& bf16Rates() {
  static const Bf16Rates r = calibrateBf16();
  return r;
}
#endif

static bool bf16Has(int v) {
  if (v == kBf16Widen || v == kBf16Auto) return true;
#if defined(__AVX512BF16__)
  if (v == kBf16Dot) return true;
#endif
#if defined(KERNEL_AMX)
  if (v == kBf16Amx) return true;
#endif
  return false;
}

static const char* bf16Name(int v) { return v == kBf16Dot ? "dot" : v == kBf16Amx ? "amx" : v == kBf16Widen ? "widen" : "auto"; }

// Decides `want` (auto or a variant this build has); `note` prefixes the reason.
static void bf16Decide(Bf16State& s, int want, const char* note) {
  if (want != kBf16Auto) {
    s.variant = want;
    std::snprintf(s.why, sizeof s.why, "%s", note);
    return;
  }
#if defined(KERNEL_AMX)
  s.variant = kBf16Amx;
  std::snprintf(s.why, sizeof s.why, "%s%s with tdpbf16ps (AMX-BF16)", note, AMX_KIND);
#elif defined(__AVX512BF16__)
  const Bf16Rates& r = bf16Rates();
  s.variant = r.dot >= 1.1 * r.fma ? kBf16Dot : kBf16Widen;
  std::snprintf(s.why, sizeof s.why, "%scalibrated on one core: vdpbf16ps %.0f GFLOP/s vs vfmadd231ps %.0f GFLOP/s (dot products when >= 1.1x)",
                note, r.dot, r.fma);
#else
  s.variant = kBf16Widen;
  std::snprintf(s.why, sizeof s.why, "%sthis build has no AVX512-BF16: bf16 widened to f32, FMAs", note);
#endif
}

static Bf16State& bf16State() {
  static Bf16State s = [] {
    Bf16State st;
    const char* env = std::getenv("BAICHUAN2_BF16_GEMM");
    int want = kBf16Auto;
    for (int v = 0; v <= kBf16Auto; v++)
      if (env && std::strcmp(env, bf16Name(v)) == 0) want = v;
    char note[96] = "";
    if (env && *env && want != kBf16Auto && !bf16Has(want)) {
      std::snprintf(note, sizeof note, "BAICHUAN2_BF16_GEMM=%s is not in this build; ", env);
      want = kBf16Auto;
    } else if (env && *env && want != kBf16Auto) {
      std::snprintf(note, sizeof note, "forced by BAICHUAN2_BF16_GEMM=%s", env);
    }
    bf16Decide(st, want, note);
    return st;
  }();
  return s;
}

static inline int bf16Variant() { return bf16State().variant; }

// The table entry: set < 0 queries; otherwise forces variant `set` (kBf16Auto: decide again).
// Returns the active variant, or -1 (nothing changed) when this build lacks `set`.
static int bf16Gemm(int set, const char** why) {
  Bf16State& s = bf16State();
  if (set >= 0) {
    if (set > kBf16Auto || !bf16Has(set)) return -1;
    bf16Decide(s, set, set == kBf16Auto ? "" : "forced by setBf16Gemm");
  }
  if (why) *why = s.why;
  return s.variant;
}
