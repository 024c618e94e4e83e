// GEMM operands and packing (included by gemm.h after the blocking constants):
// A blocks into MR-row panels, B into NR-column panels, k-major and zero-padded,
// bf16 widened to f32 on the way.

static inline float toFloat(float x) { return x; }
static inline float toFloat(uint16_t x) { return bf16ToFloat(x); }

struct GemmOperand {
  const void* p;
  int type;
  int64_t rs, cs;  // element (r, c) lives at r * rs + c * cs
  float at(int64_t r, int64_t c) const { return loadAs(p, type, r * rs + c * cs); }
};

#if defined(__AVX512F__)
// 16x16 transpose of f32 (r[i] lane j -> r[j] lane i): unpack pairs, then
// 4x4 blocks within 128-bit lanes, then the lanes themselves (64 shuffles).
static inline void transpose16(__m512* r) {
  __m512 t[16], u[16];
  for (int m = 0; m < 8; m++) {
    t[2 * m] = _mm512_unpacklo_ps(r[2 * m], r[2 * m + 1]);
    t[2 * m + 1] = _mm512_unpackhi_ps(r[2 * m], r[2 * m + 1]);
  }
  for (int p = 0; p < 4; p++) {  // u[4p + c], 128-bit lane L: column 4L + c of rows 4p..4p+3
    u[4 * p + 0] = _mm512_shuffle_ps(t[4 * p], t[4 * p + 2], 0x44);
    u[4 * p + 1] = _mm512_shuffle_ps(t[4 * p], t[4 * p + 2], 0xEE);
    u[4 * p + 2] = _mm512_shuffle_ps(t[4 * p + 1], t[4 * p + 3], 0x44);
    u[4 * p + 3] = _mm512_shuffle_ps(t[4 * p + 1], t[4 * p + 3], 0xEE);
  }
  for (int c = 0; c < 4; c++) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
    const __m512 w0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88), w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
    r[c] = _mm512_shuffle_f32x4(v0, w0, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4(v1, w1, 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
    r[12 + c] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
  }
}
static inline __m512 loadRow16(const float* p) { return _mm512_loadu_ps(p); }
static inline __m512 loadRow16(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}
#endif

// Pack rows [i0, i0+mc) x k-slice [p0, p0+kc) of A into MR-row panels, k-major, zero-padded.
// Fast paths read each source row contiguously (the common row-major A).
template <typename T>
static void packARows(const T* src, int64_t rs, int64_t i0, int mc, int64_t p0, int kc, float* dst) {
  for (int ir = 0; ir < mc; ir += MR) {
    float* panel = dst + static_cast<int64_t>(ir) * kc;
    const int rows = mc - ir < MR ? mc - ir : MR;
    int k0 = 0;
#if defined(__AVX512F__)
    // Sixteen k at a time: the panel's rows (zeros past `rows`) transposed into
    // sixteen MR-float k-columns, stored with an MR-lane mask.
    static_assert(MR <= 16, "one zmm holds a k-column of the A panel");
    const __mmask16 lanes = static_cast<__mmask16>((1u << MR) - 1);
    for (; k0 + 16 <= kc; k0 += 16) {
      __m512 r[16];
      for (int q = 0; q < 16; q++) r[q] = q < rows ? loadRow16(src + (i0 + ir + q) * rs + p0 + k0) : _mm512_setzero_ps();
      transpose16(r);
      for (int q = 0; q < 16; q++) _mm512_mask_storeu_ps(panel + (k0 + q) * MR, lanes, r[q]);
    }
#endif
    for (int r = 0; r < MR; r++) {
      if (r < rows) {
        const T* row = src + (i0 + ir + r) * rs + p0;
        for (int k = k0; k < kc; k++) panel[k * MR + r] = toFloat(row[k]);
      } else {
        for (int k = k0; k < kc; k++) panel[k * MR + r] = 0.f;
      }
    }
  }
}

// out[0, n) = src[0, n) widened to f32, out[n, W) = 0: one k-row of a panel
// whose W elements are contiguous in the source.
template <int W, typename T>
static inline void copyPadded(const T* src, int n, float* out) {
  for (int i = 0; i < n; i++) out[i] = toFloat(src[i]);
  for (int i = n; i < W; i++) out[i] = 0.f;
}

// f(typed pointer) for an f32 or bf16 operand.
template <typename F>
static inline void withElements(const GemmOperand& X, F f) {
  if (X.type == kF32) f(static_cast<const float*>(X.p));
  else f(static_cast<const uint16_t*>(X.p));
}

template <typename T>
static void packAColumns(const T* src, int64_t cs, int64_t i0, int mc, int64_t p0, int kc, float* dst) {
  for (int ir = 0; ir < mc; ir += MR) {
    float* panel = dst + static_cast<int64_t>(ir) * kc;
    const int rows = mc - ir < MR ? mc - ir : MR;
    for (int k = 0; k < kc; k++) copyPadded<MR>(src + (p0 + k) * cs + i0 + ir, rows, panel + k * MR);
  }
}

static void packAFloat(const GemmOperand& A, int64_t i0, int mc, int64_t p0, int kc, float* dst) {
  if (A.cs == 1) {
    withElements(A, [&](auto src) { packARows(src, A.rs, i0, mc, p0, kc, dst); });
    return;
  }
  if (A.rs == 1) {  // transposed A (dY^T in a weight gradient): the MR rows of a panel are contiguous for each k
    withElements(A, [&](auto src) { packAColumns(src, A.cs, i0, mc, p0, kc, dst); });
    return;
  }
  for (int ir = 0; ir < mc; ir += MR) {
    float* panel = dst + static_cast<int64_t>(ir) * kc;
    const int rows = mc - ir < MR ? mc - ir : MR;
    for (int k = 0; k < kc; k++)
      for (int r = 0; r < MR; r++) panel[k * MR + r] = r < rows ? A.at(i0 + ir + r, p0 + k) : 0.f;
  }
}

// Pack one NR-column panel of B: rows [p0, p0+kc), columns [j, j+cols), zero-padded.
// Row-major B copies rows; a transposed B (a Linear's [out, in] weight) reads
// each of its rows contiguously and scatters into the panel (L1-resident).
#if defined(__AVX2__)
// 8x8 transpose of f32 (rows r[0..7] -> columns), the classic unpack/shuffle/permute network.
static inline void transpose8(__m256* r) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20); r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20); r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31); r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31); r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

static inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
static inline __m256 load8(const uint16_t* p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
#endif

#if defined(__AVX512F__)
struct SquareBlock {  // W x W f32 blocks for the transposing B pack
  static constexpr int W = 16;
  using V = __m512;
  template <typename T> static V load(const T* p) { return loadRow16(p); }
  static void transpose(V* r) { transpose16(r); }
  static void store(float* p, V v) { _mm512_store_ps(p, v); }
};
#elif defined(__AVX2__)
struct SquareBlock {
  static constexpr int W = 8;
  using V = __m256;
  template <typename T> static V load(const T* p) { return load8(p); }
  static void transpose(V* r) { transpose8(r); }
  static void store(float* p, V v) { _mm256_store_ps(p, v); }
};
#endif

template <typename T>
static void packBCols(const T* src, int64_t cs, int64_t p0, int kc, int64_t j, int cols, float* panel) {
#if defined(__AVX2__)
  if (cols == NR) {
    // W source rows (panel columns) at a time, W k per W x W register
    // transpose: W streams read front to back, which the prefetchers follow,
    // with the lines 512 bytes ahead requested early.
    using S = SquareBlock;
    constexpr int W = S::W;
    static_assert(NR % W == 0, "B panels are whole vector rows");
    const int kw = kc / W * W;
    for (int c0 = 0; c0 < NR; c0 += W) {
      const T* s0 = src + (j + c0) * cs + p0;
      for (int k = 0; k < kw; k += W) {
        typename S::V r[W];
        for (int c = 0; c < W; c++) {
          if ((k * static_cast<int>(sizeof(T))) % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(s0 + c * cs + k) + 512, _MM_HINT_T0);
          r[c] = S::load(s0 + c * cs + k);
        }
        S::transpose(r);
        for (int q = 0; q < W; q++) S::store(panel + (k + q) * NR + c0, r[q]);
      }
    }
    for (int k = kw; k < kc; k++)
      for (int c = 0; c < NR; c++) panel[k * NR + c] = toFloat(src[(j + c) * cs + p0 + k]);
    return;
  }
#endif
  for (int c = 0; c < NR; c++) {
    if (c < cols) {
      const T* col = src + (j + c) * cs + p0;
      for (int k = 0; k < kc; k++) panel[k * NR + c] = toFloat(col[k]);
    } else {
      for (int k = 0; k < kc; k++) panel[k * NR + c] = 0.f;
    }
  }
}

template <typename T>
static void packBRows(const T* src, int64_t rs, int64_t p0, int kc, int64_t j, int cols, float* panel) {
  for (int k = 0; k < kc; k++) copyPadded<NR>(src + (p0 + k) * rs + j, cols, panel + k * NR);
}

static void packBPanel(const GemmOperand& B, int64_t p0, int kc, int64_t j, int cols, float* panel) {
  if (B.cs == 1) {
    withElements(B, [&](auto src) { packBRows(src, B.rs, p0, kc, j, cols, panel); });
  } else if (B.rs == 1) {
    withElements(B, [&](auto src) { packBCols(src, B.cs, p0, kc, j, cols, panel); });
  } else {
    for (int k = 0; k < kc; k++)
      for (int c = 0; c < NR; c++) panel[k * NR + c] = c < cols ? B.at(p0 + k, j + c) : 0.f;
  }
}
