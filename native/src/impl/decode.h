// One decoder layer of a batch-1, one-token decode step in one native call
// (DecodeLayerArgs in kernels.h). It is not a new arithmetic: it runs the same
// kernels as the composed layer (src/model/layers.ts: rmsnorm, qlinear, rope,
// KV-cache write, attention, qlinear, add, rmsnorm, qlinear x 2, swiglu,
// qlinear, add) in the same order, and rounds to bf16 exactly where that path
// rounds (each op's output takes its input's dtype; attention and o_proj stay
// f32 because the cache is f32), so its output is bit-identical to the
// composed layer's on every build (test/model/fused-decode.test.ts holds it).
// What it saves: the ~40 N-API calls, tensor allocations, bf16 round trips
// through typed arrays and ~12 OpenMP parallel regions per layer of the
// composed path. Here the five GEMVs run as orphaned worksharing loops in two
// parallel regions (gate and up back to back without a barrier, as one GEMV
// of 2F rows), the small sequential steps between them in `single`
// sections, and attention between the two regions on its own threads.
// Every output element is still computed by one thread in a fixed order:
// the result does not depend on the thread count.

// Activations of one GEMV input, quantised and laid out once (by one thread) and read by every thread.
struct QAct {
  const int8_t* xq;
  const float* xs;
  const float* xneg;
  int K;
#if defined(__AVX512BW__)
  QVecX X;
#endif
};

// What qmatmul does to x [1, K] before its GEMV.
static void qactPrepare(const float* x, int K, int bits, Scratch& codes, Scratch& layout, QAct& A) {
  const size_t nb = static_cast<size_t>(K) / 32;
  float* xs = codes.get(2 * nb + (static_cast<size_t>(K) + 3) / 4);
  int8_t* xq = reinterpret_cast<int8_t*>(xs + 2 * nb);
  quantizeActivations(x, 1, K, xq, xs, xs + nb);
  A.xq = xq;
  A.xs = xs;
  A.xneg = xs + nb;
  A.K = K;
#if defined(__AVX512BW__)
  prepQVecX(xq, xs, 1, K, bits, layout, A.X);
#else
  (void)bits;
  (void)layout;
#endif
}

// y [W.N] = W x, as qmatmul's M = 1 GEMV; call from inside a parallel region (every thread).
static void qgemvFor(const QAct& A, const QLinear& W, float* y, bool nowait) {
#if defined(__AVX512BW__)
  if (W.bits == 8) qmatvec512For<1, 8>(A.X, W.q, W.scales, W.N, W.G, y, W.N, nowait);
  else qmatvec512For<1, 4>(A.X, W.q, W.scales, W.N, W.G, y, W.N, nowait);
#else
  qmatvecRowsFor(A.xq, A.xs, A.xneg, 1, A.K, W.q, W.scales, W.N, W.G, W.bits, y, W.N, nowait);
#endif
}

static inline void roundToBf16(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = bf16ToFloat(floatToBf16(x[i]));
}

// ops/norm.ts rmsnorm: f32 weights multiply directly; bf16 weights as y = bf16(bf16(x * rstd) * w).
static void decodeNorm(const float* x, const float* w, float* y, const float* ones, int C, float eps, int bf16) {
  float rstd;
  if (!bf16) {
    rmsnormFwd(x, w, y, &rstd, 1, C, eps);
    return;
  }
  rmsnormFwd(x, ones, y, &rstd, 1, C, eps);
  for (int c = 0; c < C; c++) y[c] = bf16ToFloat(floatToBf16(bf16ToFloat(floatToBf16(y[c])) * w[c]));
}

static void decodeLayer(const DecodeLayerArgs* a) {
  const int C = a->C, H = a->H, D = a->D, F = a->F, Tk = a->Tk, bf = a->bf16;
  const int64_t wide = C > F ? C : F;
  static thread_local Scratch fbuf, codes, layout;  // the calling thread's, grow-only
  float* n = fbuf.get(static_cast<size_t>(wide + 10 * int64_t{C} + 2 * int64_t{F} + H + 64));
  float* qkv = n + wide;      // [3C] W_pack output, rows q | k | v
  float* q = qkv + 3 * C;     // [C] q after RoPE
  float* k = q + C;           // [C] k after RoPE
  float* att = k + C;         // [C] attention output, heads merged
  float* o = att + C;         // [C] o_proj output
  float* gu = o + C;          // [2F] gate | up
  float* dn = gu + 2 * F;     // [C] down_proj output
  float* ones = dn + C;       // [C]
  float* lse = ones + C;      // [H]
  for (int c = 0; c < C; c++) ones[c] = 1.0f;
  float* h = a->h;
  QAct A;

  // h -> norm1 -> W_pack -> RoPE -> cache
#pragma omp parallel
  {
#pragma omp single
    {
      decodeNorm(h, a->norm1, n, ones, C, a->eps, bf);
      qactPrepare(n, C, a->wpack.bits, codes, layout, A);
    }
    qgemvFor(A, a->wpack, qkv, false);
#pragma omp single
    {
      if (bf) roundToBf16(qkv, 3 * int64_t{C});
      if (a->cos) {
        rope(qkv, q, 1, 1, H, D, 3 * int64_t{C}, 3 * int64_t{C}, D, a->cos, a->sin, 0);
        rope(qkv + C, k, 1, 1, H, D, 3 * int64_t{C}, 3 * int64_t{C}, D, a->cos, a->sin, 0);
        if (bf) {
          roundToBf16(q, C);
          roundToBf16(k, C);
        }
      } else {
        std::memcpy(q, qkv, sizeof(float) * C);
        std::memcpy(k, qkv + C, sizeof(float) * C);
      }
      const int64_t row = static_cast<int64_t>(Tk - 1) * D;
      for (int hd = 0; hd < H; hd++) {
        std::memcpy(a->kCache + hd * a->headStride + row, k + static_cast<int64_t>(hd) * D, sizeof(float) * D);
        std::memcpy(a->vCache + hd * a->headStride + row, qkv + 2 * C + static_cast<int64_t>(hd) * D, sizeof(float) * D);
      }
    }
  }

  // attention over the cache: the kernel ops/attention.ts calls, with its arguments
  AttnArgs at{};
  at.B = 1; at.H = H; at.Tq = 1; at.Tk = Tk; at.D = D;
  at.qsb = C; at.qsh = D; at.qst = C;
  at.ksb = H * a->headStride; at.ksh = a->headStride; at.kst = D;
  at.vsb = H * a->headStride; at.vsh = a->headStride; at.vst = D;
  at.osb = C; at.osh = D; at.ost = C;
  at.past = Tk - 1;
  at.causal = 1;
  at.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));  // 1 / Math.sqrt(D), as f32
  at.slopes = a->slopes;
  attnFwd(&at, q, a->kCache, a->vCache, att, lse);

  // o_proj -> residual -> norm2 -> gate, up -> swiglu -> down -> residual
#pragma omp parallel
  {
#pragma omp single
    qactPrepare(att, C, a->oproj.bits, codes, layout, A);
    qgemvFor(A, a->oproj, o, false);
#pragma omp single
    {
      for (int c = 0; c < C; c++) h[c] = h[c] + o[c];
      decodeNorm(h, a->norm2, n, ones, C, a->eps, bf);
      qactPrepare(n, C, a->gate.bits, codes, layout, A);
    }
    qgemvFor(A, a->gate, gu, true);  // no barrier: the up rows follow on whichever thread is free
    qgemvFor(A, a->up, gu + F, false);
#pragma omp single
    {
      if (bf) roundToBf16(gu, 2 * int64_t{F});
      swigluFwd(gu, gu + F, n, F);
      if (bf) roundToBf16(n, F);
      qactPrepare(n, F, a->down.bits, codes, layout, A);
    }
    qgemvFor(A, a->down, dn, false);
#pragma omp single
    {
      if (bf) roundToBf16(dn, C);
      for (int c = 0; c < C; c++) h[c] = h[c] + dn[c];
    }
  }
}
