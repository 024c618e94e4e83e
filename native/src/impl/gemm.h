// Packed GEMM in the BLIS/GotoBLAS structure: K is cut into KC-deep slices,
// M into A blocks of at most MC rows packed into MR-tall panels (L2), N into
// NR-wide B panels packed just before use (L1 on AVX2, L2 on AVX-512), and a register-blocked
// MR x NR micro-kernel does the FMAs. bf16 operands are widened to f32 while
// packing (or, with AVX512-BF16, kept as bf16 pairs for vdpbf16ps). Each C
// element is accumulated in k order by exactly one thread, so results do not
// depend on the thread count. Reference: src/engine/ref/matmul.ts (float64).

#if defined(__AVX512F__)
// 6 x 64: 24 zmm accumulators, 4 zmm for the B row, 6 broadcasts from memory:
// 10 loads per 24 FMAs (14 x 32 needed 16 per 28), which measured 4-7% faster
// at 1024^3-4096^3 and the 7B shapes, equal at 512^3 (2026-12-01, Sapphire
// Rapids, pairs with OpenBLAS in one process). The tile geometry does not
// change any result: each C element is still one k-ordered FMA chain per
// KC slice. A B panel (KC x NR f32) is 64 KiB, streamed from L2.
constexpr int MR = 6;
constexpr int NR = 64;
constexpr int MC = 516;   // multiple of MR; an A block (MC x KC f32) is 516 KiB: a quarter of a 2 MiB L2 (Sapphire Rapids, Zen 4/5: 1 MiB)
constexpr int KC = 256;
constexpr int NV = NR / 16;  // zmm per B row
static_assert(NR % 16 == 0 && MC % MR == 0, "GEMM blocking");
#else
constexpr int MR = 6;
constexpr int NR = 16;
constexpr int MC = 144;   // multiple of MR; an A block (MC x KC f32) is 144 KiB, sized for L2
constexpr int KC = 256;
#endif

#include "gemm_pack.h"  // GemmOperand and the A / B panel packing

// acc = sum_k a[k*MR + r] * b[k*NR + c]; then C = alpha*acc + (first ? beta*C : C).
#if defined(__AVX512F__)
// C rows [0, rows) x columns [0, cols <= 32) = alpha * acc + (first ? beta * C : C), where
// row(r, h) gives accumulator row r, lanes 16h..16h+15; edge tiles use masked loads/stores.
// Shared by the f32 micro-kernel (accumulators in registers) and the AMX GEMM (tiles stored to memory).
// H = the tile's 16-lane column groups (cols <= 16 * H).
template <int H, typename Row>
static inline void combineRows(Row row, float* c, int64_t ldc, int rows, int cols, float alpha, float beta, bool first) {
  __mmask16 m[H];
  for (int h = 0; h < H; h++) {
    const int n = cols - 16 * h;
    m[h] = n >= 16 ? 0xffff : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int r = 0; r < rows; r++) {
    float* cr = c + r * ldc;
#pragma GCC unroll 4
    for (int h = 0; h < H; h++) {
      __m512 x = _mm512_mul_ps(va, row(r, h));
      if (!first) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m[h], cr + 16 * h));
      else if (beta != 0.f) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m[h], cr + 16 * h), x);
      _mm512_mask_storeu_ps(cr + 16 * h, m[h], x);
    }
  }
}

// Writes an MR x NR accumulator tile to C.
static inline void storeTile(__m512 (&acc)[MR][NV], float* c, int64_t ldc, int rows, int cols, float alpha, float beta,
                             bool first) {
  combineRows<NV>([&](int r, int h) { return acc[r][h]; }, c, ldc, rows, cols, alpha, beta, first);
}

static void microKernel(int kc, const float* a, const float* b, float* c, int64_t ldc, int rows, int cols,
                        float alpha, float beta, bool first) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int h = 0; h < NV; h++) acc[r][h] = _mm512_setzero_ps();
  for (int r = 0; r < rows; r++)  // C is read (or write-allocated) at the end: fetch it while the FMAs run
    for (int h = 0; h <= (NR - 1) / 16; h++) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + (h < NV - 1 ? 16 * h : NR - 1)), _MM_HINT_T0);
  for (int k = 0; k < kc; k++) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int h = 0; h < NV; h++) bv[h] = _mm512_load_ps(b + k * NR + 16 * h);
    const float* ak = a + k * MR;
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      const __m512 av = _mm512_set1_ps(ak[r]);
#pragma GCC unroll 4
      for (int h = 0; h < NV; h++) acc[r][h] = _mm512_fmadd_ps(av, bv[h], acc[r][h]);
    }
  }
  storeTile(acc, c, ldc, rows, cols, alpha, beta, first);
}
#elif defined(__AVX2__) && defined(__FMA__)
static void microKernel(int kc, const float* a, const float* b, float* c, int64_t ldc, int rows, int cols,
                        float alpha, float beta, bool first) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(b + k * NR);
    __m256 b1 = _mm256_load_ps(b + k * NR + 8);
    const float* ak = a + k * MR;
    __m256 av = _mm256_broadcast_ss(ak + 0);
    c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(ak + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(ak + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(ak + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(ak + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(ak + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  alignas(32) float acc[MR * NR];
  _mm256_store_ps(acc + 0, c00); _mm256_store_ps(acc + 8, c01);
  _mm256_store_ps(acc + 16, c10); _mm256_store_ps(acc + 24, c11);
  _mm256_store_ps(acc + 32, c20); _mm256_store_ps(acc + 40, c21);
  _mm256_store_ps(acc + 48, c30); _mm256_store_ps(acc + 56, c31);
  _mm256_store_ps(acc + 64, c40); _mm256_store_ps(acc + 72, c41);
  _mm256_store_ps(acc + 80, c50); _mm256_store_ps(acc + 88, c51);
  if (rows == MR && cols == NR) {
    __m256 va = _mm256_set1_ps(alpha);
    __m256 vb = _mm256_set1_ps(beta);
    for (int r = 0; r < MR; r++) {
      float* cr = c + r * ldc;
      for (int h = 0; h < NR; h += 8) {
        __m256 x = _mm256_mul_ps(va, _mm256_load_ps(acc + r * NR + h));
        if (!first) x = _mm256_add_ps(x, _mm256_loadu_ps(cr + h));
        else if (beta != 0.f) x = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + h), x);
        _mm256_storeu_ps(cr + h, x);
      }
    }
    return;
  }
  for (int r = 0; r < rows; r++)
    for (int q = 0; q < cols; q++) {
      float x = alpha * acc[r * NR + q];
      float* cp = c + r * ldc + q;
      *cp = !first ? *cp + x : (beta != 0.f ? beta * *cp + x : x);
    }
}
#else
static void microKernel(int kc, const float* a, const float* b, float* c, int64_t ldc, int rows, int cols,
                        float alpha, float beta, bool first) {
  float acc[MR * NR];
  for (int i = 0; i < MR * NR; i++) acc[i] = 0.f;
  for (int k = 0; k < kc; k++)
    for (int r = 0; r < MR; r++) {
      float av = a[k * MR + r];
      for (int q = 0; q < NR; q++) acc[r * NR + q] += av * b[k * NR + q];
    }
  for (int r = 0; r < rows; r++)
    for (int q = 0; q < cols; q++) {
      float x = alpha * acc[r * NR + q];
      float* cp = c + r * ldc + q;
      *cp = !first ? *cp + x : (beta != 0.f ? beta * *cp + x : x);
    }
}
#endif

// The f32 path: operands widened to f32 while packing, f32 FMAs.
struct F32Path {
  using T = float;
  static constexpr int kKC = KC;
  static int depth(int kc) { return kc; }
  static void packA(const GemmOperand& A, int64_t i0, int mc, int64_t p0, int kc, T* dst) { packAFloat(A, i0, mc, p0, kc, dst); }
  static void packB(const GemmOperand& B, int64_t p0, int kc, int64_t j, int cols, T* panel) { packBPanel(B, p0, kc, j, cols, panel); }
  static void kernel(int d, const T* a, const T* b, float* c, int64_t ldc, int rows, int cols, float alpha, float beta, bool first) {
    microKernel(d, a, b, c, ldc, rows, cols, alpha, beta, first);
  }
};

#if defined(__AVX512BF16__)
// Chosen at run time by calibration (bf16_variant.h): on Sapphire Rapids
// vdpbf16ps zmm retires one per two cycles (32 bf16 pairs = 64 FLOPs per 2
// cycles) against two f32 FMAs per cycle (64 FLOPs per cycle), so widening
// bf16 to f32 while packing and running the f32 micro-kernel is about twice
// as fast in the kernel; measured end to end (bench/gemm A/B, 2026-12-01),
// widening is 1.4-1.6x faster at 7B shapes.
// The bf16 path (both operands bf16): packs hold k-pairs of bf16 bits as one
// 32-bit word, and vdpbf16ps multiplies in bf16 (exact products) and
// accumulates in f32: acc += a[2p+1]*b[2p+1], then += a[2p]*b[2p] (each step
// rounded to f32, denormals flushed, as the instruction defines).
static inline uint32_t bitsAt(const GemmOperand& X, int64_t r, int64_t c) {
  return static_cast<const uint16_t*>(X.p)[r * X.rs + c * X.cs];
}

static void packAPairs(const GemmOperand& A, int64_t i0, int mc, int64_t p0, int kc, uint32_t* dst) {
  const int kp = (kc + 1) / 2;
  const uint16_t* src = static_cast<const uint16_t*>(A.p);
  for (int ir = 0; ir < mc; ir += MR) {
    uint32_t* panel = dst + static_cast<int64_t>(ir) * kp;
    const int rows = mc - ir < MR ? mc - ir : MR;
    for (int r = 0; r < MR; r++) {
      if (r >= rows) { for (int p = 0; p < kp; p++) panel[p * MR + r] = 0; continue; }
      const int64_t i = i0 + ir + r;
      if (A.cs == 1) {
        const uint16_t* row = src + i * A.rs + p0;
        for (int p = 0; p < kc / 2; p++) panel[p * MR + r] = row[2 * p] | (static_cast<uint32_t>(row[2 * p + 1]) << 16);
      } else {
        for (int p = 0; p < kc / 2; p++)
          panel[p * MR + r] = bitsAt(A, i, p0 + 2 * p) | (bitsAt(A, i, p0 + 2 * p + 1) << 16);
      }
      if (kc & 1) panel[(kp - 1) * MR + r] = bitsAt(A, i, p0 + kc - 1);
    }
  }
}

static void packBPairs(const GemmOperand& B, int64_t p0, int kc, int64_t j, int cols, uint32_t* panel) {
  const int kp = (kc + 1) / 2;
  const uint16_t* src = static_cast<const uint16_t*>(B.p);
  if (B.cs == 1) {  // row-major: two k rows interleaved
    for (int p = 0; p < kp; p++) {
      const uint16_t* r0 = src + (p0 + 2 * p) * B.rs + j;
      const uint16_t* r1 = 2 * p + 1 < kc ? r0 + B.rs : nullptr;
      uint32_t* out = panel + p * NR;
      for (int c = 0; c < cols; c++) out[c] = r0[c] | (r1 ? static_cast<uint32_t>(r1[c]) << 16 : 0u);
      for (int c = cols; c < NR; c++) out[c] = 0;
    }
    return;
  }
  for (int c = 0; c < NR; c++) {
    if (c >= cols) { for (int p = 0; p < kp; p++) panel[p * NR + c] = 0; continue; }
    if (B.rs == 1) {  // a Linear's [N, K] weight: column j + c is a contiguous row
      const uint16_t* col = src + (j + c) * B.cs + p0;
      for (int p = 0; p < kc / 2; p++) panel[p * NR + c] = col[2 * p] | (static_cast<uint32_t>(col[2 * p + 1]) << 16);
    } else {
      for (int p = 0; p < kc / 2; p++) panel[p * NR + c] = bitsAt(B, p0 + 2 * p, j + c) | (bitsAt(B, p0 + 2 * p + 1, j + c) << 16);
    }
    if (kc & 1) panel[(kp - 1) * NR + c] = bitsAt(B, p0 + kc - 1, j + c);
  }
}

static void microKernelBf16(int kp, const uint32_t* a, const uint32_t* b, float* c, int64_t ldc, int rows, int cols,
                            float alpha, float beta, bool first) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int h = 0; h < NV; h++) acc[r][h] = _mm512_setzero_ps();
  for (int p = 0; p < kp; p++) {
    __m512bh bv[NV];
#pragma GCC unroll 4
    for (int h = 0; h < NV; h++) bv[h] = (__m512bh)_mm512_load_si512(b + p * NR + 16 * h);
    const uint32_t* ap = a + p * MR;
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[r]));
#pragma GCC unroll 4
      for (int h = 0; h < NV; h++) acc[r][h] = _mm512_dpbf16_ps(acc[r][h], bv[h], av);  // broadcast as the memory operand
    }
  }
  storeTile(acc, c, ldc, rows, cols, alpha, beta, first);
}

struct Bf16Path {
  using T = uint32_t;
  static constexpr int kKC = 2 * KC;  // 256 pairs: a B panel is 32 KiB, as in the f32 path
  static int depth(int kc) { return (kc + 1) / 2; }
  static void packA(const GemmOperand& A, int64_t i0, int mc, int64_t p0, int kc, T* dst) { packAPairs(A, i0, mc, p0, kc, dst); }
  static void packB(const GemmOperand& B, int64_t p0, int kc, int64_t j, int cols, T* panel) { packBPairs(B, p0, kc, j, cols, panel); }
  static void kernel(int d, const T* a, const T* b, float* c, int64_t ldc, int rows, int cols, float alpha, float beta, bool first) {
    microKernelBf16(d, a, b, c, ldc, rows, cols, alpha, beta, first);
  }
};
#endif

// Requests into L2 slice `slice` of `slices` of the source cache lines of the
// B panel (p0, kc, j, cols), so a panel's DRAM reads overlap the FMAs of the
// panel before it instead of stalling its packing.
static inline void prefetchBSlice(const GemmOperand& B, int64_t p0, int kc, int64_t j, int cols, int slice, int slices) {
#if defined(__AVX2__)
  if (B.cs != 1 && B.rs != 1) return;
  const int64_t es = B.type == kF32 ? 4 : 2;
  const bool colRows = B.cs != 1;  // a transposed B: one contiguous source row per panel column
  const int nRows = colRows ? cols : kc;
  const int64_t rowBytes = (colRows ? kc : cols) * es;
  const int lines = static_cast<int>((rowBytes + 63) / 64) + 1;  // an unaligned row spans one more line
  const int total = nRows * lines;
  const char* base = static_cast<const char*>(B.p);
  for (int l = total * slice / slices, end = total * (slice + 1) / slices; l < end; l++) {
    const int r = l / lines, q = l % lines;
    const char* row = colRows ? base + ((j + r) * B.cs + p0) * es : base + ((p0 + r) * B.rs + j) * es;
    _mm_prefetch(row + (q * 64 < rowBytes ? q * 64 : rowBytes - 1), _MM_HINT_T1);
  }
#else
  (void)B; (void)p0; (void)kc; (void)j; (void)cols; (void)slice; (void)slices;
#endif
}

// The blocked product. C is cut into tasks of (one A block of at most MC
// rows) x (a run of NR-wide B panels); thread t runs a fixed contiguous range
// of tasks, so no two threads write the same C tile and there is no barrier.
// Per task and KC slice, the thread packs the A block itself (L2-resident)
// and then each B panel just before its MR-row sweep (L1-resident), while the
// next panel's source lines stream into L2 under the FMAs. B is thus packed
// once per A block (M / MC times), cheap next to the 2 * MC FLOPs each packed
// element then feeds. Each C element is still accumulated in k order by one
// thread with the same micro-kernel, whatever the thread count.
template <typename P>
static void gemmBlocked(const GemmOperand& A, const GemmOperand& B, int M, int N, int K, float alpha, float beta,
                        float* C, int64_t ldc) {
  using T = typename P::T;
  constexpr int kKC = P::kKC;
  const int panels = (N + NR - 1) / NR;
  const int icBlocks = (M + MC - 1) / MC;  // equal-height A blocks (multiples of MR, at most MC)
  const int mcUnit = ((M + icBlocks - 1) / icBlocks + MR - 1) / MR * MR;
  const int nThreads = omp_get_max_threads();
  // Split the panels too when the A blocks alone do not share out evenly.
  int jParts = icBlocks % nThreads == 0 ? 1 : nThreads;
  if (jParts > panels) jParts = panels;
  const int tasks = icBlocks * jParts;
  // One A block shared out by panels (M <= MC, e.g. 512^3 on 2 threads): the
  // threads pack one A block together, each its share of MR-row panels, into
  // one buffer, instead of each packing all of it for its own panels. Only
  // where a thread has few panels (N <= 1024 per thread): with many, the
  // private packing is amortised and the two barriers per K slice cost more.
  if (icBlocks == 1 && jParts > 1 && N <= 1024 * jParts) {
    static thread_local Scratch sharedScratch;  // the calling thread's, lent to the team
    T* aShared = reinterpret_cast<T*>(sharedScratch.get(static_cast<size_t>(MC) * P::depth(kKC)));
    const int mc = M, tiles = (mc + MR - 1) / MR;
#pragma omp parallel num_threads(jParts)
    {
      static thread_local Scratch bScratch1;
      T* bPack = reinterpret_cast<T*>(bScratch1.get(static_cast<size_t>(NR) * P::depth(kKC)));
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int p0 = static_cast<int>(static_cast<int64_t>(panels) * t / nt), p1 = static_cast<int>(static_cast<int64_t>(panels) * (t + 1) / nt);
      const int a0 = tiles * t / nt, a1 = tiles * (t + 1) / nt;
      for (int pc = 0; pc < K; pc += kKC) {
        const int kc = K - pc < kKC ? K - pc : kKC;
        const int d = P::depth(kc);
        if (a1 > a0) P::packA(A, a0 * MR, (a1 * MR < mc ? a1 * MR : mc) - a0 * MR, pc, kc, aShared + static_cast<int64_t>(a0) * MR * d);
#pragma omp barrier
        for (int jp = p0; jp < p1; jp++) {
          const int j = jp * NR, cols = N - j < NR ? N - j : NR;
          P::packB(B, pc, kc, j, cols, bPack);
          const int jn = jp + 1 < p1 ? j + NR : -1;
          for (int it = 0; it < tiles; it++) {
            if (jn >= 0) prefetchBSlice(B, pc, kc, jn, N - jn < NR ? N - jn : NR, it, tiles);
            const int ir = it * MR, rows = mc - ir < MR ? mc - ir : MR;
            P::kernel(d, aShared + static_cast<int64_t>(ir) * d, bPack, C + ir * ldc + j, ldc, rows, cols, alpha, beta, pc == 0);
          }
        }
#pragma omp barrier
      }
    }
    return;
  }
#pragma omp parallel num_threads(tasks < nThreads ? tasks : nThreads)
  {
    static thread_local Scratch aScratch, bScratch;
    T* aPack = reinterpret_cast<T*>(aScratch.get(static_cast<size_t>(MC) * P::depth(kKC)));
    T* bPack = reinterpret_cast<T*>(bScratch.get(static_cast<size_t>(NR) * P::depth(kKC)));
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int t0 = static_cast<int>(static_cast<int64_t>(tasks) * t / nt), t1 = static_cast<int>(static_cast<int64_t>(tasks) * (t + 1) / nt);
    // Several A blocks against every panel (tall, narrow products: a weight
    // gradient dY^T X): keep this thread's packed B slice (at most 4 MiB) and
    // reuse it for each block instead of packing it again per block.
    const size_t sliceB = static_cast<size_t>(panels) * NR * P::depth(kKC);
    if (jParts == 1 && t1 - t0 > 1 && sliceB * sizeof(T) <= (4u << 20)) {
      T* bAll = reinterpret_cast<T*>(bScratch.get(sliceB));
      for (int pc = 0; pc < K; pc += kKC) {
        const int kc = K - pc < kKC ? K - pc : kKC;
        const int d = P::depth(kc);
        for (int task = t0; task < t1; task++) {
          const int ic = task * mcUnit;
          if (ic >= M) continue;
          const int mc = M - ic < mcUnit ? M - ic : mcUnit;
          const int tiles = (mc + MR - 1) / MR;
          P::packA(A, ic, mc, pc, kc, aPack);
          for (int jp = 0; jp < panels; jp++) {
            const int j = jp * NR, cols = N - j < NR ? N - j : NR;
            T* bp = bAll + static_cast<int64_t>(jp) * NR * d;
            const bool packNow = task == t0;
            if (packNow) P::packB(B, pc, kc, j, cols, bp);
            for (int it = 0; it < tiles; it++) {
              if (packNow && jp + 1 < panels) prefetchBSlice(B, pc, kc, j + NR, N - j - NR < NR ? N - j - NR : NR, it, tiles);
              const int ir = it * MR, rows = mc - ir < MR ? mc - ir : MR;
              P::kernel(d, aPack + static_cast<int64_t>(ir) * d, bp, C + (ic + ir) * ldc + j, ldc, rows, cols, alpha, beta, pc == 0);
            }
          }
        }
      }
    } else
    for (int task = t0; task < t1; task++) {
      const int ic = task / jParts * mcUnit, part = task % jParts;
      if (ic >= M) continue;
      const int mc = M - ic < mcUnit ? M - ic : mcUnit;
      const int tiles = (mc + MR - 1) / MR;
      const int p0 = static_cast<int>(static_cast<int64_t>(panels) * part / jParts);
      const int p1 = static_cast<int>(static_cast<int64_t>(panels) * (part + 1) / jParts);
      float* Cb = C + ic * ldc;
      for (int pc = 0; pc < K; pc += kKC) {
        const int kc = K - pc < kKC ? K - pc : kKC;
        const int d = P::depth(kc);
        P::packA(A, ic, mc, pc, kc, aPack);
        for (int jp = p0; jp < p1; jp++) {
          const int j = jp * NR, cols = N - j < NR ? N - j : NR;
          P::packB(B, pc, kc, j, cols, bPack);
          const int jn = jp + 1 < p1 ? j + NR : -1;  // this task's next panel (same K slice)
          for (int it = 0; it < tiles; it++) {
            if (jn >= 0) prefetchBSlice(B, pc, kc, jn, N - jn < NR ? N - jn : NR, it, tiles);
            const int ir = it * MR, rows = mc - ir < MR ? mc - ir : MR;
            P::kernel(d, aPack + static_cast<int64_t>(ir) * d, bPack, Cb + ir * ldc + j, ldc, rows, cols, alpha, beta, pc == 0);
          }
        }
      }
    }
  }
}

#include "bf16_variant.h"
#if defined(KERNEL_AMX)
static void gemmAmxBf16(const GemmOperand& A, const GemmOperand& B, int M, int N, int K, float alpha, float beta, float* C, int64_t ldc);  // gemm_amx.h
#endif

static void gemmOne(const GemmOperand& A, const GemmOperand& B, int M, int N, int K, float alpha, float beta,
                    float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // C = beta * C (beta == 0 must not read C: it may hold NaN)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
#if defined(KERNEL_AMX)
  if (A.type == kBF16 && B.type == kBF16 && bf16Variant() == kBf16Amx) { gemmAmxBf16(A, B, M, N, K, alpha, beta, C, ldc); return; }
#endif
#if defined(__AVX512BF16__)
  if (A.type == kBF16 && B.type == kBF16 && bf16Variant() == kBf16Dot) { gemmBlocked<Bf16Path>(A, B, M, N, K, alpha, beta, C, ldc); return; }
#endif
  gemmBlocked<F32Path>(A, B, M, N, K, alpha, beta, C, ldc);
}

// Decode-sized products (M <= 4) against a transposed B (a Linear's [N, K]
// weight): no packing, each weight row is streamed once and dotted with the M
// activation rows, so the product runs at memory bandwidth. Each output is
// one dot product in a fixed order: thread-count independent.
constexpr int GEMV_MAX_M = 4;

#if defined(__AVX512F__)
static inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
static inline __m512 load16(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
template <typename T>  // T = float or uint16_t (bf16), widened by load16
static inline float dotRow(const float* a, const T* b, int K) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int k = 0;
  for (; k + 32 <= K; k += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), load16(b + k), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 16), load16(b + k + 16), s1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  for (; k < K; k++) s += a[k] * toFloat(b[k]);
  return s;
}
#elif defined(__AVX2__) && defined(__FMA__)
template <typename T>  // T = float or uint16_t (bf16), widened by load8
static inline float dotRow(const float* a, const T* b, int K) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int k = 0;
  for (; k + 16 <= K; k += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), load8(b + k), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), load8(b + k + 8), s1);
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(s0, s1));
  float s = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
  for (; k < K; k++) s += a[k] * toFloat(b[k]);
  return s;
}
#else
template <typename T>
static inline float dotRow(const float* a, const T* b, int K) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int k = 0; k < K; k++) s += a[k] * toFloat(b[k]);
  return s;
}
#endif

template <typename T>
static void gemvTransB(const float* a, int M, int N, int K, float alpha, const T* B, int64_t ldb, float beta, float* C,
                       int64_t ldc) {
#pragma omp parallel for schedule(static)
  for (int j = 0; j < N; j++) {
    const T* brow = B + static_cast<int64_t>(j) * ldb;
    for (int i = 0; i < M; i++) {
      const float x = alpha * dotRow(a + static_cast<int64_t>(i) * K, brow, K);
      float* c = C + static_cast<int64_t>(i) * ldc + j;
      *c = beta == 0.f ? x : beta * *c + x;
    }
  }
}

static void gemm(int transA, int transB, int M, int N, int K, float alpha, const void* A, int typeA, int64_t lda,
                 int64_t strideA, const void* B, int typeB, int64_t ldb, int64_t strideB, float beta, float* C,
                 int64_t ldc, int64_t strideC, int batch) {
  const int64_t eA = typeA == kF32 ? 4 : 2, eB = typeB == kF32 ? 4 : 2;
  for (int b = 0; b < batch; b++) {
    GemmOperand a{static_cast<const char*>(A) + b * strideA * eA, typeA, transA ? 1 : lda, transA ? lda : 1};
    GemmOperand bb{static_cast<const char*>(B) + b * strideB * eB, typeB, transB ? 1 : ldb, transB ? ldb : 1};
    if (M <= GEMV_MAX_M && transB && K > 0) {
      float arows[GEMV_MAX_M * 8192];
      float* abuf = K <= 8192 ? arows : static_cast<float*>(alignedAlloc(static_cast<size_t>(M) * K * sizeof(float)));
      for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) abuf[static_cast<int64_t>(i) * K + k] = a.at(i, k);
      if (typeB == kF32) gemvTransB(abuf, M, N, K, alpha, static_cast<const float*>(bb.p), ldb, beta, C + b * strideC, ldc);
      else gemvTransB(abuf, M, N, K, alpha, static_cast<const uint16_t*>(bb.p), ldb, beta, C + b * strideC, ldc);
      if (abuf != arows) std::free(abuf);
      continue;
    }
    gemmOne(a, bb, M, N, K, alpha, beta, C + b * strideC, ldc);
  }
}
