// Fused AdamW over fp32 master weights (decoupled weight decay, as
// torch.optim.AdamW): p -= lr * wd * p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr * (m / bc1) / (sqrt(v / bc2) + eps). Optionally writes the bf16
// working copy of p in the same pass. Reference: src/engine/ref/optim.ts.

static void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float wd, float bc1, float bc2, uint16_t* pBf16) {
  const float decay = 1.0f - lr * wd;
  const float stepSize = lr / bc1;
  const float bc2Sqrt = std::sqrt(bc2);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / bc2Sqrt + eps;
    const float pi = p[i] * decay - stepSize * mi / denom;
    p[i] = pi;
    if (pBf16) pBf16[i] = floatToBf16(pi);
  }
}

static double sumsq(const float* x, int64_t n) {
  const int64_t chunks = fixedChunks(n, 4096);
  double partial[64];
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < chunks; ch++) {
    const int64_t i0 = n * ch / chunks, i1 = n * (ch + 1) / chunks;
    double s = 0;
    for (int64_t i = i0; i < i1; i++) s += static_cast<double>(x[i]) * x[i];
    partial[ch] = s;
  }
  double total = 0;
  for (int64_t ch = 0; ch < chunks; ch++) total += partial[ch];
  return total;
}
