// Fused causal attention in the flash style: queries are processed in blocks,
// keys streamed in blocks with an online softmax (running max m and sum l per
// query), so no T x T score matrix ever exists; the forward keeps only the
// log-sum-exp per query (O(T)) for the backward, which recomputes scores.
// Bias: ALiBi as slope * (j - i_abs) computed on the fly (the training form of
// the official 13B code; its eval form slope * j differs by a per-row constant
// and gives the same softmax). Masks: causal with a KV-cache offset (`past`)
// and a per-batch key padding mask. A query that sees no key gets o = 0.
// Reference: src/engine/ref/attention.ts (materialised float64 softmax).

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

constexpr int ATT_QB = 16;
constexpr int ATT_KB = 64;

// Scores of query row qi against keys [j0, j0+nk) into sr (masked -> -inf); returns the row max.
static inline float scoreRow(const AttnArgs* a, int b, int i, const float* qi, const float* kh, int j0, int nk,
                             float slope, float* sr) {
  float rowMax = -INFINITY;
  if (uniformRow(a, b, i)) {  // constant scores: a uniform distribution over the visible keys
    for (int c = 0; c < nk; c++) sr[c] = keyVisible(a, b, i, j0 + c) ? 0.f : -INFINITY;
    for (int c = 0; c < nk; c++) rowMax = maxF(rowMax, sr[c]);
    return rowMax;
  }
  for (int c = 0; c < nk; c++) {
    const int j = j0 + c;
    float sc = -INFINITY;
    if (keyVisible(a, b, i, j)) {
      sc = dotF(qi, kh + static_cast<int64_t>(j) * a->kst, a->D) * a->scale;
      if (a->slopes) sc += slope * static_cast<float>(j - (a->past + i));
    }
    sr[c] = sc;
    rowMax = maxF(rowMax, sc);
  }
  return rowMax;
}

#if defined(__AVX512F__)
// Register-blocked forward (AVX-512): per (query block, key block), the key
// block is packed transposed [D][KB] and S = Q K^T is computed 4 queries x 64
// keys at a time (16 zmm accumulators, one broadcast of q per 4 FMAs); masks
// and the ALiBi bias are applied to the raw scores, then the online softmax
// as in the row-wise version, and O += P V 4 queries x 64 dims at a time.
// Every output row is still computed by one thread in key order.
constexpr int ATT_QB512 = 64;  // queries per task: packing a key block is shared by 64 rows

static inline __mmask16 laneMask(int n) { return n >= 16 ? 0xffff : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1); }

static void scoreBlock(const float* qh, int64_t qst, int i0, int nq, const float* kt, int D, float* S) {
  for (int r0 = 0; r0 < nq; r0 += 4) {
    const int rr = nq - r0 < 4 ? nq - r0 : 4;
    const float* qr[4];
    for (int t = 0; t < 4; t++) qr[t] = qh + static_cast<int64_t>(i0 + r0 + (t < rr ? t : rr - 1)) * qst;
    __m512 acc[4][4];
    for (int t = 0; t < 4; t++)
      for (int x = 0; x < 4; x++) acc[t][x] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
      const float* kd = kt + static_cast<int64_t>(d) * ATT_KB;
      const __m512 k0 = _mm512_load_ps(kd), k1 = _mm512_load_ps(kd + 16), k2 = _mm512_load_ps(kd + 32), k3 = _mm512_load_ps(kd + 48);
#pragma GCC unroll 4
      for (int t = 0; t < 4; t++) {
        const __m512 qb = _mm512_set1_ps(qr[t][d]);
        acc[t][0] = _mm512_fmadd_ps(qb, k0, acc[t][0]);
        acc[t][1] = _mm512_fmadd_ps(qb, k1, acc[t][1]);
        acc[t][2] = _mm512_fmadd_ps(qb, k2, acc[t][2]);
        acc[t][3] = _mm512_fmadd_ps(qb, k3, acc[t][3]);
      }
    }
    for (int t = 0; t < rr; t++)
      for (int x = 0; x < 4; x++) _mm512_store_ps(S + (r0 + t) * ATT_KB + 16 * x, acc[t][x]);
  }
}

// acc[r][:] += sum_c P[r][c] * v[j0 + c][:] for r < nq, c < nk (P rows ATT_KB apart, acc rows ldacc apart).
static void pvBlock(const float* P, int nq, int nk, const float* vh, int64_t vst, int j0, float* acc, int D, int64_t ldacc) {
  for (int r0 = 0; r0 < nq; r0 += 4) {
    const int rr = nq - r0 < 4 ? nq - r0 : 4;
    const float* pr[4];
    for (int t = 0; t < 4; t++) pr[t] = P + (r0 + (t < rr ? t : rr - 1)) * ATT_KB;
    for (int d0 = 0; d0 < D; d0 += 64) {
      const __mmask16 m[4] = {laneMask(D - d0), laneMask(D - d0 - 16), laneMask(D - d0 - 32), laneMask(D - d0 - 48)};
      __m512 o[4][4];
      for (int t = 0; t < 4; t++)
        for (int x = 0; x < 4; x++) o[t][x] = _mm512_maskz_loadu_ps(m[x], acc + (r0 + (t < rr ? t : rr - 1)) * ldacc + d0 + 16 * x);
      for (int c = 0; c < nk; c++) {
        const float* vr = vh + static_cast<int64_t>(j0 + c) * vst + d0;
        const __m512 v0 = _mm512_maskz_loadu_ps(m[0], vr), v1 = _mm512_maskz_loadu_ps(m[1], vr + 16);
        const __m512 v2 = _mm512_maskz_loadu_ps(m[2], vr + 32), v3 = _mm512_maskz_loadu_ps(m[3], vr + 48);
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) {
          const __m512 pb = _mm512_set1_ps(pr[t][c]);
          o[t][0] = _mm512_fmadd_ps(pb, v0, o[t][0]);
          o[t][1] = _mm512_fmadd_ps(pb, v1, o[t][1]);
          o[t][2] = _mm512_fmadd_ps(pb, v2, o[t][2]);
          o[t][3] = _mm512_fmadd_ps(pb, v3, o[t][3]);
        }
      }
      for (int t = 0; t < rr; t++)
        for (int x = 0; x < 4; x++) _mm512_mask_storeu_ps(acc + (r0 + t) * ldacc + d0 + 16 * x, m[x], o[t][x]);
    }
  }
}

// Rows [j0, j0+nk) of a key (or value) head, transposed into [D][ATT_KB], zero-padded.
static void packKeysT(const float* kh, int64_t kst, int j0, int nk, int D, float* kt) {
  for (int c = 0; c < ATT_KB; c++) {
    const float* kr = kh + static_cast<int64_t>(j0 + c) * kst;
    if (c < nk) for (int d = 0; d < D; d++) kt[d * ATT_KB + c] = kr[d];
    else for (int d = 0; d < D; d++) kt[d * ATT_KB + c] = 0.f;
  }
}

static void attnFwd(const AttnArgs* a, const float* q, const float* k, const float* v, float* o, float* lse) {
  const int D = a->D, Tq = a->Tq;
  const int qBlocks = (Tq + ATT_QB512 - 1) / ATT_QB512;
  const int64_t tasks = static_cast<int64_t>(a->B) * a->H * qBlocks;
  // Every key block of every head packed transposed once, up front, then
  // read by all the query blocks of its head.
  const int kBlocks = (a->Tk + ATT_KB - 1) / ATT_KB;
  const size_t blockKt = static_cast<size_t>(D) * ATT_KB;
  const int64_t kTasks = static_cast<int64_t>(a->B) * a->H * kBlocks;
  static thread_local Scratch ktScratch;  // the calling thread's, grow-only
  float* ktAll = ktScratch.get(static_cast<size_t>(kTasks) * blockKt);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < kTasks; t++) {
    const int kb = static_cast<int>(t % kBlocks), h = static_cast<int>((t / kBlocks) % a->H), b = static_cast<int>(t / kBlocks / a->H);
    const int j0 = kb * ATT_KB;
    packKeysT(k + b * a->ksb + h * a->ksh, a->kst, j0, a->Tk - j0 < ATT_KB ? a->Tk - j0 : ATT_KB, D, ktAll + t * blockKt);
  }
#pragma omp parallel
  {
    static thread_local Scratch scratch;
    float* S = scratch.get(ATT_QB512 * ATT_KB + static_cast<size_t>(ATT_QB512) * D + 2 * ATT_QB512 + 16);  // [QB][KB] scores, then probabilities
    float* acc = S + ATT_QB512 * ATT_KB;
    float* m = acc + static_cast<size_t>(ATT_QB512) * D;
    float* l = m + ATT_QB512;
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      const int qb = static_cast<int>(task % qBlocks);
      const int h = static_cast<int>((task / qBlocks) % a->H);
      const int b = static_cast<int>(task / qBlocks / a->H);
      const int i0 = qb * ATT_QB512;
      const int nq = Tq - i0 < ATT_QB512 ? Tq - i0 : ATT_QB512;
      const float slope = a->slopes ? a->slopes[h] : 0.f;
      const float* qh = q + b * a->qsb + h * a->qsh;
      const float* vh = v + b * a->vsb + h * a->vsh;
      const float* ktHead = ktAll + (static_cast<int64_t>(b) * a->H + h) * kBlocks * blockKt;
      for (int r = 0; r < nq; r++) { m[r] = -INFINITY; l[r] = 0.f; }
      for (int64_t i = 0; i < static_cast<int64_t>(nq) * D; i++) acc[i] = 0.f;
      const int jEnd = keyLimit(a, i0 + nq - 1);
      for (int j0 = 0; j0 < jEnd; j0 += ATT_KB) {
        const int nk = jEnd - j0 < ATT_KB ? jEnd - j0 : ATT_KB;
        scoreBlock(qh, a->qst, i0, nq, ktHead + static_cast<int64_t>(j0 / ATT_KB) * blockKt, D, S);
        for (int r = 0; r < nq; r++) {
          const int i = i0 + r;
          float* sr = S + r * ATT_KB;
          float rowMax = -INFINITY;
          const bool uniform = uniformRow(a, b, i);
          // fast path: no masks and the whole block visible to this query
          if (!uniform && !a->keyMask && (!a->causal || j0 + nk - 1 <= a->past + i)) {
            const int off = j0 - (a->past + i);
#pragma omp simd reduction(max : rowMax)
            for (int c = 0; c < nk; c++) {
              const float sc = sr[c] * a->scale + slope * static_cast<float>(off + c);
              sr[c] = sc;
              rowMax = rowMax > sc ? rowMax : sc;
            }
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
          const float corr = m[r] == -INFINITY ? 0.f : std::exp(m[r] - mNew);
          if (corr != 1.f)
            for (int d = 0; d < D; d++) acc[r * D + d] *= corr;
          // The sum always runs over the whole block width (zeros past nk), so its
          // vector-lane order does not depend on where the block ends: a row's output
          // is the same whatever the sequence length or padding of its batch.
          float sum = 0.f;
#pragma omp simd reduction(+ : sum)
          for (int c = 0; c < ATT_KB; c++) {
            const float p = c < nk ? expNeg(sr[c] - mNew) : 0.f;  // masked scores are -inf: p = 0
            sr[c] = p;
            sum += p;
          }
          l[r] = l[r] * corr + sum;
          m[r] = mNew;
        }
        pvBlock(S, nq, nk, vh, a->vst, j0, acc, D, D);
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
#else
static void attnFwd(const AttnArgs* a, const float* q, const float* k, const float* v, float* o, float* lse) {
  const int D = a->D, Tq = a->Tq;
  const int qBlocks = (Tq + ATT_QB - 1) / ATT_QB;
  const int64_t tasks = static_cast<int64_t>(a->B) * a->H * qBlocks;
#pragma omp parallel
  {
    static thread_local Scratch scratch;
    float* acc = scratch.get(static_cast<size_t>(ATT_QB) * D + 2 * ATT_QB + ATT_KB);
    float* m = acc + ATT_QB * D;
    float* l = m + ATT_QB;
    float* s = l + ATT_QB;  // scores of one query row against one key block
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      const int qb = static_cast<int>(task % qBlocks);
      const int h = static_cast<int>((task / qBlocks) % a->H);
      const int b = static_cast<int>(task / qBlocks / a->H);
      const int i0 = qb * ATT_QB;
      const int nq = Tq - i0 < ATT_QB ? Tq - i0 : ATT_QB;
      const float slope = a->slopes ? a->slopes[h] : 0.f;
      const float* qh = q + b * a->qsb + h * a->qsh;
      const float* kh = k + b * a->ksb + h * a->ksh;
      const float* vh = v + b * a->vsb + h * a->vsh;
      for (int r = 0; r < nq; r++) {
        m[r] = -INFINITY;
        l[r] = 0.f;
        for (int d = 0; d < D; d++) acc[r * D + d] = 0.f;
      }
      const int jEnd = keyLimit(a, i0 + nq - 1);
      for (int j0 = 0; j0 < jEnd; j0 += ATT_KB) {
        const int nk = jEnd - j0 < ATT_KB ? jEnd - j0 : ATT_KB;
        for (int r = 0; r < nq; r++) {
          const int i = i0 + r;
          const float rowMax = scoreRow(a, b, i, qh + static_cast<int64_t>(i) * a->qst, kh, j0, nk, slope, s);
          if (rowMax == -INFINITY) continue;  // nothing visible in this block
          const float mNew = maxF(m[r], rowMax);
          const float corr = m[r] == -INFINITY ? 0.f : std::exp(m[r] - mNew);
          float* ar = acc + r * D;
          if (corr != 1.f)
            for (int d = 0; d < D; d++) ar[d] *= corr;
          float sum = 0.f;
#pragma omp simd reduction(+ : sum)
          for (int c = 0; c < nk; c++) {
            const float p = expNeg(s[c] - mNew);  // masked scores are -inf: p = 0
            s[c] = p;
            sum += p;
          }
          for (int c = 0; c < nk; c++) {
            const float p = s[c];
            if (p == 0.f) continue;
            const float* vj = vh + static_cast<int64_t>(j0 + c) * a->vst;
#pragma omp simd
            for (int d = 0; d < D; d++) ar[d] += p * vj[d];
          }
          l[r] = l[r] * corr + sum;
          m[r] = mNew;
        }
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

#endif

#if defined(__AVX512F__)
// Register-blocked backward (AVX-512), the flash-attention-2 loop order: per
// (b, h) and key block of ATT_KB keys (K and V packed transposed), query
// blocks of ATT_KB rows stream past. S = Q K^T and dP = dO V^T come from the
// forward's 4 x 64 score kernel, P = exp(S - lse) and dS = P (dP - D_i) scale
// are formed row by row with the masks and ALiBi bias, and the three
// products dQ += dS K, dV += P^T dO, dK += dS^T Q run through the 4 x 64
// P.V kernel (P^T and dS^T are written alongside P and dS). One thread per
// (b, h), every sum in a fixed order: thread-count independent.
static void attnBwd(const AttnArgs* a, const float* q, const float* k, const float* v, const float* o,
                    const float* lse, const float* dO, float* dq, float* dk, float* dv) {
  const int D = a->D, Tq = a->Tq, Tk = a->Tk;
  constexpr int QB = ATT_KB;  // query rows per block: P^T and dS^T are ATT_KB-strided too
  const int64_t tasks = static_cast<int64_t>(a->B) * a->H;
#pragma omp parallel
  {
    static thread_local Scratch scratch;
    const size_t tile = static_cast<size_t>(QB) * ATT_KB;
    float* kt = scratch.get(2 * static_cast<size_t>(D) * ATT_KB + 6 * tile + static_cast<size_t>(Tq) + 16);
    float* vt = kt + static_cast<size_t>(D) * ATT_KB;
    float* S = vt + static_cast<size_t>(D) * ATT_KB;  // scores, then P [QB][KB]
    float* dP = S + tile;                              // dO V^T, then dS [QB][KB]
    float* PT = dP + tile;                             // P^T [KB][QB]
    float* dST = PT + tile;                            // dS^T [KB][QB]
    float* Dv = dST + tile;                            // D_i = <dO_i, o_i>
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      const int h = static_cast<int>(task % a->H);
      const int b = static_cast<int>(task / a->H);
      const float slope = a->slopes ? a->slopes[h] : 0.f;
      const float* qh = q + b * a->qsb + h * a->qsh;
      const float* kh = k + b * a->ksb + h * a->ksh;
      const float* vh = v + b * a->vsb + h * a->vsh;
      const int64_t oOff = b * a->osb + h * a->osh;
      const float* gh = dO + oOff;
      const float* lh = lse + (static_cast<int64_t>(b) * a->H + h) * Tq;
      float* dqh = dq + b * a->gqsb + h * a->gqsh;
      float* dkh = dk + b * a->gksb + h * a->gksh;
      float* dvh = dv + b * a->gvsb + h * a->gvsh;
      for (int i = 0; i < Tq; i++) {
        Dv[i] = dotF(gh + static_cast<int64_t>(i) * a->ost, o + oOff + static_cast<int64_t>(i) * a->ost, D);
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
          scoreBlock(qh, a->qst, i0, nq, kt, D, S);
          scoreBlock(gh, a->ost, i0, nq, vt, D, dP);
          bool any = false;
          for (int r = 0; r < nq; r++) {
            const int i = i0 + r;
            const float L = lh[i];
            float* pr = S + r * ATT_KB;
            float* dr = dP + r * ATT_KB;
            const bool uniform = uniformRow(a, b, i);  // constant scores: no gradient reaches q or k
            for (int c = 0; c < ATT_KB; c++) {
              const int j = j0 + c;
              float p = 0.f;
              if (c < nk && L != -INFINITY && keyVisible(a, b, i, j)) {
                const float sc = uniform ? 0.f : pr[c] * a->scale + (a->slopes ? slope * static_cast<float>(j - (a->past + i)) : 0.f);
                p = expNeg(sc - L);
              }
              const float ds = uniform ? 0.f : p * (dr[c] - Dv[i]) * a->scale;
              pr[c] = p;
              dr[c] = ds;
              PT[c * QB + r] = p;
              dST[c * QB + r] = ds;
              any = any || p != 0.f;
            }
          }
          if (!any) continue;  // nothing of this block is visible to these queries
          pvBlock(dP, nq, nk, kh, a->kst, j0, dqh + static_cast<int64_t>(i0) * a->gqst, D, a->gqst);
          pvBlock(PT, nk, nq, gh, a->ost, i0, dvh + static_cast<int64_t>(j0) * a->gvst, D, a->gvst);
          pvBlock(dST, nk, nq, qh, a->qst, i0, dkh + static_cast<int64_t>(j0) * a->gkst, D, a->gkst);
        }
      }
    }
  }
}
#else
// One thread per (b, h): the dk/dv rows of a head belong to that thread, and
// every sum runs in a fixed order, so the result is thread-count independent.
// Keys are taken in blocks whose dk/dv accumulators stay in L1/L2 while all
// queries that see them stream past (the flash-attention-2 loop order).
static void attnBwd(const AttnArgs* a, const float* q, const float* k, const float* v, const float* o,
                    const float* lse, const float* dO, float* dq, float* dk, float* dv) {
  const int D = a->D, Tq = a->Tq, Tk = a->Tk;
  const int64_t tasks = static_cast<int64_t>(a->B) * a->H;
#pragma omp parallel
  {
    static thread_local Scratch scratch;
    float* Dv = scratch.get(static_cast<size_t>(Tq) + 2 * ATT_KB);  // D_i = <dO_i, o_i>
    float* p = Dv + Tq;
    float* ds = p + ATT_KB;
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      const int h = static_cast<int>(task % a->H);
      const int b = static_cast<int>(task / a->H);
      const float slope = a->slopes ? a->slopes[h] : 0.f;
      const float* qh = q + b * a->qsb + h * a->qsh;
      const float* kh = k + b * a->ksb + h * a->ksh;
      const float* vh = v + b * a->vsb + h * a->vsh;
      const int64_t oOff = b * a->osb + h * a->osh;
      const float* lh = lse + (static_cast<int64_t>(b) * a->H + h) * Tq;
      float* dqh = dq + b * a->gqsb + h * a->gqsh;
      float* dkh = dk + b * a->gksb + h * a->gksh;
      float* dvh = dv + b * a->gvsb + h * a->gvsh;
      for (int i = 0; i < Tq; i++) {
        Dv[i] = dotF(dO + oOff + static_cast<int64_t>(i) * a->ost, o + oOff + static_cast<int64_t>(i) * a->ost, D);
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
        // first query that can see key j0 under the causal mask
        const int iStart = a->causal && !a->queryMask ? (j0 - a->past > 0 ? j0 - a->past : 0) : 0;
        for (int i = iStart; i < Tq; i++) {
          const float L = lh[i];
          if (L == -INFINITY) continue;
          const float* qi = qh + static_cast<int64_t>(i) * a->qst;
          const float* gi = dO + oOff + static_cast<int64_t>(i) * a->ost;
          const int kEnd = keyLimit(a, i) - j0 < nk ? keyLimit(a, i) - j0 : nk;
          if (kEnd <= 0) continue;
          scoreRow(a, b, i, qi, kh, j0, kEnd, slope, p);
#pragma omp simd
          for (int c = 0; c < kEnd; c++) p[c] = expNeg(p[c] - L);
          const bool constantScores = uniformRow(a, b, i);  // no gradient reaches q or k
          for (int c = 0; c < kEnd; c++) {
            const float dp = p[c] == 0.f || constantScores ? 0.f : dotF(gi, vh + static_cast<int64_t>(j0 + c) * a->vst, D);
            ds[c] = constantScores ? 0.f : p[c] * (dp - Dv[i]) * a->scale;
          }
          float* dqi = dqh + static_cast<int64_t>(i) * a->gqst;
          for (int c = 0; c < kEnd; c++) {
            if (p[c] == 0.f) continue;
            const float pc = p[c], dc = ds[c];
            const float* kj = kh + static_cast<int64_t>(j0 + c) * a->kst;
            float* dkj = dkh + static_cast<int64_t>(j0 + c) * a->gkst;
            float* dvj = dvh + static_cast<int64_t>(j0 + c) * a->gvst;
#pragma omp simd
            for (int d = 0; d < D; d++) {
              dvj[d] += pc * gi[d];
              dqi[d] += dc * kj[d];
              dkj[d] += dc * qi[d];
            }
          }
        }
      }
    }
  }
}
#endif
