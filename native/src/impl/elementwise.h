// Pointwise kernels: SiLU, fused SwiGLU, RoPE rotation, dtype conversion.
// silu(x) = x * sigmoid(x); swiglu(g, u) = silu(g) * u (the Baichuan MLP).
// References: src/engine/ref/activation.ts, src/engine/ref/rope.ts.

static inline float sigmoidF(float x) { return 1.0f / (1.0f + std::exp(-x)); }

static void siluFwd(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * sigmoidF(x[i]);
}

static void siluBwd(const float* x, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float s = sigmoidF(x[i]);
    dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
  }
}

static void swigluFwd(const float* g, const float* u, float* out, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) out[i] = g[i] * sigmoidF(g[i]) * u[i];
}

static void swigluBwd(const float* g, const float* u, const float* dout, float* dg, float* du, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float s = sigmoidF(g[i]);
    const float silu = g[i] * s;
    du[i] = dout[i] * silu;
    dg[i] = dout[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
  }
}

// Rotate-half RoPE: y = x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1].
// The transpose (backward): dx = dy * cos + rotate_half^T(dy * sin), rotate_half^T(z) = [z2, -z1].
static void rope(const float* x, float* y, int B, int T, int H, int D, int64_t sb, int64_t st, int64_t sh,
                 const float* cos, const float* sin, int inverse) {
  const int half = D / 2;
  const int64_t BT = static_cast<int64_t>(B) * T;
#pragma omp parallel for schedule(static)
  for (int64_t bt = 0; bt < BT; bt++) {
    const int64_t b = bt / T, t = bt % T;
    const float* c = cos + bt * D;
    const float* s = sin + bt * D;
    for (int h = 0; h < H; h++) {
      const float* xr = x + b * sb + t * st + h * sh;
      float* yr = y + ((bt * H) + h) * D;  // output is contiguous [B, T, H, D]
      for (int i = 0; i < half; i++) {
        const float x1 = xr[i], x2 = xr[i + half];
        if (!inverse) {
          yr[i] = x1 * c[i] - x2 * s[i];
          yr[i + half] = x2 * c[i + half] + x1 * s[i + half];
        } else {
          yr[i] = x1 * c[i] + x2 * s[i + half];
          yr[i + half] = x2 * c[i + half] - x1 * s[i];
        }
      }
    }
  }
}

static void bf16ToF32(const uint16_t* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = bf16ToFloat(x[i]);
}

static void f32ToBf16(const float* x, uint16_t* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = floatToBf16(x[i]);
}
