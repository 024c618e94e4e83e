// bf16 x bf16 GEMM on AMX tiles (the amx build, and amxemu with emulated
// tiles): C = alpha * op(A) op(B) + beta * C for every layout gemm() serves
// (NN, NT = a Linear's forward, TN = its weight gradient, TT), f32 accumulation.
// Included from all.h after gemm.h (GemmOperand, storeTile's rules).
//
// Blocking: K in slices of up to 512, M in blocks of up to 256 rows (rounded
// to 32), N in 32-column panels. Per slice the thread packs its A block into
// 16-row x 32-k tiles (16 rows of 64 bytes: k in order, so each 32-bit element
// is the pair (2k, 2k + 1)) and each B panel into the VNNI pair layout tdpbf16ps
// reads (tile row p, column n = the pair B[2p][n], B[2p + 1][n]), zero-padded
// past M, N and K. A 32 x 32 block of C lives in tiles 0-3 (C00 C01 / C10 C11),
// A in tiles 4-5, B in 6-7: four tdpbf16ps per 32-deep k step. After each slice
// the block is stored and combined into C as the f32 path does (first slice:
// alpha * acc + beta * C, then C += alpha * acc), masked at the edges.
// Each C element is summed by one thread, slices and k steps in order, so the
// result does not depend on the thread count.

constexpr int AMX_KC = 512;  // k per slice (16 tile steps)
constexpr int AMX_MC = 256;  // rows per A block
constexpr int AMX_T = 32;    // C block: 32 x 32 (2 x 2 tiles)

static AmxTileConfig amxBf16Config() {
  AmxTileConfig c;
  for (int t = 0; t < 8; t++) { c.rows[t] = 16; c.colsb[t] = 64; }
  return c;
}

static inline uint16_t bf16At(const GemmOperand& X, int64_t r, int64_t c) {
  return static_cast<const uint16_t*>(X.p)[r * X.rs + c * X.cs];
}

// Transposes a 16 x 16 matrix of 32-bit elements held in 16 zmm (row i in r[i]): two unpack rounds
// within 128-bit lanes, then a 4 x 4 transpose of the lanes.
static inline void transpose16x16(__m512i (&r)[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int g = 0; g < 16; g += 4) {  // u[g + c]: column 4L + c of rows g .. g + 3, in lane L
    u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
    u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
    u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
    u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
  }
  for (int c = 0; c < 4; c++) {
    const __m512i x = _mm512_shuffle_i32x4(u[c], u[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i y = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i x2 = _mm512_shuffle_i32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512i y2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
    r[c] = _mm512_shuffle_i32x4(x, y, _MM_SHUFFLE(2, 0, 2, 0));
    r[4 + c] = _mm512_shuffle_i32x4(x, y, _MM_SHUFFLE(3, 1, 3, 1));
    r[8 + c] = _mm512_shuffle_i32x4(x2, y2, _MM_SHUFFLE(2, 0, 2, 0));
    r[12 + c] = _mm512_shuffle_i32x4(x2, y2, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

static inline __mmask16 lowMask16(int n) { return n >= 16 ? 0xffff : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1); }
static inline __mmask32 lowMask32(int n) { return n >= 32 ? 0xffffffffu : n <= 0 ? 0 : static_cast<__mmask32>((1u << n) - 1); }

// Two rows of 16 bf16 (k and k + 1) as 16 pairs: low half from `lo`, high half from `hi`.
static inline __m512i pairUp(__m256i lo, __m256i hi) {
  return _mm512_or_si512(_mm512_cvtepu16_epi32(lo), _mm512_slli_epi32(_mm512_cvtepu16_epi32(hi), 16));
}

// A rows [i0, i0 + mc) x k [p0, p0 + kc) -> [mc / 16][kSteps][16][32] bf16, zero-padded past M and kc.
static void packAmxA(const GemmOperand& A, int64_t i0, int mc, int M, int64_t p0, int kc, uint16_t* dst) {
  const int steps = (kc + 31) / 32, panels = (mc + 15) / 16;
  const uint16_t* src = static_cast<const uint16_t*>(A.p);
  for (int ip = 0; ip < panels; ip++) {
    const int64_t ib = i0 + ip * 16;
    const int rows = M - ib < 16 ? static_cast<int>(M - ib) : 16;
    for (int s = 0; s < steps; s++) {
      uint16_t* t = dst + (static_cast<int64_t>(ip) * steps + s) * 512;
      const int kk = kc - 32 * s < 32 ? kc - 32 * s : 32;
      if (A.cs == 1) {  // row-major A: each tile row is 32 contiguous k
        for (int r = 0; r < 16; r++)
          _mm512_store_si512(t + r * 32, r < rows ? _mm512_maskz_loadu_epi16(lowMask32(kk), src + (ib + r) * A.rs + p0 + 32 * s) : _mm512_setzero_si512());
      } else if (A.rs == 1) {  // transposed A (dY^T in a weight gradient): the 16 rows are contiguous per k
        __m512i v[16];
        const __mmask16 rm = lowMask16(rows);
        for (int q = 0; q < 16; q++) {
          const int k = 32 * s + 2 * q;
          const __m256i lo = k < kc ? _mm256_maskz_loadu_epi16(rm, src + (p0 + k) * A.cs + ib) : _mm256_setzero_si256();
          const __m256i hi = k + 1 < kc ? _mm256_maskz_loadu_epi16(rm, src + (p0 + k + 1) * A.cs + ib) : _mm256_setzero_si256();
          v[q] = pairUp(lo, hi);  // lane r: the pair (k, k + 1) of row r
        }
        transpose16x16(v);  // v[r]: row r's 16 pairs
        for (int r = 0; r < 16; r++) _mm512_store_si512(t + r * 32, v[r]);
      } else {
        for (int r = 0; r < 16; r++)
          for (int k = 0; k < 32; k++) t[r * 32 + k] = r < rows && k < kk ? bf16At(A, ib + r, p0 + 32 * s + k) : 0;
      }
    }
  }
}

// B k [p0, p0 + kc) x columns [j, j + 32) -> [kSteps][2 halves][16 pair rows][16 columns] pairs, zero-padded.
static void packAmxB(const GemmOperand& B, int64_t p0, int kc, int64_t j, int N, uint32_t* dst) {
  const int steps = (kc + 31) / 32;
  const uint16_t* src = static_cast<const uint16_t*>(B.p);
  for (int s = 0; s < steps; s++)
    for (int h = 0; h < 2; h++) {
      uint32_t* t = dst + (static_cast<int64_t>(s) * 2 + h) * 256;
      const int64_t c0 = j + 16 * h;
      const int cols = N - c0 < 16 ? static_cast<int>(N - c0) : 16;
      const int kk = kc - 32 * s < 32 ? kc - 32 * s : 32;
      if (B.rs == 1) {  // a Linear's [N, K] weight: column n is 32 contiguous k = 16 pairs
        __m512i v[16];
        for (int n = 0; n < 16; n++)
          v[n] = n < cols ? _mm512_maskz_loadu_epi16(lowMask32(kk), src + (c0 + n) * B.cs + p0 + 32 * s) : _mm512_setzero_si512();
        transpose16x16(v);  // v[p]: pair p of the 16 columns
        for (int p = 0; p < 16; p++) _mm512_store_si512(t + p * 16, v[p]);
      } else if (B.cs == 1) {  // row-major [K, N]: rows k and k + 1 interleaved
        const __mmask16 cm = lowMask16(cols);
        for (int p = 0; p < 16; p++) {
          const int k = 32 * s + 2 * p;
          const __m256i lo = k < kc ? _mm256_maskz_loadu_epi16(cm, src + (p0 + k) * B.rs + c0) : _mm256_setzero_si256();
          const __m256i hi = k + 1 < kc ? _mm256_maskz_loadu_epi16(cm, src + (p0 + k + 1) * B.rs + c0) : _mm256_setzero_si256();
          _mm512_store_si512(t + p * 16, pairUp(lo, hi));
        }
      } else {
        for (int p = 0; p < 16; p++)
          for (int n = 0; n < 16; n++) {
            const int k = 32 * s + 2 * p;
            uint32_t v = 0;
            if (n < cols && k < kc) {
              v = bf16At(B, p0 + k, c0 + n);
              if (k + 1 < kc) v |= static_cast<uint32_t>(bf16At(B, p0 + k + 1, c0 + n)) << 16;
            }
            t[p * 16 + n] = v;
          }
      }
    }
}

// One 32 x 32 block of C over one slice: `steps` k steps of 32.
static void amxBlock(const uint16_t* a0, const uint16_t* a1, const uint32_t* b, int steps, float* acc) {
  AMX_ZERO(0); AMX_ZERO(1); AMX_ZERO(2); AMX_ZERO(3);
  for (int s = 0; s < steps; s++) {
    AMX_LOAD(4, a0 + s * 512, 64);
    AMX_LOAD(5, a1 + s * 512, 64);
    AMX_LOAD(6, b + s * 512, 64);
    AMX_LOAD(7, b + s * 512 + 256, 64);
    AMX_DPBF16PS(0, 4, 6);
    AMX_DPBF16PS(1, 4, 7);
    AMX_DPBF16PS(2, 5, 6);
    AMX_DPBF16PS(3, 5, 7);
  }
  AMX_STORE(0, acc, 128);
  AMX_STORE(1, acc + 16, 128);
  AMX_STORE(2, acc + 16 * 32, 128);
  AMX_STORE(3, acc + 16 * 32 + 16, 128);
}

static void amxCombine(const float* acc, float* c, int64_t ldc, int rows, int cols, float alpha, float beta, bool first) {
  combineRows<2>([&](int r, int h) { return _mm512_load_ps(acc + r * 32 + 16 * h); }, c, ldc, rows, cols, alpha, beta, first);  // gemm.h
}

static void gemmAmxBf16(const GemmOperand& A, const GemmOperand& B, int M, int N, int K, float alpha, float beta,
                        float* C, int64_t ldc) {
  const int panels = (N + AMX_T - 1) / AMX_T;
  const int icBlocks = (M + AMX_MC - 1) / AMX_MC;
  const int mcUnit = ((M + icBlocks - 1) / icBlocks + AMX_T - 1) / AMX_T * AMX_T;
  const int nThreads = omp_get_max_threads();
  int jParts = icBlocks % nThreads == 0 ? 1 : nThreads;
  if (jParts > panels) jParts = panels;
  const int tasks = icBlocks * jParts;
  const AmxTileConfig cfg = amxBf16Config();
#pragma omp parallel num_threads(tasks < nThreads ? tasks : nThreads)
  {
    static thread_local Scratch aScratch, bScratch;
    uint16_t* aPack = reinterpret_cast<uint16_t*>(aScratch.get(static_cast<size_t>(AMX_MC) * AMX_KC / 2));
    uint32_t* bPack = reinterpret_cast<uint32_t*>(bScratch.get(static_cast<size_t>(AMX_T) * AMX_KC / 2 + 32 * 32));
    float* acc = reinterpret_cast<float*>(bPack + AMX_T * AMX_KC / 2);  // 32 x 32 f32, 64-byte aligned
    const AmxScope scope(cfg);
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int t0 = static_cast<int>(static_cast<int64_t>(tasks) * t / nt), t1 = static_cast<int>(static_cast<int64_t>(tasks) * (t + 1) / nt);
    for (int task = t0; task < t1; task++) {
      const int ic = task / jParts * mcUnit, part = task % jParts;
      if (ic >= M) continue;
      const int mc = M - ic < mcUnit ? M - ic : mcUnit;
      const int mcPad = (mc + AMX_T - 1) / AMX_T * AMX_T;
      const int p0 = static_cast<int>(static_cast<int64_t>(panels) * part / jParts);
      const int p1 = static_cast<int>(static_cast<int64_t>(panels) * (part + 1) / jParts);
      for (int pc = 0; pc < K; pc += AMX_KC) {
        const int kc = K - pc < AMX_KC ? K - pc : AMX_KC;
        const int ks = (kc + 31) / 32;
        packAmxA(A, ic, mcPad, M, pc, kc, aPack);
        for (int jp = p0; jp < p1; jp++) {
          const int j = jp * AMX_T, cols = N - j < AMX_T ? N - j : AMX_T;
          packAmxB(B, pc, kc, j, N, bPack);
          for (int ir = 0; ir < mc; ir += AMX_T) {
            const int rows = mc - ir < AMX_T ? mc - ir : AMX_T;
            const uint16_t* a0 = aPack + static_cast<int64_t>(ir / 16) * ks * 512;
            amxBlock(a0, a0 + static_cast<int64_t>(ks) * 512, bPack, ks, acc);
            amxCombine(acc, C + (ic + ir) * ldc + j, ldc, rows, cols, alpha, beta, pc == 0);
          }
        }
      }
    }
  }
}
