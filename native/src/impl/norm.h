// RMSNorm and L2 row normalisation (NormHead). Statistics are accumulated in
// double from fp32 inputs: at least as exact as PyTorch's fp32 mean, and the
// same on any thread count (each row belongs to one thread; the weight
// gradient is reduced over fixed row chunks in chunk order).
// References: src/engine/ref/norm.ts.

static void rmsnormFwd(const float* x, const float* w, float* y, float* rstd, int64_t rows, int cols, float eps) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int c = 0; c < cols; c++) ss += static_cast<double>(xr[c]) * xr[c];
    // fp32 like the official code: var in fp32, rsqrt(var + eps) in fp32.
    const float var = static_cast<float>(ss / cols);
    const float rs = 1.0f / std::sqrt(var + eps);
    rstd[r] = rs;
    for (int c = 0; c < cols; c++) yr[c] = (xr[c] * rs) * w[c];
  }
}

static void rmsnormBwd(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw,
                       int64_t rows, int cols) {
  const int64_t chunks = fixedChunks(rows, 16);
  double* partial = static_cast<double*>(std::calloc(static_cast<size_t>(chunks) * cols, sizeof(double)));
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < chunks; ch++) {
    const int64_t r0 = rows * ch / chunks, r1 = rows * (ch + 1) / chunks;
    double* pw = partial + ch * cols;
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      const float* gr = dy + r * cols;
      const float rs = rstd[r];
      double dot = 0;  // sum_c dy*w*x
      for (int c = 0; c < cols; c++) {
        dot += static_cast<double>(gr[c]) * w[c] * xr[c];
        pw[c] += static_cast<double>(gr[c]) * xr[c] * rs;
      }
      const float k = static_cast<float>(dot / cols) * rs * rs * rs;
      float* dr = dx + r * cols;
      for (int c = 0; c < cols; c++) dr[c] = gr[c] * w[c] * rs - xr[c] * k;
    }
  }
  for (int c = 0; c < cols; c++) {
    double s = 0;
    for (int64_t ch = 0; ch < chunks; ch++) s += partial[ch * cols + c];
    dw[c] += static_cast<float>(s);
  }
  std::free(partial);
}

static void l2normFwd(const float* x, float* y, float* norm, int64_t rows, int cols, float eps) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    double ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int c = 0; c < cols; c++) ss += static_cast<double>(xr[c]) * xr[c];
    const float n = static_cast<float>(std::sqrt(ss));
    norm[r] = n;
    const float d = n > eps ? n : eps;
    float* yr = y + r * cols;
    for (int c = 0; c < cols; c++) yr[c] = xr[c] / d;
  }
}

// y = x / max(n, eps): when n > eps, dx = (dy - y * <dy, y>) / n; else dx = dy / eps.
static void l2normBwd(const float* y, const float* norm, const float* dy, float* dx, int64_t rows, int cols,
                      float eps) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    float* dr = dx + r * cols;
    const float n = norm[r];
    if (n > eps) {
      double dot = 0;
      for (int c = 0; c < cols; c++) dot += static_cast<double>(gr[c]) * yr[c];
      const float fd = static_cast<float>(dot);
      for (int c = 0; c < cols; c++) dr[c] = (gr[c] - yr[c] * fd) / n;
    } else {
      for (int c = 0; c < cols; c++) dr[c] = gr[c] / eps;
    }
  }
}
