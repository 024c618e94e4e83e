// Weight-only quantisation and the quantised matrix products (decode GEMV and
// prefill GEMM). Layout (documented in docs/QUANTIZATION.md):
// - a weight W [N, K] is cut into groups of G consecutive elements of a row
//   (G = 32, 64 or 128; K % G == 0); each group has one f16 scale s;
// - 8-bit: q = round(w / s) in [-127, 127], s = absmax / 127; int8, row-major [N, K];
// - 4-bit: llama.cpp's Q4_0 rule, s = w_absmax_signed / -8, q = clamp(round(w / s), -8, 7),
//   stored as q + 8 in a nibble; within each 32-element block, byte i holds element i
//   (low nibble) and element i + 16 (high nibble); [N, K / 2] bytes.
// Products quantise the activations to int8 per 32-element block (scale = absmax / 127),
// take exact integer dot products per block, and accumulate block * x-scale * w-scale in
// f32: the scheme llama.cpp uses for Q8_0 / Q4_0 weights with Q8_0 activations.

static inline float halfToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) u = sign;
    else {  // subnormal: normalise
      int e = -1;
      uint32_t m = man;
      do { e++; m <<= 1; } while ((m & 0x400u) == 0);
      u = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((m & 0x3ffu) << 13);
    }
  } else if (exp == 31) u = sign | 0x7f800000u | (man << 13);
  else u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even; values beyond the f16 range saturate to +-65504 (scales never get there).
static inline uint16_t floatToHalf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const float a = std::fabs(f);
  if (!(a < 65520.0f)) return static_cast<uint16_t>(sign | 0x7bffu);
  if (a < 6.103515625e-05f) {  // subnormal half: multiples of 2^-24
    const uint32_t m = static_cast<uint32_t>(std::nearbyint(a * 16777216.0f));
    return static_cast<uint16_t>(sign | m);
  }
  uint32_t v = u & 0x7fffffffu;
  v += 0xfffu + ((v >> 13) & 1u);
  return static_cast<uint16_t>(sign | (((v >> 13) - ((127 - 15) << 10)) & 0x7fffu));
}

static inline int64_t qRowBytes(int K, int bits) { return bits == 8 ? K : K / 2; }

// Quantise rows of w (f32 or bf16) [N, K] into q and f16 scales [N, K / G].
static void quantizeRows(const void* w, int type, int64_t N, int K, int G, int bits, uint8_t* q, uint16_t* scales) {
  const int groups = K / G;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; n++) {
    float buf[128];
    for (int g = 0; g < groups; g++) {
      const int64_t base = n * K + static_cast<int64_t>(g) * G;
      float amax = 0.0f, signedMax = 0.0f;
      for (int i = 0; i < G; i++) {
        buf[i] = loadAs(w, type, base + i);
        if (std::fabs(buf[i]) > amax) { amax = std::fabs(buf[i]); signedMax = buf[i]; }
      }
      const uint16_t sh = floatToHalf(bits == 8 ? amax / 127.0f : signedMax / -8.0f);
      scales[n * groups + g] = sh;
      const float s = halfToFloat(sh);
      const float inv = s != 0.0f ? 1.0f / s : 0.0f;
      if (bits == 8) {
        int8_t* out = reinterpret_cast<int8_t*>(q) + base;
        for (int i = 0; i < G; i++) {
          float r = std::nearbyint(buf[i] * inv);
          out[i] = static_cast<int8_t>(r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r);
        }
      } else {
        uint8_t* out = q + n * (K / 2) + static_cast<int64_t>(g) * (G / 2);
        for (int b = 0; b < G; b += 32)
          for (int i = 0; i < 16; i++) {
            auto nib = [&](float x) {
              float r = std::nearbyint(x * inv);
              r = r > 7.0f ? 7.0f : r < -8.0f ? -8.0f : r;
              return static_cast<uint8_t>(static_cast<int>(r) + 8);
            };
            out[b / 2 + i] = static_cast<uint8_t>(nib(buf[b + i]) | (nib(buf[b + i + 16]) << 4));
          }
      }
    }
  }
}

static inline int qAt(const uint8_t* row, int k, int bits) {
  if (bits == 8) return reinterpret_cast<const int8_t*>(row)[k];
  const int blk = k / 32, i = k % 32;
  const uint8_t byte = row[blk * 16 + (i & 15)];
  return (i < 16 ? (byte & 15) : (byte >> 4)) - 8;
}

// One 32-element block: the weight codes in a register, and their integer dot product with int8 x.
#if defined(__AVX2__)
static inline __m256i loadQ8(const uint8_t* w) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
}
// 4-bit: the stored nibbles (q + 8, 0..15) as unsigned bytes in element order.
static inline __m256i unpackQ4(const uint8_t* w) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(15));
}
#if defined(__AVXVNNI__)
// AVX-VNNI: vpdpbusd sums four u8 x s8 products into each int32 lane in one instruction.
static inline __m256 dotSigned(__m256i xv, __m256i wv) {
  return _mm256_cvtepi32_ps(_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(xv, xv), _mm256_sign_epi8(wv, xv)));
}
static inline __m256 dotUnsigned(__m256i u, __m256i xv) {
  return _mm256_cvtepi32_ps(_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, xv));
}
#else
// x . q for signed codes: maddubs needs an unsigned operand, so |x| times q with x's sign.
static inline __m256 dotSigned(__m256i xv, __m256i wv) {
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(xv, xv), _mm256_sign_epi8(wv, xv));  // <= 2*127*127: no saturation
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}
// x . u for the unsigned 4-bit nibbles; the caller adds the offset: x . (u - 8) = x . u - 8 sum(x).
static inline __m256 dotUnsigned(__m256i u, __m256i xv) {
  const __m256i p16 = _mm256_maddubs_epi16(u, xv);  // <= 2*15*127: no saturation
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}
#endif
#endif

static void dequantizeRows(const uint8_t* q, const uint16_t* scales, int64_t N, int K, int G, int bits, float* out) {
  const int groups = K / G;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; n++) {
    const uint8_t* row = q + n * qRowBytes(K, bits);
    float* o = out + n * K;
#if defined(__AVX2__)
    for (int b = 0; b < K / 32; b++) {
      const __m256 sc = _mm256_set1_ps(_cvtsh_ss(scales[n * groups + (b * 32) / G]));
      __m256i v;  // 32 signed codes
      if (bits == 8) v = loadQ8(row + b * 32);
      else v = _mm256_sub_epi8(unpackQ4(row + b * 16), _mm256_set1_epi8(8));
      const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
      _mm256_storeu_ps(o + b * 32, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), sc));
      _mm256_storeu_ps(o + b * 32 + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), sc));
      _mm256_storeu_ps(o + b * 32 + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), sc));
      _mm256_storeu_ps(o + b * 32 + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), sc));
    }
#else
    for (int k = 0; k < K; k++) o[k] = static_cast<float>(qAt(row, k, bits)) * halfToFloat(scales[n * groups + k / G]);
#endif
  }
}

// Activations to int8 per 32-element block: xq [M, K], xs [M, K / 32], and
// xneg [M, K / 32] = -(sum of the block's codes), which folds the 4-bit
// offset of 8 into the dot product: x . (u - 8) = x . u - 8 * sum(x).
static void quantizeActivations(const float* x, int M, int K, int8_t* xq, float* xs, float* xneg) {
  const int64_t nb = static_cast<int64_t>(M) * (K / 32);
#pragma omp parallel for schedule(static) if (nb >= 8192)  // prefill only: decode rows are too few to split
  for (int64_t b = 0; b < nb; b++) {
    const float* src = x + b * 32;
#if defined(__AVX512F__)
    // the same rule vectorised: |x| max, s = amax / 127, codes = round-half-even(x * (1 / s))
    const __m512 a0 = _mm512_loadu_ps(src), a1 = _mm512_loadu_ps(src + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a0), _mm512_abs_ps(a1)));
    const float s = amax / 127.0f, inv = s != 0.0f ? 1.0f / s : 0.0f;
    const __m512 iv = _mm512_set1_ps(inv);
    const __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(a0, iv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(a1, iv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(xq + b * 32), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(xq + b * 32 + 16), _mm512_cvtsepi32_epi8(q1));
    xs[b] = s;
    xneg[b] = static_cast<float>(-_mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1)));
#else
    float amax = 0.0f;
    for (int i = 0; i < 32; i++) amax = maxF(amax, std::fabs(src[i]));
    const float s = amax / 127.0f, inv = s != 0.0f ? 1.0f / s : 0.0f;
    xs[b] = s;
    int sum = 0;
    for (int i = 0; i < 32; i++) {
      xq[b * 32 + i] = static_cast<int8_t>(std::nearbyint(src[i] * inv));
      sum += xq[b * 32 + i];
    }
    xneg[b] = static_cast<float>(-sum);
#endif
  }
}

#if defined(__AVX2__)
static inline float scaleOf(uint16_t h) { return _cvtsh_ss(h); }  // F16C
static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

constexpr int kQMaxRows = 8;  // up to this many activation rows use the integer path
constexpr int kMaxBlocks = 1024;  // K <= 32768 (checked by the caller)

#include "quant_avx512.h"

// The rows of the 256-bit / baseline GEMV as an orphaned worksharing loop (see qmatvec512For).
static void qmatvecRowsFor(const int8_t* xq, const float* xs, const float* xneg, int M, int K, const uint8_t* q, const uint16_t* scales,
                           int64_t N, int G, int bits, float* y, int64_t ldy, bool nowait) {
  const int groups = K / G, blocks = K / 32, perGroup = G / 32;
  const int64_t rowBytes = qRowBytes(K, bits);
#if defined(__AVX2__)
  const int64_t blockBytes = bits == 8 ? 32 : 16;
#else
  (void)xneg;
#endif
  auto rowFn = [&](int64_t n) {
    const uint8_t* wrow = q + n * rowBytes;
    const uint16_t* srow = scales + n * groups;
#if defined(__AVX2__)
    if (M == 1) {
      // decode. Per-block factors sb[b] = w-scale * x-scale are formed 8 at a time first
      // (F16C on 8 scales when G = 32), so the block loop is loads, integer dot, one FMA.
      alignas(32) float sb[kMaxBlocks];
      if (G == 32) {
        int b = 0;
        for (; b + 8 <= blocks; b += 8)
          _mm256_store_ps(sb + b, _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(srow + b))), _mm256_loadu_ps(xs + b)));
        for (; b < blocks; b++) sb[b] = scaleOf(srow[b]) * xs[b];
      } else {
        for (int b = 0; b < blocks; b++) sb[b] = scaleOf(srow[b / perGroup]) * xs[b];
      }
      __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
      int b = 0;
      if (bits == 4) {
        auto dotU = [&](int blk) {  // the -8 offset is added once per row, below
          return dotUnsigned(unpackQ4(wrow + blk * 16), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + blk * 32)));
        };
        for (; b + 1 < blocks; b += 2) {
          _mm_prefetch(reinterpret_cast<const char*>(wrow + (b + 16) * 16), _MM_HINT_T0);
          acc0 = _mm256_fmadd_ps(dotU(b), _mm256_broadcast_ss(sb + b), acc0);
          acc1 = _mm256_fmadd_ps(dotU(b + 1), _mm256_broadcast_ss(sb + b + 1), acc1);
        }
        for (; b < blocks; b++) acc0 = _mm256_fmadd_ps(dotU(b), _mm256_broadcast_ss(sb + b), acc0);
        // the offset: sum_b sb[b] * (-8 * sum(x_b)) = 8 * sum_b sb[b] * xneg[b]
        __m256 corr = _mm256_setzero_ps();
        int c = 0;
        for (; c + 8 <= blocks; c += 8) corr = _mm256_fmadd_ps(_mm256_load_ps(sb + c), _mm256_loadu_ps(xneg + c), corr);
        float tail = 0.0f;
        for (; c < blocks; c++) tail += sb[c] * xneg[c];
        y[n] = hsum(_mm256_add_ps(acc0, acc1)) + 8.0f * (hsum(corr) + tail);
      } else {
        for (; b + 1 < blocks; b += 2) {
          _mm_prefetch(reinterpret_cast<const char*>(wrow + (b + 8) * 32), _MM_HINT_T0);
          const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + b * 32));
          const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + (b + 1) * 32));
          acc0 = _mm256_fmadd_ps(dotSigned(x0, loadQ8(wrow + b * 32)), _mm256_broadcast_ss(sb + b), acc0);
          acc1 = _mm256_fmadd_ps(dotSigned(x1, loadQ8(wrow + (b + 1) * 32)), _mm256_broadcast_ss(sb + b + 1), acc1);
        }
        for (; b < blocks; b++) {
          const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + b * 32));
          acc0 = _mm256_fmadd_ps(dotSigned(x0, loadQ8(wrow + b * 32)), _mm256_broadcast_ss(sb + b), acc0);
        }
        y[n] = hsum(_mm256_add_ps(acc0, acc1));
      }
      return;
    }
    __m256 acc[kQMaxRows];
    for (int m = 0; m < M; m++) acc[m] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
      const float ws = scaleOf(srow[b / perGroup]);
      // the weight block is loaded (and unpacked) once and used for every activation row
      const __m256i wv = bits == 8 ? loadQ8(wrow + b * blockBytes) : unpackQ4(wrow + b * blockBytes);
      if (b + 4 < blocks) _mm_prefetch(reinterpret_cast<const char*>(wrow + (b + 4) * blockBytes), _MM_HINT_T0);
      for (int m = 0; m < M; m++) {
        const int64_t mb = static_cast<int64_t>(m) * blocks + b;
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + static_cast<int64_t>(m) * K + b * 32));
        // 4-bit: each of the 8 lanes takes -sum(x), so the lanes add up to x . (u - 8)
        const __m256 d = bits == 8 ? dotSigned(xv, wv) : _mm256_add_ps(dotUnsigned(wv, xv), _mm256_set1_ps(xneg[mb]));
        acc[m] = _mm256_fmadd_ps(d, _mm256_set1_ps(ws * xs[mb]), acc[m]);
      }
    }
    for (int m = 0; m < M; m++) y[m * ldy + n] = hsum(acc[m]);
#else
    for (int m = 0; m < M; m++) {
      float acc = 0.0f;
      for (int b = 0; b < blocks; b++) {
        int32_t dot = 0;
        for (int i = 0; i < 32; i++) dot += static_cast<int32_t>(xq[static_cast<int64_t>(m) * K + b * 32 + i]) * qAt(wrow, b * 32 + i, bits);
        acc += static_cast<float>(dot) * (halfToFloat(srow[b / perGroup]) * xs[static_cast<int64_t>(m) * blocks + b]);
      }
      y[m * ldy + n] = acc;
    }
#endif
  };
  if (nowait) {
#pragma omp for schedule(static, 16) nowait
    for (int64_t n = 0; n < N; n++) rowFn(n);
  } else {
#pragma omp for schedule(static, 16)
    for (int64_t n = 0; n < N; n++) rowFn(n);
  }
}

static void qmatvecRows(const int8_t* xq, const float* xs, const float* xneg, int M, int K, const uint8_t* q, const uint16_t* scales,
                        int64_t N, int G, int bits, float* y, int64_t ldy) {
#if defined(__AVX512BW__)
  (void)xneg;
  qmatvec512(xq, xs, M, K, q, scales, N, G, bits, y, ldy);
#else
#pragma omp parallel
  qmatvecRowsFor(xq, xs, xneg, M, K, q, scales, N, G, bits, y, ldy, false);
#endif
}

#if defined(__AVX512VNNI__)
#define QUANT_INT8_GEMM 1
// Prefill (M > 8) with int8 dot products: activations are quantised per
// 32-block as in the GEMV (so every M gives the same numbers as refQMatmul),
// stored as x + 128 (unsigned), and weights are repacked per call into panels
// of 32 rows: for each block, [k/4][row][4] signed codes, so one vpdpbusd
// multiplies 4 k-values of one activation row (a broadcast dword) with 16
// weight rows. The int32 accumulators start at -128 * sum(codes) per row and
// block, which removes the +128 exactly; each block's integer dot is then
// scaled by w-scale * x-scale and added in f32, blocks in order. Each output
// belongs to one thread: thread-count independent.
constexpr int QNR = 32;  // weight rows per panel (2 zmm)
constexpr int QMR = 6;   // activation rows per micro-tile

struct QPanel {
  int8_t* codes;   // [blocks][8][QNR][4]
  int32_t* bias;   // [blocks][QNR] = -128 * sum of the block's codes
  float* wscale;   // [blocks][QNR]
};

// 32 signed codes of one block of a row, in element order (zeros for a row past the panel's end).
static inline __m256i blockCodes(const uint8_t* wrow, int b, int bits) {
  if (bits == 8) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wrow + b * 32));
  return _mm256_sub_epi8(unpackQ4(wrow + b * 16), _mm256_set1_epi8(8));
}

// Packs rows n0 .. n0 + rows of W into the panel, 16 rows at a time per block: the
// 16 x 8 dword matrix (row, k/4) is transposed in registers (two unpack rounds within
// 128-bit lanes, then a 128-bit lane shuffle), and the block sums come from vpdpbusd
// with a vector of ones on the transposed codes (exact).
static void packQPanel(const uint8_t* q, const uint16_t* scales, int64_t n0, int rows, int K, int G, int bits, const QPanel& P) {
  const int blocks = K / 32, groups = K / G, perGroup = G / 32;
  const int64_t rowBytes = qRowBytes(K, bits);
  const __m512i ones = _mm512_set1_epi8(1);
  for (int h = 0; h < QNR; h += 16) {
    const uint8_t* wrow[16];
    for (int r = 0; r < 16; r++) wrow[r] = h + r < rows ? q + (n0 + h + r) * rowBytes : nullptr;
    for (int b = 0; b < blocks; b++) {
      __m256i g[4][4];  // [row group of 4][j]: kq = j (low 128 bits) and j + 4 (high) of the group's 4 rows
      for (int rg = 0; rg < 4; rg++) {
        __m256i v[4];
        for (int i = 0; i < 4; i++) v[i] = wrow[4 * rg + i] ? blockCodes(wrow[4 * rg + i], b, bits) : _mm256_setzero_si256();
        const __m256i ab0 = _mm256_unpacklo_epi32(v[0], v[1]), ab1 = _mm256_unpackhi_epi32(v[0], v[1]);
        const __m256i cd0 = _mm256_unpacklo_epi32(v[2], v[3]), cd1 = _mm256_unpackhi_epi32(v[2], v[3]);
        g[rg][0] = _mm256_unpacklo_epi64(ab0, cd0);
        g[rg][1] = _mm256_unpackhi_epi64(ab0, cd0);
        g[rg][2] = _mm256_unpacklo_epi64(ab1, cd1);
        g[rg][3] = _mm256_unpackhi_epi64(ab1, cd1);
      }
      int8_t* dst = P.codes + static_cast<int64_t>(b) * 8 * QNR * 4 + h * 4;
      __m512i sum = _mm512_setzero_si512();
      for (int j = 0; j < 4; j++) {
        const __m512i p = _mm512_inserti64x4(_mm512_castsi256_si512(g[0][j]), g[1][j], 1);
        const __m512i r = _mm512_inserti64x4(_mm512_castsi256_si512(g[2][j]), g[3][j], 1);
        const __m512i lo = _mm512_shuffle_i32x4(p, r, _MM_SHUFFLE(2, 0, 2, 0));  // kq = j, rows 0..15
        const __m512i hi = _mm512_shuffle_i32x4(p, r, _MM_SHUFFLE(3, 1, 3, 1));  // kq = j + 4
        _mm512_store_si512(dst + j * QNR * 4, lo);
        _mm512_store_si512(dst + (j + 4) * QNR * 4, hi);
        sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sum, ones, lo), ones, hi);
      }
      _mm512_storeu_si512(P.bias + static_cast<int64_t>(b) * QNR + h, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, 7)));
    }
    for (int r = 0; r < 16; r++) {
      const int64_t sr = (n0 + h + r) * groups;
      for (int b = 0; b < blocks; b++) P.wscale[static_cast<int64_t>(b) * QNR + h + r] = wrow[r] ? scaleOf(scales[sr + b / perGroup]) : 0.f;
    }
  }
}

template <int R>
static void qTile(const QPanel& P, const uint8_t* xu, const float* xs, int64_t m0, int K, float* y, int64_t ldy, int64_t n0, int cols) {
  const int blocks = K / 32;
  __m512 f[R][2];
  for (int r = 0; r < R; r++) f[r][0] = f[r][1] = _mm512_setzero_ps();
  for (int b = 0; b < blocks; b++) {
    const __m512i bias0 = _mm512_loadu_si512(P.bias + static_cast<int64_t>(b) * QNR);
    const __m512i bias1 = _mm512_loadu_si512(P.bias + static_cast<int64_t>(b) * QNR + 16);
    __m512i acc[R][2];
    for (int r = 0; r < R; r++) { acc[r][0] = bias0; acc[r][1] = bias1; }
    const int8_t* cb = P.codes + static_cast<int64_t>(b) * 8 * QNR * 4;
#pragma GCC unroll 8
    for (int kq = 0; kq < 8; kq++) {
      const __m512i w0 = _mm512_load_si512(cb + kq * QNR * 4), w1 = _mm512_load_si512(cb + kq * QNR * 4 + 64);
      for (int r = 0; r < R; r++) {
        int32_t xd;
        std::memcpy(&xd, xu + (m0 + r) * K + b * 32 + kq * 4, 4);
        const __m512i xv = _mm512_set1_epi32(xd);
        acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], xv, w0);
        acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], xv, w1);
      }
    }
    const __m512 s0 = _mm512_loadu_ps(P.wscale + static_cast<int64_t>(b) * QNR);
    const __m512 s1 = _mm512_loadu_ps(P.wscale + static_cast<int64_t>(b) * QNR + 16);
    for (int r = 0; r < R; r++) {
      const __m512 xsb = _mm512_set1_ps(xs[(m0 + r) * blocks + b]);
      f[r][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][0]), _mm512_mul_ps(s0, xsb), f[r][0]);
      f[r][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][1]), _mm512_mul_ps(s1, xsb), f[r][1]);
    }
  }
  const __mmask16 k0 = cols >= 16 ? 0xffff : static_cast<__mmask16>((1u << cols) - 1);
  const __mmask16 k1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : static_cast<__mmask16>((1u << (cols - 16)) - 1);
  for (int r = 0; r < R; r++) {
    _mm512_mask_storeu_ps(y + (m0 + r) * ldy + n0, k0, f[r][0]);
    _mm512_mask_storeu_ps(y + (m0 + r) * ldy + n0 + 16, k1, f[r][1]);
  }
}

static void qmatmulInt8(const float* x, int M, int K, const uint8_t* q, const uint16_t* scales, int N, int G, int bits, float* y) {
  const int blocks = K / 32;
  const size_t nb = static_cast<size_t>(M) * blocks;
  float* xs = static_cast<float*>(alignedAlloc(2 * nb * sizeof(float)));
  int8_t* xq = static_cast<int8_t*>(alignedAlloc(static_cast<size_t>(M) * K));
  quantizeActivations(x, M, K, xq, xs, xs + nb);
  uint8_t* xu = reinterpret_cast<uint8_t*>(xq);
  for (int64_t i = 0; i < static_cast<int64_t>(M) * K; i++) xu[i] = static_cast<uint8_t>(xq[i] + 128);
  const int panels = (N + QNR - 1) / QNR;
#pragma omp parallel if (static_cast<int64_t>(M) * N * K >= (int64_t{1} << 22))
  {
    static thread_local Scratch pbuf;
    float* mem = pbuf.get(static_cast<size_t>(blocks) * QNR * (8 + 2));  // codes (8 floats' bytes per row-block) + bias + scale
    QPanel P{reinterpret_cast<int8_t*>(mem), reinterpret_cast<int32_t*>(mem + static_cast<size_t>(blocks) * QNR * 8),
             mem + static_cast<size_t>(blocks) * QNR * 9};
#pragma omp for schedule(dynamic, 1)  // panels are independent; dynamic so a descheduled thread does not hold up the rest
    for (int p = 0; p < panels; p++) {
      const int64_t n0 = static_cast<int64_t>(p) * QNR;
      const int cols = N - n0 < QNR ? static_cast<int>(N - n0) : QNR;
      packQPanel(q, scales, n0, cols, K, G, bits, P);
      int m0 = 0;
      for (; m0 + QMR <= M; m0 += QMR) qTile<QMR>(P, xu, xs, m0, K, y, N, n0, cols);
      switch (M - m0) {
        case 5: qTile<5>(P, xu, xs, m0, K, y, N, n0, cols); break;
        case 4: qTile<4>(P, xu, xs, m0, K, y, N, n0, cols); break;
        case 3: qTile<3>(P, xu, xs, m0, K, y, N, n0, cols); break;
        case 2: qTile<2>(P, xu, xs, m0, K, y, N, n0, cols); break;
        case 1: qTile<1>(P, xu, xs, m0, K, y, N, n0, cols); break;
        default: break;
      }
    }
  }
  std::free(xs);
  std::free(xq);
}
#endif

// y [M, N] = x [M, K] * W^T with W quantised. Small M: integer GEMV; large M
// (prefill): W is dequantised a panel of rows at a time and multiplied with the f32 GEMM.
static void qmatmul(const float* x, int M, int K, const uint8_t* q, const uint16_t* scales, int N, int G, int bits, float* y) {
  if (M <= kQMaxRows) {
    static thread_local Scratch xsBuf;
    const size_t nb = static_cast<size_t>(M) * (K / 32);
    float* xs = xsBuf.get(2 * nb + (static_cast<size_t>(M) * K + 3) / 4);
    int8_t* xq = reinterpret_cast<int8_t*>(xs + 2 * nb);
    quantizeActivations(x, M, K, xq, xs, xs + nb);
    qmatvecRows(xq, xs, xs + nb, M, K, q, scales, N, G, bits, y, N);
    return;
  }
#if defined(QUANT_INT8_GEMM)
  qmatmulInt8(x, M, K, q, scales, N, G, bits, y);
  return;
#endif
  static thread_local Scratch panel;
  // panels of ~4M floats (16 MB): few enough GEMM calls that packing x and threading amortise
  const int64_t nbRows = (int64_t{1} << 22) / K / 16 * 16;
  const int NB = static_cast<int>(nbRows > 64 ? nbRows : 64);
  float* w = panel.get(static_cast<size_t>(NB) * K);
  for (int n0 = 0; n0 < N; n0 += NB) {
    const int nb = N - n0 < NB ? N - n0 : NB;
    dequantizeRows(q + static_cast<int64_t>(n0) * qRowBytes(K, bits), scales + static_cast<int64_t>(n0) * (K / G), nb, K, G, bits, w);
    gemm(0, 1, M, nb, K, 1.0f, x, kF32, K, 0, w, kF32, K, 0, 0.0f, y + n0, N, 0, 1);
  }
}

// Reads n bytes with wide loads on all threads (for the memory-bandwidth benchmark); returns a checksum.
static double readBytes(const void* p, int64_t n) {
  const int64_t words = n / 8;
  const uint64_t* w = static_cast<const uint64_t*>(p);
  uint64_t total = 0;
#pragma omp parallel for schedule(static) reduction(^ : total)
  for (int64_t c = 0; c < 64; c++) {
    const int64_t a = words * c / 64, b = words * (c + 1) / 64;
#if defined(__AVX2__)
    __m256i acc = _mm256_setzero_si256();
    int64_t i = a;
    for (; i + 4 <= b; i += 4) acc = _mm256_xor_si256(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i)));
    uint64_t lanes[4];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes), acc);
    uint64_t x = lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
    for (; i < b; i++) x ^= w[i];
#else
    uint64_t x = 0;
    for (int64_t i = a; i < b; i++) x ^= w[i];
#endif
    total ^= x;
  }
  return static_cast<double>(total & 0xffffffffu);
}
