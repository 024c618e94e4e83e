// Row softmax / log-softmax and the fused cross-entropy with the max-z term.
// Cross-entropy never materialises probabilities in the forward pass: one
// sweep finds the row max, a second accumulates sum(exp(x - max)) in double;
// the backward writes softmax - onehot directly into dlogits.
// References: src/engine/ref/softmax.ts, src/engine/ref/loss.ts.

static void softmaxFwd(const float* x, float* y, int64_t rows, int cols, int logOut) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float mx = -INFINITY;
    for (int c = 0; c < cols; c++) mx = maxF(mx, xr[c]);
    double sum = 0;
    for (int c = 0; c < cols; c++) sum += std::exp(static_cast<double>(xr[c] - mx));
    if (logOut) {
      const float lse = static_cast<float>(std::log(sum));
      for (int c = 0; c < cols; c++) yr[c] = (xr[c] - mx) - lse;
    } else {
      const double inv = 1.0 / sum;
      for (int c = 0; c < cols; c++) yr[c] = static_cast<float>(std::exp(static_cast<double>(xr[c] - mx)) * inv);
    }
  }
}

// softmax: dx = y * (dy - <dy, y>); log-softmax: dx = dy - exp(y) * sum(dy).
static void softmaxBwd(const float* y, const float* dy, float* dx, int64_t rows, int cols, int logOut) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    float* dr = dx + r * cols;
    double acc = 0;
    if (logOut) {
      for (int c = 0; c < cols; c++) acc += gr[c];
      const float s = static_cast<float>(acc);
      for (int c = 0; c < cols; c++) dr[c] = gr[c] - std::exp(yr[c]) * s;
    } else {
      for (int c = 0; c < cols; c++) acc += static_cast<double>(gr[c]) * yr[c];
      const float s = static_cast<float>(acc);
      for (int c = 0; c < cols; c++) dr[c] = yr[c] * (gr[c] - s);
    }
  }
}

static void xentFwd(const float* logits, const int32_t* targets, int64_t rows, int cols, int ignoreIndex,
                    float* loss, float* lse, float* maxv, int32_t* argmax) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = logits + r * cols;
    // the max as a vector reduction (exact: max is order-free), then its first index
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int c = 0; c < cols; c++) mx = xr[c] > mx ? xr[c] : mx;
    int am = 0;
    while (am < cols && !(xr[am] == mx)) am++;
    if (am == cols) am = 0;  // no element above -inf (all -inf or NaN): index 0, as the scalar scan gave
    // exp in f32 (vectorised, a few ulps), the sum in double over fixed blocks
    double sum = 0;
    for (int c0 = 0; c0 < cols; c0 += 256) {
      const int c1 = c0 + 256 < cols ? c0 + 256 : cols;
      float part = 0.f;
#pragma omp simd reduction(+ : part)
      for (int c = c0; c < c1; c++) part += expNeg(xr[c] - mx);
      sum += part;
    }
    const double l = static_cast<double>(mx) + std::log(sum);
    lse[r] = static_cast<float>(l);
    maxv[r] = mx;
    argmax[r] = am;
    const int t = targets[r];
    loss[r] = t == ignoreIndex ? 0.f : static_cast<float>(l - xr[t]);
  }
}

static void xentBwd(const float* logits, const int32_t* targets, const float* lse, const int32_t* argmax,
                    const float* gCe, const float* gZ, float* dlogits, int64_t rows, int cols, int ignoreIndex) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = logits + r * cols;
    float* dr = dlogits + r * cols;
    const int t = targets[r];
    const float g = t == ignoreIndex ? 0.f : gCe[r];
    const float l = lse[r];
    if (g != 0.f) {
#pragma omp simd
      for (int c = 0; c < cols; c++) dr[c] = g * expNeg(xr[c] - l);
      dr[t] -= g;
    } else {
      for (int c = 0; c < cols; c++) dr[c] = 0.f;
    }
    if (gZ) dr[argmax[r]] += gZ[r];
  }
}
