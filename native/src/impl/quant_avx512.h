// AVX-512 quantised GEMV (decode, M <= 8 activation rows), included from quant.h
// in the AVX-512 builds. Same arithmetic as the reference (refQMatmul): int8
// activation codes per 32-block, an exact integer dot per block, scaled by
// w-scale * x-scale in f32. What makes it stream the weights at memory speed:
// - the weights are read in their stored layout, 64 bytes per step (four 4-bit
//   blocks or two 8-bit blocks), and nothing is repacked;
// - 4-bit: the stored nibbles (q + 8, 0..15) are the *unsigned* operand of
//   vpdpbusd and the activation codes the signed one, so a block needs only
//   two AND/shift ops; the activations are laid out once per call to match the
//   nibble order (elements 0..15 of each block, then 16..31), and the offset of
//   8 enters as the integer accumulator's start value -8 * sum(x codes) (exact);
// - 8-bit: |x| is the unsigned operand and the weight codes get x's sign by one
//   masked subtract (the sign mask is computed once per call);
// - per weight row, the block scales are converted from f16 16 at a time
//   (vcvtph2ps) and multiplied by the x-scales before the block loop, so the loop
//   is: one load, the integer dots, one int->float convert, one FMA per row of x;
// - rows are handed to threads in chunks of ~64 KB of weights (dynamic schedule, as
//   ggml's mul_mat hands out chunks): each chunk is one contiguous stream for the
//   hardware prefetcher, and a thread descheduled by other load does not hold up
//   the rest; a software prefetch runs ahead.
// Each output is computed by one thread in a fixed order (whichever thread takes its chunk):
// thread-count independent,
// and a row's result does not depend on M.
// llama.cpp's ggml_vec_dot_q4_0_q8_0 / q8_0_q8_0 compute the same block products
// (there 32 elements per 256-bit step, with a float FMA per block).

#if defined(__AVX512BW__)
static inline __m512i dot4(__m512i acc, __m512i u, __m512i s) {
#if defined(__AVX512VNNI__)
  return _mm512_dpbusd_epi32(acc, u, s);
#else
  // u8 x s8 pairs summed to int16: u <= 127 (|x|) or <= 15 (nibbles), |s| <= 127, so <= 32258: no saturation
  return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
#endif
}

constexpr int kQPrefetch = 1024;  // bytes ahead of the weight stream

// The activation side of the GEMV, laid out once per call.
struct QVecX {
  int blocks, chunks, padBlocks;  // chunk = 64 weight bytes: 4 blocks (4-bit) or 2 (8-bit)
  int8_t* a;       // 4-bit: [M][chunks][2][64] (elements 0..15 of 4 blocks, then 16..31); 8-bit: [M][chunks][64] |x|
  int32_t* bias;   // 4-bit: [M][chunks][16]; lanes 4j .. 4j+3 add up to -8 * sum(codes of block 4c + j)
  uint64_t* neg;   // 8-bit: [M][chunks] sign masks of x
  float* xs;       // [M][padBlocks + 32], zero past `blocks`
};

// The rows of one GEMV as an orphaned worksharing loop: called inside a parallel region
// (qmatvec512 opens one; decode.h runs several GEMVs in one region) it splits the rows among
// the team; nowait lets the next GEMV of the same region start without a barrier.
template <int M, int BITS>
static void qmatvec512For(const QVecX& X, const uint8_t* q, const uint16_t* scales, int64_t N, int G, float* y, int64_t ldy, bool nowait) {
  constexpr int per = BITS == 8 ? 2 : 4;
  const int blocks = X.blocks, chunks = X.chunks, padBlocks = X.padBlocks, perGroup = G / 32, groups = blocks / perGroup;
  const int64_t rowBytes = BITS == 8 ? int64_t{blocks} * 32 : int64_t{blocks} * 16;
  const int full = blocks / per;  // chunks with every block present
  const int tailBlocks = blocks - full * per;
  const __mmask64 tailMask = tailBlocks ? (~0ull >> (64 - tailBlocks * (BITS == 8 ? 32 : 16))) : 0;
  const int sbStride = padBlocks + 32;
  const __m512i idx = BITS == 8 ? _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0)
                                : _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  alignas(64) int32_t gidx[16];
  for (int i = 0; i < 16; i++) gidx[i] = i / perGroup;
  const __m512i gIdx = _mm512_load_si512(gidx);
  const __m512i m4 = _mm512_set1_epi8(15);
  // rows in chunks of ~64 KB of weights, handed out dynamically: a thread that is descheduled (a shared
  // machine) does not hold up the others, and each chunk is still one contiguous stream
  const int64_t chunkRows = std::max<int64_t>(16, (int64_t{1} << 16) / rowBytes);
  static thread_local Scratch sbBuf;
  float* sb = sbBuf.get(static_cast<size_t>(M) * sbStride + 16);
  auto row = [&](int64_t n) {
      const uint8_t* wrow = q + n * rowBytes;
      const uint16_t* srow = scales + n * groups;
      // sb[m][b] = w-scale(b) * x-scale(m, b), zero past the last block
      for (int b = 0; b < padBlocks + 16; b += 16) {
        const int g0 = b / perGroup, left = groups - g0;
        const int nh = left <= 0 ? 0 : left < 16 / perGroup ? left : 16 / perGroup;
        const __m256i h = _mm256_maskz_loadu_epi16(static_cast<__mmask16>((1u << nh) - 1), srow + (nh ? g0 : 0));
        const __m512 ws = _mm512_permutexvar_ps(gIdx, _mm512_cvtph_ps(h));
        for (int m = 0; m < M; m++) _mm512_storeu_ps(sb + m * sbStride + b, _mm512_mul_ps(ws, _mm512_loadu_ps(X.xs + int64_t{m} * (padBlocks + 32) + b)));
      }
      __m512 f[M][2];
      for (int m = 0; m < M; m++) f[m][0] = f[m][1] = _mm512_setzero_ps();
      auto step = [&](int c, __m512i v, int j) {
        if (BITS == 4) {
          const __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
          for (int m = 0; m < M; m++) {
            const int64_t mc = int64_t{m} * chunks + c;
            __m512i acc = _mm512_load_si512(X.bias + mc * 16);
            acc = dot4(acc, lo, _mm512_load_si512(X.a + mc * 128));
            acc = dot4(acc, hi, _mm512_load_si512(X.a + mc * 128 + 64));
            const __m512 sc = _mm512_permutexvar_ps(idx, _mm512_loadu_ps(sb + m * sbStride + c * 4));
            f[m][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), sc, f[m][j]);
          }
        } else {
          for (int m = 0; m < M; m++) {
            const int64_t mc = int64_t{m} * chunks + c;
            const __m512i ws = _mm512_mask_sub_epi8(v, _cvtu64_mask64(X.neg[mc]), _mm512_setzero_si512(), v);
            const __m512i d = dot4(_mm512_setzero_si512(), _mm512_load_si512(X.a + mc * 64), ws);
            const __m512 sc = _mm512_permutexvar_ps(idx, _mm512_loadu_ps(sb + m * sbStride + c * 2));
            f[m][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), sc, f[m][j]);
          }
        }
      };
      int c = 0;
      for (; c + 2 <= full; c += 2) {
        _mm_prefetch(reinterpret_cast<const char*>(wrow + c * 64 + kQPrefetch), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(wrow + c * 64 + 64 + kQPrefetch), _MM_HINT_T0);
        step(c, _mm512_loadu_si512(wrow + c * 64), 0);
        step(c + 1, _mm512_loadu_si512(wrow + c * 64 + 64), 1);
      }
      if (c < full) { step(c, _mm512_loadu_si512(wrow + c * 64), 0); c++; }
      if (tailBlocks) step(c, _mm512_maskz_loadu_epi8(tailMask, wrow + c * 64), 1);
      for (int m = 0; m < M; m++) y[m * ldy + n] = _mm512_reduce_add_ps(_mm512_add_ps(f[m][0], f[m][1]));
  };
  if (nowait) {
#pragma omp for schedule(dynamic, chunkRows) nowait
    for (int64_t n = 0; n < N; n++) row(n);
  } else {
#pragma omp for schedule(dynamic, chunkRows)
    for (int64_t n = 0; n < N; n++) row(n);
  }
}

// Lays out xq [M, K] codes and xs [M, K / 32] scales (quantizeActivations) for
// qmatvec512For, in buf (one thread; the layout is then read by every thread).
static void prepQVecX(const int8_t* xq, const float* xs, int M, int K, int bits, Scratch& buf, QVecX& X) {
  X.blocks = K / 32;
  const int per = bits == 8 ? 2 : 4;
  X.chunks = (X.blocks + per - 1) / per;
  X.padBlocks = X.chunks * per;
  const size_t aBytes = static_cast<size_t>(M) * X.chunks * (bits == 8 ? 64 : 128);
  const size_t biasBytes = bits == 4 ? static_cast<size_t>(M) * X.chunks * 64 : 0;
  const size_t negBytes = bits == 8 ? (static_cast<size_t>(M) * X.chunks * 8 + 63) / 64 * 64 : 0;
  const size_t xsFloats = static_cast<size_t>(M) * (X.padBlocks + 32);
  float* base = buf.get((aBytes + biasBytes + negBytes) / 4 + xsFloats);
  X.a = reinterpret_cast<int8_t*>(base);
  X.bias = reinterpret_cast<int32_t*>(reinterpret_cast<uint8_t*>(base) + aBytes);
  X.neg = reinterpret_cast<uint64_t*>(reinterpret_cast<uint8_t*>(base) + aBytes + biasBytes);
  X.xs = base + (aBytes + biasBytes + negBytes) / 4;
  for (int m = 0; m < M; m++) {
    float* xsm = X.xs + static_cast<int64_t>(m) * (X.padBlocks + 32);
    std::memset(xsm, 0, (X.padBlocks + 32) * sizeof(float));
    std::memcpy(xsm, xs + static_cast<int64_t>(m) * X.blocks, X.blocks * sizeof(float));
    const int8_t* src = xq + static_cast<int64_t>(m) * K;
    for (int c = 0; c < X.chunks; c++) {
      const int64_t mc = static_cast<int64_t>(m) * X.chunks + c;
      const int nb = X.blocks - c * per < per ? X.blocks - c * per : per;
      const __m512i v = _mm512_maskz_loadu_epi8(~0ull >> (64 - 32 * (nb > 2 ? 2 : nb)), src + static_cast<int64_t>(c) * per * 32);
      if (bits == 8) {
        _mm512_store_si512(X.a + mc * 64, _mm512_abs_epi8(v));
        X.neg[mc] = _cvtmask64_u64(_mm512_movepi8_mask(v));
        continue;
      }
      // 4-bit: blocks 4c .. 4c+3; the second 64 bytes of x come from blocks 4c+2, 4c+3
      const __m512i v2 = nb > 2 ? _mm512_maskz_loadu_epi8(~0ull >> (64 - 32 * (nb - 2)), src + static_cast<int64_t>(c) * 128 + 64) : _mm512_setzero_si512();
      // v = [b0 0..15 | b0 16..31 | b1 0..15 | b1 16..31] in 128-bit lanes, v2 the same for b2, b3
      const __m512i lo = _mm512_shuffle_i64x2(v, v2, _MM_SHUFFLE(2, 0, 2, 0)), hi = _mm512_shuffle_i64x2(v, v2, _MM_SHUFFLE(3, 1, 3, 1));
      _mm512_store_si512(X.a + mc * 128, lo);
      _mm512_store_si512(X.a + mc * 128 + 64, hi);
      // partial sums of 4 codes per lane (exact); a block's 4 lanes add up to -8 * (sum of its codes)
      const __m512i ones = _mm512_set1_epi8(1);
      const __m512i part = dot4(dot4(_mm512_setzero_si512(), ones, lo), ones, hi);
      _mm512_store_si512(X.bias + mc * 16, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(part, 3)));
    }
  }
}

// xq [M, K] codes, xs [M, K / 32] scales (quantizeActivations).
static void qmatvec512(const int8_t* xq, const float* xs, int M, int K, const uint8_t* q, const uint16_t* scales,
                       int64_t N, int G, int bits, float* y, int64_t ldy) {
  static thread_local Scratch buf;
  QVecX X;
  prepQVecX(xq, xs, M, K, bits, buf, X);
  const int64_t rowBytes = bits == 8 ? int64_t{K} : int64_t{K} / 2;
#define QMV_CASE(m)                                                                     \
  case m:                                                                               \
    if (bits == 8) qmatvec512For<m, 8>(X, q, scales, N, G, y, ldy, false);              \
    else qmatvec512For<m, 4>(X, q, scales, N, G, y, ldy, false);                        \
    break;
  // below ~256 KB of weights a parallel region costs more than it saves (and far more on a busy machine)
#pragma omp parallel if (N * rowBytes >= (int64_t{1} << 18))
  switch (M) {
    QMV_CASE(1) QMV_CASE(2) QMV_CASE(3) QMV_CASE(4) QMV_CASE(5) QMV_CASE(6) QMV_CASE(7) QMV_CASE(8)
    default: break;
  }
#undef QMV_CASE
}
#endif
