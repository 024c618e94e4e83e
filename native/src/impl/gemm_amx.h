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

// A rows [i0, i0 + mc) x k [p0, p0 + kc) -> [mc / 16][kSteps][16][32] bf16, zero-padded.
static void packAmxA(const GemmOperand& A, int64_t i0, int mc, int M, int64_t p0, int kc, uint16_t* dst) {
  const int steps = (kc + 31) / 32, panels = (mc + 15) / 16;
  const uint16_t* src = static_cast<const uint16_t*>(A.p);
  for (int ip = 0; ip < panels; ip++)
    for (int s = 0; s < steps; s++) {
      uint16_t* t = dst + (static_cast<int64_t>(ip) * steps + s) * 512;
      const int kk = kc - 32 * s < 32 ? kc - 32 * s : 32;
      for (int r = 0; r < 16; r++) {
        const int64_t i = i0 + ip * 16 + r;
        uint16_t* row = t + r * 32;
        if (i >= M) { std::memset(row, 0, 64); continue; }
        if (A.cs == 1) {
          std::memcpy(row, src + i * A.rs + p0 + 32 * s, static_cast<size_t>(kk) * 2);
        } else {
          for (int k = 0; k < kk; k++) row[k] = bf16At(A, i, p0 + 32 * s + k);
        }
        for (int k = kk; k < 32; k++) row[k] = 0;
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
      for (int n = 0; n < 16; n++) {
        const int64_t col = j + 16 * h + n;
        for (int p = 0; p < 16; p++) {
          const int k0 = 32 * s + 2 * p;  // within the slice
          uint32_t v = 0;
          if (col < N && k0 < kc) {
            if (B.rs == 1 && k0 + 1 < kc) {  // a Linear's [N, K] weight: the pair is one 32-bit read
              std::memcpy(&v, src + col * B.cs + p0 + k0, 4);
            } else {
              v = bf16At(B, p0 + k0, col);
              if (k0 + 1 < kc) v |= static_cast<uint32_t>(bf16At(B, p0 + k0 + 1, col)) << 16;
            }
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
  const __mmask16 m0 = cols >= 16 ? 0xffff : static_cast<__mmask16>((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : static_cast<__mmask16>((1u << (cols - 16)) - 1);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int r = 0; r < rows; r++) {
    float* cr = c + r * ldc;
    __m512 x0 = _mm512_mul_ps(va, _mm512_load_ps(acc + r * 32)), x1 = _mm512_mul_ps(va, _mm512_load_ps(acc + r * 32 + 16));
    if (!first) {
      x0 = _mm512_add_ps(x0, _mm512_maskz_loadu_ps(m0, cr));
      x1 = _mm512_add_ps(x1, _mm512_maskz_loadu_ps(m1, cr + 16));
    } else if (beta != 0.f) {
      x0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), x0);
      x1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), x1);
    }
    _mm512_mask_storeu_ps(cr, m0, x0);
    _mm512_mask_storeu_ps(cr + 16, m1, x1);
  }
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
