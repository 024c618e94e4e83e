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

static inline bool keyVisible(const AttnArgs* a, int b, int i, int j) {
  if (a->causal && j > a->past + i) return false;
  if (a->keyMask && a->keyMask[static_cast<int64_t>(b) * a->Tk + j] == 0) return false;
  return true;
}

// Number of keys a query block can possibly see (causal bound), for loop limits.
static inline int keyLimit(const AttnArgs* a, int iLast) {
  if (!a->causal) return a->Tk;
  const int lim = a->past + iLast + 1;
  return lim < a->Tk ? lim : a->Tk;
}

constexpr int ATT_QB = 16;
constexpr int ATT_KB = 64;

static void attnFwd(const AttnArgs* a, const float* q, const float* k, const float* v, float* o, float* lse) {
  const int D = a->D, Tq = a->Tq;
  const int qBlocks = (Tq + ATT_QB - 1) / ATT_QB;
  const int64_t tasks = static_cast<int64_t>(a->B) * a->H * qBlocks;
#pragma omp parallel
  {
    static thread_local Scratch scratch;
    float* acc = scratch.get(static_cast<size_t>(ATT_QB) * D + 3 * ATT_QB + ATT_QB * ATT_KB);
    float* m = acc + ATT_QB * D;
    float* l = m + ATT_QB;
    float* s = l + ATT_QB;  // [ATT_QB, ATT_KB] scores of one key block
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
          const float* qi = qh + static_cast<int64_t>(i) * a->qst;
          float* sr = s + r * ATT_KB;
          float rowMax = -INFINITY;
          for (int c = 0; c < nk; c++) {
            const int j = j0 + c;
            float sc = -INFINITY;
            if (keyVisible(a, b, i, j)) {
              sc = dotF(qi, kh + static_cast<int64_t>(j) * a->kst, D) * a->scale;
              if (a->slopes) sc += slope * static_cast<float>(j - (a->past + i));
            }
            sr[c] = sc;
            rowMax = maxF(rowMax, sc);
          }
          if (rowMax == -INFINITY) continue;  // nothing visible in this block
          const float mNew = maxF(m[r], rowMax);
          const float corr = m[r] == -INFINITY ? 0.f : std::exp(m[r] - mNew);
          float* ar = acc + r * D;
          if (corr != 1.f)
            for (int d = 0; d < D; d++) ar[d] *= corr;
          float sum = 0.f;
          for (int c = 0; c < nk; c++) {
            if (sr[c] == -INFINITY) continue;
            const float p = std::exp(sr[c] - mNew);
            sum += p;
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

// One thread per (b, h): dk and dv rows of a head are owned by that thread, so
// the sums over queries run in a fixed order whatever the thread count.
static void attnBwd(const AttnArgs* a, const float* q, const float* k, const float* v, const float* o,
                    const float* lse, const float* dO, float* dq, float* dk, float* dv) {
  const int D = a->D, Tq = a->Tq, Tk = a->Tk;
  const int64_t tasks = static_cast<int64_t>(a->B) * a->H;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t task = 0; task < tasks; task++) {
    const int h = static_cast<int>(task % a->H);
    const int b = static_cast<int>(task / a->H);
    const float slope = a->slopes ? a->slopes[h] : 0.f;
    const float* qh = q + b * a->qsb + h * a->qsh;
    const float* kh = k + b * a->ksb + h * a->ksh;
    const float* vh = v + b * a->vsb + h * a->vsh;
    const int64_t oOff = b * a->osb + h * a->osh;
    float* dqh = dq + b * a->gqsb + h * a->gqsh;
    float* dkh = dk + b * a->gksb + h * a->gksh;
    float* dvh = dv + b * a->gvsb + h * a->gvsh;
    for (int j = 0; j < Tk; j++)
      for (int d = 0; d < D; d++) {
        dkh[static_cast<int64_t>(j) * a->gkst + d] = 0.f;
        dvh[static_cast<int64_t>(j) * a->gvst + d] = 0.f;
      }
    for (int i = 0; i < Tq; i++) {
      const float* qi = qh + static_cast<int64_t>(i) * a->qst;
      const float* oi = o + oOff + static_cast<int64_t>(i) * a->ost;
      const float* gi = dO + oOff + static_cast<int64_t>(i) * a->ost;
      float* dqi = dqh + static_cast<int64_t>(i) * a->gqst;
      for (int d = 0; d < D; d++) dqi[d] = 0.f;
      const float L = lse[(static_cast<int64_t>(b) * a->H + h) * Tq + i];
      if (L == -INFINITY) continue;
      const float Di = dotF(gi, oi, D);
      const int jEnd = keyLimit(a, i);
      for (int j = 0; j < jEnd; j++) {
        if (!keyVisible(a, b, i, j)) continue;
        const float* kj = kh + static_cast<int64_t>(j) * a->kst;
        const float* vj = vh + static_cast<int64_t>(j) * a->vst;
        float sc = dotF(qi, kj, D) * a->scale;
        if (a->slopes) sc += slope * static_cast<float>(j - (a->past + i));
        const float p = std::exp(sc - L);
        const float dp = dotF(gi, vj, D);
        const float ds = p * (dp - Di) * a->scale;
        float* dkj = dkh + static_cast<int64_t>(j) * a->gkst;
        float* dvj = dvh + static_cast<int64_t>(j) * a->gvst;
#pragma omp simd
        for (int d = 0; d < D; d++) {
          dvj[d] += p * gi[d];
          dqi[d] += ds * kj[d];
          dkj[d] += ds * qi[d];
        }
      }
    }
  }
}
