// Quantised prefill GEMM (M > 8 activation rows) on AMX-INT8 tiles, for the
// 8- and 4-bit weights; included from all.h after quant.h in the amx / amxemu
// builds. The arithmetic is the int8 prefill's (qTile in quant.h) exactly:
// activations quantised per 32-block by quantizeActivations, an exact integer
// dot per (row, weight row, block), then f = fma(float(dot), w-scale * x-scale, f)
// over the blocks in order, so the outputs equal the AVX512-VNNI build's bit for bit.
//
// Per block, the dots of 32 activation rows x 32 weight rows come from four
// tdpbssd (signed x signed: no +128 offset is needed): A tiles are 16 rows of
// the block's 32 activation codes, read in place from the [Mpad, K] code matrix
// (stride K); B tiles are 8 rows (k / 4) x 16 weight rows x 4 codes, repacked
// per call into 32-row panels (4-bit nibbles unpacked to signed codes; a 16 x 8 dword transpose per block). The
// int32 tile results are stored and scaled in f32 (AVX-512) before the next block.
// Each output belongs to one thread: thread-count independent.

constexpr int AMXQ = 32;  // weight rows per panel, activation rows per step

static AmxTileConfig amxInt8Config() {
  AmxTileConfig c;
  for (int t = 0; t < 4; t++) { c.rows[t] = 16; c.colsb[t] = 64; }  // C: 16 x 16 int32
  for (int t = 4; t < 6; t++) { c.rows[t] = 16; c.colsb[t] = 32; }  // A: 16 rows x one block of codes
  for (int t = 6; t < 8; t++) { c.rows[t] = 8; c.colsb[t] = 64; }   // B: 8 (k / 4) x 16 rows x 4 codes
  return c;
}

// Weight rows n0 .. n0 + rows -> codes [blocks][2 halves][8][16][4], wscale [blocks][32] (0 past `rows`).
static void packAmxQ(const uint8_t* q, const uint16_t* scales, int64_t n0, int rows, int K, int G, int bits, int8_t* codes,
                     float* wscale) {
  const int blocks = K / 32, groups = K / G, perGroup = G / 32;
  const int64_t rowBytes = qRowBytes(K, bits);
  for (int h = 0; h < 2; h++) {
    const uint8_t* wrow[16];
    for (int n = 0; n < 16; n++) wrow[n] = 16 * h + n < rows ? q + (n0 + 16 * h + n) * rowBytes : nullptr;
    for (int b = 0; b < blocks; b++) {
      // row n's 32 codes are 8 dwords (k / 4): a 16 x 8 dword transpose (zero-extended to 16 x 16) gives
      // the tile rows, dword n of row kq = codes 4 kq .. 4 kq + 3 of weight row n
      __m512i v[16];
      for (int n = 0; n < 16; n++) v[n] = wrow[n] ? _mm512_zextsi256_si512(blockCodes(wrow[n], b, bits)) : _mm512_setzero_si512();
      transpose16x16(v);
      int8_t* dst = codes + static_cast<int64_t>(b) * 1024 + h * 512;
      for (int kq = 0; kq < 8; kq++) _mm512_store_si512(dst + kq * 64, v[kq]);
    }
  }
  for (int b = 0; b < blocks; b++)
    for (int r = 0; r < AMXQ; r++)
      wscale[static_cast<int64_t>(b) * AMXQ + r] = r < rows ? scaleOf(scales[(n0 + r) * groups + b / perGroup]) : 0.f;
}

static void qmatmulAmx(const float* x, int M, int K, const uint8_t* q, const uint16_t* scales, int N, int G, int bits, float* y) {
  const int blocks = K / 32;
  const int Mpad = (M + AMXQ - 1) / AMXQ * AMXQ;
  const size_t nb = static_cast<size_t>(M) * blocks;
  float* xs = static_cast<float*>(alignedAlloc(2 * nb * sizeof(float)));
  int8_t* xq = static_cast<int8_t*>(alignedAlloc(static_cast<size_t>(Mpad) * K));
  quantizeActivations(x, M, K, xq, xs, xs + nb);
  std::memset(xq + static_cast<int64_t>(M) * K, 0, static_cast<size_t>(Mpad - M) * K);
  const int panels = (N + AMXQ - 1) / AMXQ;
  const AmxTileConfig cfg = amxInt8Config();
#pragma omp parallel if (static_cast<int64_t>(M) * N * K >= (int64_t{1} << 22))
  {
    static thread_local Scratch pbuf;
    float* mem = pbuf.get(static_cast<size_t>(blocks) * (256 + AMXQ) + 2 * AMXQ * AMXQ);
    int8_t* codes = reinterpret_cast<int8_t*>(mem);                      // blocks * 1024 bytes
    float* wscale = mem + static_cast<size_t>(blocks) * 256;            // blocks * 32
    int32_t* dots = reinterpret_cast<int32_t*>(wscale + static_cast<size_t>(blocks) * AMXQ);  // 32 x 32
    float* f = reinterpret_cast<float*>(dots + AMXQ * AMXQ);            // 32 x 32
    const AmxScope scope(cfg);
#pragma omp for schedule(dynamic, 1)
    for (int p = 0; p < panels; p++) {
      const int64_t n0 = static_cast<int64_t>(p) * AMXQ;
      const int cols = N - n0 < AMXQ ? static_cast<int>(N - n0) : AMXQ;
      packAmxQ(q, scales, n0, cols, K, G, bits, codes, wscale);
      const __mmask16 k0 = cols >= 16 ? 0xffff : static_cast<__mmask16>((1u << cols) - 1);
      const __mmask16 k1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : static_cast<__mmask16>((1u << (cols - 16)) - 1);
      for (int m0 = 0; m0 < M; m0 += AMXQ) {
        const int rows = M - m0 < AMXQ ? M - m0 : AMXQ;
        for (int i = 0; i < AMXQ * AMXQ; i += 16) _mm512_store_ps(f + i, _mm512_setzero_ps());
        const int8_t* xa = xq + static_cast<int64_t>(m0) * K;
        for (int b = 0; b < blocks; b++) {
          const int8_t* cb = codes + static_cast<int64_t>(b) * 1024;
          AMX_ZERO(0); AMX_ZERO(1); AMX_ZERO(2); AMX_ZERO(3);
          AMX_LOAD(4, xa + b * 32, K);
          AMX_LOAD(5, xa + static_cast<int64_t>(16) * K + b * 32, K);
          AMX_LOAD(6, cb, 64);
          AMX_LOAD(7, cb + 512, 64);
          AMX_DPBSSD(0, 4, 6);
          AMX_DPBSSD(1, 4, 7);
          AMX_DPBSSD(2, 5, 6);
          AMX_DPBSSD(3, 5, 7);
          AMX_STORE(0, dots, 128);
          AMX_STORE(1, dots + 16, 128);
          AMX_STORE(2, dots + 16 * 32, 128);
          AMX_STORE(3, dots + 16 * 32 + 16, 128);
          const __m512 s0 = _mm512_loadu_ps(wscale + static_cast<int64_t>(b) * AMXQ);
          const __m512 s1 = _mm512_loadu_ps(wscale + static_cast<int64_t>(b) * AMXQ + 16);
          for (int r = 0; r < rows; r++) {
            const __m512 xsb = _mm512_set1_ps(xs[static_cast<int64_t>(m0 + r) * blocks + b]);
            float* fr = f + r * 32;
            _mm512_store_ps(fr, _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(dots + r * 32)), _mm512_mul_ps(s0, xsb), _mm512_load_ps(fr)));
            _mm512_store_ps(fr + 16, _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(dots + r * 32 + 16)), _mm512_mul_ps(s1, xsb), _mm512_load_ps(fr + 16)));
          }
        }
        for (int r = 0; r < rows; r++) {
          _mm512_mask_storeu_ps(y + static_cast<int64_t>(m0 + r) * N + n0, k0, _mm512_load_ps(f + r * 32));
          _mm512_mask_storeu_ps(y + static_cast<int64_t>(m0 + r) * N + n0 + 16, k1, _mm512_load_ps(f + r * 32 + 16));
        }
      }
    }
  }
  std::free(xs);
  std::free(xq);
}

// The AMX builds' quantised product (their table's qmatmul): prefill on tiles,
// the GEMV (M <= kQMaxRows) as every build (quant.h).
static void qmatmulTiles(const float* x, int M, int K, const uint8_t* q, const uint16_t* scales, int N, int G, int bits, float* y) {
  if (M <= kQMaxRows) qmatmul(x, M, K, q, scales, N, G, bits, y);
  else qmatmulAmx(x, M, K, q, scales, N, G, bits, y);
}
