// Fused causal attention in the flash style: queries are processed in blocks,
// keys streamed in blocks with an online softmax (running max m and sum l per
// query), so no T x T score matrix ever exists; the forward keeps only the
// log-sum-exp per query (O(T)) for the backward, which recomputes scores.
// Bias: ALiBi as slope * (j - i_abs) computed on the fly (the training form of
// the official 13B code; its eval form slope * j differs by a per-row constant
// and gives the same softmax). Masks: causal with a KV-cache offset (`past`)
// and a per-batch key padding mask. A query that sees no key gets o = 0.
// Reference: src/engine/ref/attention.ts (materialised float64 softmax).
// One algorithm for every build: the products run register-blocked over the
// build's vector width (vecf.h), the softmax loops vectorise at that width.

static inline float dotF(const float* a, const float* b, int n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static inline bool uniformRow(const AttnArgs* a, int b, int i) {
  return a->queryMask && a->queryMask[static_cast<int64_t>(b) * a->Tq + i] == 0;
}

static inline bool keyVisible(const AttnArgs* a, int b, int i, int j) {
  // A padding query sees every key, future ones included: in the official code
  // its scores are all dtype-min after the clamp, so softmax is uniform over Tk.
  if (uniformRow(a, b, i)) return true;
  if (a->causal && j > a->past + i) return false;
  if (a->keyMask && a->keyMask[static_cast<int64_t>(b) * a->Tk + j] == 0) return false;
  return true;
}

// Number of keys a query block can possibly see (causal bound), for loop limits.
static inline int keyLimit(const AttnArgs* a, int iLast) {
  if (!a->causal || a->queryMask) return a->Tk;
  const int lim = a->past + iLast + 1;
  return lim < a->Tk ? lim : a->Tk;
}

constexpr int ATT_KB = 64;  // keys per block (a packed key block is [D][ATT_KB])
constexpr int ATT_QB = 64;  // queries per forward task: packing a key block is shared by 64 rows

#include "vecf.h"

// One register tile of blockMul: out[t][0, C*W) (+)= sum_{k<n} a[t][k*AK] * b[k*ldb + (0, C*W)]
// for t < R (AK = 1: A row-major; AK = ATT_KB: A read transposed from a block), in R x C vector accumulators (C <= CB live vectors of the tile's
// columns; one broadcast of a per C FMAs, one load of b per R FMAs), each sum in
// k order. Masked: only the lanes of m are read from b and out and written back
// (the columns past the end).
template <int R, int C, bool Masked, int AK>
static inline void blockTile(const float* const* a, const float* b, int64_t ldb, int n, float* out, int64_t ldo,
                             bool accumulate, const VecF::M* m) {
  constexpr int W = VecF::W;
  VecF::V acc[R][C];
#pragma GCC unroll 8
  for (int t = 0; t < R; t++)
#pragma GCC unroll 4
    for (int x = 0; x < C; x++)
      acc[t][x] = !accumulate ? VecF::zero() : Masked ? VecF::loadM(out + t * ldo + x * W, m[x]) : VecF::load(out + t * ldo + x * W);
  for (int k = 0; k < n; k++) {
    const float* bk = b + static_cast<int64_t>(k) * ldb;
    VecF::V bv[C];
#pragma GCC unroll 4
    for (int x = 0; x < C; x++) bv[x] = Masked ? VecF::loadM(bk + x * W, m[x]) : VecF::load(bk + x * W);
#pragma GCC unroll 8
    for (int t = 0; t < R; t++) {
      const VecF::V ab = VecF::set1(a[t][k * AK]);
#pragma GCC unroll 4
      for (int x = 0; x < C; x++) acc[t][x] = VecF::fma(ab, bv[x], acc[t][x]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < R; t++)
#pragma GCC unroll 4
    for (int x = 0; x < C; x++) {
      if (Masked) VecF::storeM(out + t * ldo + x * W, m[x], acc[t][x]);
      else VecF::store(out + t * ldo + x * W, acc[t][x]);
    }
}

// The tile of rr <= R rows and cv <= C live vectors, by template recursion (the
// last row tile of a block has fewer rows; decode's single query runs the 1-row
// tile; a diagonal block's row tiles have fewer live columns).
template <int R, int C, bool Masked, int AK>
static inline void blockTileRC(int rr, int cv, const float* const* a, const float* b, int64_t ldb, int n, float* out,
                               int64_t ldo, bool accumulate, const VecF::M* m) {
  if (cv < C) {
    if constexpr (C > 1) blockTileRC<R, C - 1, Masked, AK>(rr, cv, a, b, ldb, n, out, ldo, accumulate, m);
  } else if (rr == R) blockTile<R, C, Masked, AK>(a, b, ldb, n, out, ldo, accumulate, m);
  else if constexpr (R > 1) blockTileRC<R - 1, C, Masked, AK>(rr, cv, a, b, ldb, n, out, ldo, accumulate, m);
}

// The live part of a block product under the causal mask, per row tile: a
// diagonal block is a triangle, and the products skip what the mask zeroes
// (with off = the mask's diagonal: row r and column/key c are visible iff c <= off + r).
//   KEnd:   rows are queries, k runs over keys (P V, dS K): row r needs k <= off + r only
//           (its P and dS are exactly 0 past that).
//   KBegin: rows are keys, k runs over queries (P^T dO, dS^T Q): row c needs k >= c - off only.
//   ColEnd: rows are queries, columns are keys (S = Q K^T, dP = dO V^T): row r needs columns
//           c <= off + r only; the columns past that are left unwritten, and the caller
//           masks them without reading their values.
// A skipped term is a product with an exact zero (or a score the mask discards),
// so the sums are the ones of the full block; each stays in k order.
struct Tri {
  enum Kind { None, KEnd, KBegin, ColEnd } kind = None;
  int off = 0;
};

// out[r][c] (+)= sum_{k<n} A[r*lda + k*AK] * B[k*ldb + c] for r < nr, c < ncol: the
// register-blocked product under every attention step (S = Q K^T on a packed
// transposed key block, O += P V, and the backward's dQ, and with AK = ATT_KB
// its dK += dS^T Q and dV += P^T dO, A read transposed from the [QB][KB]
// block). Columns past ncol are neither read nor written; tri skips the
// causally masked part.
template <int AK = 1>
static void blockMul(const float* A, int64_t lda, int nr, int n, const float* B, int64_t ldb, int ncol, float* out,
                     int64_t ldo, bool accumulate, Tri tri = Tri{}) {
  constexpr int RB = VecF::RB, C = VecF::CB, W = VecF::W, CW = VecF::CB * VecF::W;
  for (int c0 = 0; c0 < ncol; c0 += CW) {
    VecF::M m[C];
    for (int x = 0; x < C; x++) m[x] = VecF::mask(ncol - c0 - x * W);
    for (int r0 = 0; r0 < nr; r0 += RB) {
      const int rr = nr - r0 < RB ? nr - r0 : RB;
      int k0 = 0, k1 = n, cEnd = ncol;
      if (tri.kind == Tri::KEnd) k1 = n < tri.off + r0 + rr ? n : tri.off + r0 + rr;
      else if (tri.kind == Tri::KBegin) k0 = r0 - tri.off > 0 ? r0 - tri.off : 0;
      else if (tri.kind == Tri::ColEnd) cEnd = ncol < tri.off + r0 + rr ? ncol : tri.off + r0 + rr;
      if (k1 <= k0 && accumulate) continue;
      if (cEnd <= c0) continue;
      const int live = (cEnd - c0 + W - 1) / W;
      const int cv = live < C ? live : C;
      const bool partial = c0 + cv * W > ncol;
      const float* a[RB];
      for (int t = 0; t < RB; t++) a[t] = A + static_cast<int64_t>(r0 + (t < rr ? t : rr - 1)) * lda + static_cast<int64_t>(k0) * AK;
      float* o = out + static_cast<int64_t>(r0) * ldo + c0;
      const float* b = B + static_cast<int64_t>(k0) * ldb + c0;
      const int nk = k1 > k0 ? k1 - k0 : 0;
      if (partial) blockTileRC<RB, C, true, AK>(rr, cv, a, b, ldb, nk, o, ldo, accumulate, m);
      else blockTileRC<RB, C, false, AK>(rr, cv, a, b, ldb, nk, o, ldo, accumulate, m);
    }
  }
}

// S[r][0, ATT_KB) = Q[i0 + r] . K block (packed transposed [D][ATT_KB], zero past its end), r < nq.
static void scoreBlock(const float* qh, int64_t qst, int i0, int nq, const float* kt, int D, float* S, Tri tri = Tri{}) {
  blockMul(qh + static_cast<int64_t>(i0) * qst, qst, nq, D, kt, ATT_KB, ATT_KB, S, ATT_KB, false, tri);
}

// acc[r][:] += sum_c P[r][c] * v[j0 + c][:] for r < nq, c < nk (P rows ATT_KB apart, acc rows ldacc apart).
static void pvBlock(const float* P, int nq, int nk, const float* vh, int64_t vst, int j0, float* acc, int D, int64_t ldacc,
                    Tri tri = Tri{}) {
  blockMul(P, ATT_KB, nq, nk, vh + static_cast<int64_t>(j0) * vst, vst, D, acc, ldacc, true, tri);
}

// At most this many queries per head (decode, short chunks): the forward scores
// against the keys in their own layout instead of packing them transposed,
// which would read and write every key once more than the scores need.
constexpr int ATT_DIRECT_MAX_TQ = 4;

// S[r][c] = Q[i0 + r] . K[j0 + c] for r < nq, c < nk with K rows kst apart: 8 keys
// at a time, vectors along D, one horizontal sum per score (the memory-bound case).
static void scoreBlockDirect(const float* qh, int64_t qst, int i0, int nq, const float* kh, int64_t kst, int j0, int nk,
                             int D, float* S) {
  constexpr int W = VecF::W, KC = 8;
  const int Dv = D / W * W;
  const VecF::M tail = VecF::mask(D - Dv);
  for (int c0 = 0; c0 < nk; c0 += KC) {
    const int cc = nk - c0 < KC ? nk - c0 : KC;
    const float* kr[KC];
    for (int x = 0; x < KC; x++) kr[x] = kh + static_cast<int64_t>(j0 + c0 + (x < cc ? x : cc - 1)) * kst;
    for (int r = 0; r < nq; r++) {
      const float* qr = qh + static_cast<int64_t>(i0 + r) * qst;
      VecF::V acc[KC];
#pragma GCC unroll 8
      for (int x = 0; x < KC; x++) acc[x] = VecF::zero();
      for (int d = 0; d < Dv; d += W) {
        const VecF::V qv = VecF::load(qr + d);
#pragma GCC unroll 8
        for (int x = 0; x < KC; x++) acc[x] = VecF::fma(qv, VecF::load(kr[x] + d), acc[x]);
      }
      if (Dv < D) {
        const VecF::V qv = VecF::loadM(qr + Dv, tail);
#pragma GCC unroll 8
        for (int x = 0; x < KC; x++) acc[x] = VecF::fma(qv, VecF::loadM(kr[x] + Dv, tail), acc[x]);
      }
      for (int x = 0; x < cc; x++) S[r * ATT_KB + c0 + x] = VecF::sum(acc[x]);
    }
  }
}

// Rows [j0, j0+nk) of a key (or value) head, transposed into [D][ATT_KB], zero-padded:
// one row of the block per d, its ATT_KB floats written contiguously (gathered
// where the build has gathers; a column at a time would store every float to
// another cache line).
static void packKeysT(const float* kh, int64_t kst, int j0, int nk, int D, float* kt) {
  const float* src = kh + static_cast<int64_t>(j0) * kst;
  if (nk < ATT_KB || kst > INT32_MAX / ATT_KB) {  // the last, partial block; or 32-bit offsets would overflow
    for (int d = 0; d < D; d++)
      for (int c = 0; c < ATT_KB; c++) kt[static_cast<int64_t>(d) * ATT_KB + c] = c < nk ? src[c * kst + d] : 0.f;
    return;
  }
  const int kstI = static_cast<int>(kst);
  for (int d = 0; d < D; d++) {
    float* dst = kt + static_cast<int64_t>(d) * ATT_KB;
#pragma omp simd
    for (int c = 0; c < ATT_KB; c++) dst[c] = src[c * kstI + d];
  }
}

// The maximum and the sum of a block row of ATT_KB scores, in vectors of the
// build's width and a fixed order. The sum always runs over the whole block
// width (zeros past the block's end), so its order does not depend on where
// the block ends: a row's output is the same whatever the sequence length or
// padding of its batch.
static inline float blockMax(const float* x) {
  VecF::V m = VecF::load(x);
  for (int c = VecF::W; c < ATT_KB; c += VecF::W) m = VecF::max(m, VecF::load(x + c));
  return VecF::hmax(m);
}
static inline float blockSum(const float* x) {
  static_assert(ATT_KB % (2 * VecF::W) == 0, "two accumulators cover the block");
  VecF::V s0 = VecF::load(x), s1 = VecF::load(x + VecF::W);
  for (int c = 2 * VecF::W; c < ATT_KB; c += 2 * VecF::W) {
    s0 = VecF::add(s0, VecF::load(x + c));
    s1 = VecF::add(s1, VecF::load(x + c + VecF::W));
  }
  return VecF::sum(VecF::add(s0, s1));
}

// Forward: per (query block, key block), the key block is packed transposed
// [D][KB] (every key block of every head once, up front) and S = Q K^T comes
// from the register-blocked product; masks and the ALiBi bias are applied to
// the raw scores, then the online softmax, and O += P V by the same product.
// Every output row is computed by one thread in key order.
static void attnFwd(const AttnArgs* a, const float* q, const float* k, const float* v, float* o, float* lse) {
  const int D = a->D, Tq = a->Tq;
  const int qBlocks = (Tq + ATT_QB - 1) / ATT_QB;
  const int64_t tasks = static_cast<int64_t>(a->B) * a->H * qBlocks;
  // Every key block of every head packed transposed once, up front, then
  // read by all the query blocks of its head.
  const int kBlocks = (a->Tk + ATT_KB - 1) / ATT_KB;
  const size_t blockKt = static_cast<size_t>(D) * ATT_KB;
  const int64_t kTasks = static_cast<int64_t>(a->B) * a->H * kBlocks;
  const bool direct = Tq <= ATT_DIRECT_MAX_TQ;
  static thread_local Scratch ktScratch;  // the calling thread's, grow-only
  float* ktAll = direct ? nullptr : ktScratch.get(static_cast<size_t>(kTasks) * blockKt);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < (direct ? 0 : kTasks); t++) {
    const int kb = static_cast<int>(t % kBlocks), h = static_cast<int>((t / kBlocks) % a->H), b = static_cast<int>(t / kBlocks / a->H);
    const int j0 = kb * ATT_KB;
    packKeysT(k + b * a->ksb + h * a->ksh, a->kst, j0, a->Tk - j0 < ATT_KB ? a->Tk - j0 : ATT_KB, D, ktAll + t * blockKt);
  }
#pragma omp parallel
  {
    static thread_local Scratch scratch;
    float* S = scratch.get(ATT_QB * ATT_KB + static_cast<size_t>(ATT_QB) * D + 2 * ATT_QB + 16);  // [QB][KB] scores, then probabilities
    float* acc = S + ATT_QB * ATT_KB;
    float* m = acc + static_cast<size_t>(ATT_QB) * D;
    float* l = m + ATT_QB;
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      const int qb = static_cast<int>(task % qBlocks);
      const int h = static_cast<int>((task / qBlocks) % a->H);
      const int b = static_cast<int>(task / qBlocks / a->H);
      const int i0 = qb * ATT_QB;
      const int nq = Tq - i0 < ATT_QB ? Tq - i0 : ATT_QB;
      const float slope = a->slopes ? a->slopes[h] : 0.f;
      const float* qh = q + b * a->qsb + h * a->qsh;
      const float* vh = v + b * a->vsb + h * a->vsh;
      const float* kh = k + b * a->ksb + h * a->ksh;
      const float* ktHead = direct ? nullptr : ktAll + (static_cast<int64_t>(b) * a->H + h) * kBlocks * blockKt;
      for (int r = 0; r < nq; r++) { m[r] = -INFINITY; l[r] = 0.f; }
      for (int64_t i = 0; i < static_cast<int64_t>(nq) * D; i++) acc[i] = 0.f;
      const int jEnd = keyLimit(a, i0 + nq - 1);
      // causal without a query mask: the products skip the masked triangle of a diagonal block
      const bool tri = a->causal && !a->queryMask;
      for (int j0 = 0; j0 < jEnd; j0 += ATT_KB) {
        const int nk = jEnd - j0 < ATT_KB ? jEnd - j0 : ATT_KB;
        const int diag = a->past + i0 - j0;  // query i0 + r sees key j0 + c iff c <= diag + r
        if (direct) scoreBlockDirect(qh, a->qst, i0, nq, kh, a->kst, j0, nk, D, S);
        else scoreBlock(qh, a->qst, i0, nq, ktHead + static_cast<int64_t>(j0 / ATT_KB) * blockKt, D, S,
                        tri ? Tri{Tri::ColEnd, diag} : Tri{});
        for (int r = 0; r < nq; r++) {
          const int i = i0 + r;
          float* sr = S + r * ATT_KB;
          float rowMax = -INFINITY;
          const bool uniform = uniformRow(a, b, i);
          // fast path, vectorised: no masks but the causal one (the columns past the
          // diagonal, and past the block's end, get -inf without their scores being
          // read: they may be unwritten)
          if (!uniform && !a->keyMask) {
            const int off = j0 - (a->past + i);
            const int cEnd = !a->causal ? nk : 1 - off < nk ? 1 - off : nk;
            const float scale = a->scale;
#pragma omp simd
            for (int c = 0; c < cEnd; c++) sr[c] = sr[c] * scale + slope * static_cast<float>(off + c);
            for (int c = cEnd > 0 ? cEnd : 0; c < ATT_KB; c++) sr[c] = -INFINITY;
            rowMax = blockMax(sr);
          } else
          for (int c = 0; c < nk; c++) {
            const int j = j0 + c;
            float sc;
            if (!keyVisible(a, b, i, j)) sc = -INFINITY;
            else if (uniform) sc = 0.f;
            else sc = sr[c] * a->scale + (a->slopes ? slope * static_cast<float>(j - (a->past + i)) : 0.f);
            sr[c] = sc;
            rowMax = maxF(rowMax, sc);
          }
          for (int c = nk; c < ATT_KB; c++) sr[c] = 0.f;
          if (rowMax == -INFINITY) {  // nothing visible in this block
            for (int c = 0; c < nk; c++) sr[c] = 0.f;
            continue;
          }
          const float mNew = maxF(m[r], rowMax);
          const float corr = m[r] == -INFINITY ? 0.f : expNeg(m[r] - mNew);
          if (corr != 1.f)
            for (int d = 0; d < D; d++) acc[r * D + d] *= corr;
#pragma omp simd
          for (int c = 0; c < ATT_KB; c++) sr[c] = c < nk ? expNeg(sr[c] - mNew) : 0.f;  // masked scores are -inf: p = 0
          l[r] = l[r] * corr + blockSum(sr);
          m[r] = mNew;
        }
        pvBlock(S, nq, nk, vh, a->vst, j0, acc, D, D, tri ? Tri{Tri::KEnd, diag} : Tri{});
      }
      for (int r = 0; r < nq; r++) {
        const int i = i0 + r;
        float* orow = o + b * a->osb + h * a->osh + static_cast<int64_t>(i) * a->ost;
        const float inv = l[r] > 0.f ? 1.0f / l[r] : 0.f;
        for (int d = 0; d < D; d++) orow[d] = acc[r * D + d] * inv;
        lse[(static_cast<int64_t>(b) * a->H + h) * Tq + i] = l[r] > 0.f ? m[r] + std::log(l[r]) : -INFINITY;
      }
    }
  }
}

// Backward, the flash-attention-2 loop order: per (b, h) and key block of
// ATT_KB keys (K and V packed transposed), query blocks of ATT_KB rows stream
// past. S = Q K^T and dP = dO V^T come from the forward's score product,
// P = exp(S - lse) and dS = P (dP - D_i) scale are formed row by row with the
// masks and ALiBi bias (vectorised where only the causal mask applies), and
// the three products dQ += dS K, dV += P^T dO, dK += dS^T Q run through the
// P.V product (the last two reading P and dS transposed). On a diagonal block
// every product skips the causally masked triangle (Tri). One thread per
// (b, h), every sum in a fixed order: thread-count independent.
static void attnBwd(const AttnArgs* a, const float* q, const float* k, const float* v, const float* o,
                    const float* lse, const float* dO, float* dq, float* dk, float* dv) {
  const int D = a->D, Tq = a->Tq, Tk = a->Tk;
  constexpr int QB = ATT_KB;  // query rows per block
  const int64_t tasks = static_cast<int64_t>(a->B) * a->H;
  const bool tri = a->causal && !a->queryMask;
#pragma omp parallel
  {
    static thread_local Scratch scratch;
    const size_t tile = static_cast<size_t>(QB) * ATT_KB;
    float* kt = scratch.get(2 * static_cast<size_t>(D) * ATT_KB + 2 * tile + static_cast<size_t>(Tq) + 16);
    float* vt = kt + static_cast<size_t>(D) * ATT_KB;
    float* S = vt + static_cast<size_t>(D) * ATT_KB;  // scores, then P [QB][KB]
    float* dP = S + tile;                              // dO V^T, then dS [QB][KB]
    float* Dv = dP + tile;                             // D_i = <dO_i, o_i>
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      const int h = static_cast<int>(task % a->H);
      const int b = static_cast<int>(task / a->H);
      const float slope = a->slopes ? a->slopes[h] : 0.f;
      const float* qh = q + b * a->qsb + h * a->qsh;
      const float* kh = k + b * a->ksb + h * a->ksh;
      const float* vh = v + b * a->vsb + h * a->vsh;
      const int64_t oOff = b * a->osb + h * a->osh;
      const float* gh = dO + b * a->gosb + h * a->gosh;
      const float* lh = lse + (static_cast<int64_t>(b) * a->H + h) * Tq;
      float* dqh = dq + b * a->gqsb + h * a->gqsh;
      float* dkh = dk + b * a->gksb + h * a->gksh;
      float* dvh = dv + b * a->gvsb + h * a->gvsh;
      for (int i = 0; i < Tq; i++) {
        Dv[i] = dotF(gh + static_cast<int64_t>(i) * a->gost, o + oOff + static_cast<int64_t>(i) * a->ost, D);
        float* dqi = dqh + static_cast<int64_t>(i) * a->gqst;
        for (int d = 0; d < D; d++) dqi[d] = 0.f;
      }
      for (int j = 0; j < Tk; j++)
        for (int d = 0; d < D; d++) {
          dkh[static_cast<int64_t>(j) * a->gkst + d] = 0.f;
          dvh[static_cast<int64_t>(j) * a->gvst + d] = 0.f;
        }
      for (int j0 = 0; j0 < Tk; j0 += ATT_KB) {
        const int nk = Tk - j0 < ATT_KB ? Tk - j0 : ATT_KB;
        packKeysT(kh, a->kst, j0, nk, D, kt);
        packKeysT(vh, a->vst, j0, nk, D, vt);
        // first query that can see key j0 under the causal mask, rounded down to a block
        const int iStart = a->causal && !a->queryMask ? (j0 - a->past > 0 ? j0 - a->past : 0) : 0;
        for (int i0 = iStart / QB * QB; i0 < Tq; i0 += QB) {
          const int nq = Tq - i0 < QB ? Tq - i0 : QB;
          const int diag = a->past + i0 - j0;  // query i0 + r sees key j0 + c iff c <= diag + r
          const Tri cols = tri ? Tri{Tri::ColEnd, diag} : Tri{};
          scoreBlock(qh, a->qst, i0, nq, kt, D, S, cols);
          scoreBlock(gh, a->gost, i0, nq, vt, D, dP, cols);
          bool any = false;
          for (int r = 0; r < nq; r++) {
            const int i = i0 + r;
            const float L = lh[i], Di = Dv[i];
            float* pr = S + r * ATT_KB;
            float* dr = dP + r * ATT_KB;
            const bool uniform = uniformRow(a, b, i);  // constant scores: no gradient reaches q or k
            if (!uniform && !a->keyMask && L != -INFINITY) {
              // vectorised: only the causal mask (the columns past the diagonal, and past
              // the block's end, are set to 0 without their scores being read)
              const int off = j0 - (a->past + i);
              const int cEnd = !a->causal ? nk : 1 - off < nk ? 1 - off : nk;
              const float scale = a->scale;
              // separate loops, expNeg over the whole block width, as in the forward (GCC 12 vectorises
              // expNeg with AVX-512 masks; on AVX2 and the baseline that loop stays scalar, the others not)
#pragma omp simd
              for (int c = 0; c < cEnd; c++) pr[c] = pr[c] * scale + slope * static_cast<float>(off + c) - L;
#pragma omp simd
              for (int c = 0; c < ATT_KB; c++) pr[c] = c < cEnd ? expNeg(pr[c]) : 0.f;
#pragma omp simd
              for (int c = 0; c < cEnd; c++) dr[c] = pr[c] * (dr[c] - Di) * scale;
              for (int c = cEnd > 0 ? cEnd : 0; c < ATT_KB; c++) dr[c] = 0.f;
              any = any || cEnd > 0;
              continue;
            }
            for (int c = 0; c < ATT_KB; c++) {
              const int j = j0 + c;
              float p = 0.f;
              if (c < nk && L != -INFINITY && keyVisible(a, b, i, j)) {
                const float sc = uniform ? 0.f : pr[c] * a->scale + (a->slopes ? slope * static_cast<float>(j - (a->past + i)) : 0.f);
                p = expNeg(sc - L);
              }
              const float ds = uniform || p == 0.f ? 0.f : p * (dr[c] - Di) * a->scale;
              pr[c] = p;
              dr[c] = ds;
              any = any || p != 0.f;
            }
          }
          if (!any) continue;  // nothing of this block is visible to these queries
          // rows past nq of P and dS are never read: the transposed products run over k < nq
          pvBlock(dP, nq, nk, kh, a->kst, j0, dqh + static_cast<int64_t>(i0) * a->gqst, D, a->gqst, tri ? Tri{Tri::KEnd, diag} : Tri{});
          const Tri keys = tri ? Tri{Tri::KBegin, diag} : Tri{};
          blockMul<ATT_KB>(S, 1, nk, nq, gh + static_cast<int64_t>(i0) * a->gost, a->gost, D, dvh + static_cast<int64_t>(j0) * a->gvst, a->gvst, true, keys);
          blockMul<ATT_KB>(dP, 1, nk, nq, qh + static_cast<int64_t>(i0) * a->qst, a->qst, D, dkh + static_cast<int64_t>(j0) * a->gkst, a->gkst, true, keys);
        }
      }
    }
  }
}
