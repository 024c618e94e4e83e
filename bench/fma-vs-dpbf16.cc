// Throughput of the two ways a bf16 GEMM can multiply on an AVX512-BF16 CPU:
// vfmadd231ps zmm (16 f32 multiply-adds) and vdpbf16ps zmm (32 bf16 pair
// products accumulated into 16 f32 lanes), each over 24 independent
// accumulators so latency is hidden and only issue throughput counts.
// Thread CPU time, so a shared machine's preemption does not count.
//   g++ -O2 -mavx512f -mavx512bf16 bench/fma-vs-dpbf16.cc -o /tmp/fma-vs-dpbf16 && /tmp/fma-vs-dpbf16
#include <immintrin.h>
#include <cstdio>
#include <ctime>

static double cpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main() {
  __m512 acc[24];
  for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps(i * 1e-3f);
  __m512 a = _mm512_set1_ps(1e-3f), b = _mm512_set1_ps(0.999f);
  __m512bh ah = (__m512bh)_mm512_set1_epi32(0x3a803a80), bh = (__m512bh)_mm512_set1_epi32(0x3f803f80);
  const long n = 50000000;
  double bestFma = 0, bestDot = 0;
  for (int rep = 0; rep < 5; rep++) {
    double t = cpuSeconds();
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 24
      for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(a, b, acc[i]);
      __asm__ volatile("" : "+v"(b));
    }
    double g = n * 24.0 * 32 / (cpuSeconds() - t) / 1e9;  // 16 lanes x 2 FLOPs
    if (g > bestFma) bestFma = g;
    t = cpuSeconds();
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 24
      for (int i = 0; i < 24; i++) acc[i] = _mm512_dpbf16_ps(acc[i], ah, bh);
      __asm__ volatile("" : "+v"(bh));
    }
    g = n * 24.0 * 64 / (cpuSeconds() - t) / 1e9;  // 32 pairs x 2 FLOPs
    if (g > bestDot) bestDot = g;
  }
  float sink = 0;
  for (int i = 0; i < 24; i++) sink += _mm512_reduce_add_ps(acc[i]);
  std::printf("one core, best of 5: vfmadd231ps zmm %.1f GFLOP/s, vdpbf16ps zmm %.1f GFLOP/s, ratio dpbf16/fma %.2f (sink %g)\n",
              bestFma, bestDot, bestDot / bestFma, sink);
}
