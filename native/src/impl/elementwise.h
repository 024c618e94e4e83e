// Pointwise kernels: SiLU, fused SwiGLU, RoPE rotation, dtype conversion.
// silu(x) = x * sigmoid(x); swiglu(g, u) = silu(g) * u (the Baichuan MLP).
// References: src/engine/ref/activation.ts, src/engine/ref/rope.ts.

// expF instead of std::exp so the loops below vectorise (512 bits on the AVX-512 builds).
static inline float sigmoidF(float x) { return 1.0f / (1.0f + expF(-x)); }

static void siluFwd(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * sigmoidF(x[i]);
}

static void siluBwd(const float* x, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float s = sigmoidF(x[i]);
    dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
  }
}

static void swigluFwd(const float* g, const float* u, float* out, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; i++) out[i] = g[i] * sigmoidF(g[i]) * u[i];
}

static void swigluBwd(const float* g, const float* u, const float* dout, float* dg, float* du, int64_t n) {
#pragma omp parallel for simd schedule(static)
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
      // the branch hoisted out of the loops so each one vectorises (512 bits on the AVX-512 builds)
      if (!inverse) {
#pragma omp simd
        for (int i = 0; i < half; i++) {
          const float x1 = xr[i], x2 = xr[i + half];
          yr[i] = x1 * c[i] - x2 * s[i];
          yr[i + half] = x2 * c[i + half] + x1 * s[i + half];
        }
      } else {
#pragma omp simd
        for (int i = 0; i < half; i++) {
          const float x1 = xr[i], x2 = xr[i + half];
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

// Counter-based random numbers: element i depends only on (seed, i), through
// splitmix64, so a fill is identical on any thread count. Normals by
// Box-Muller in double from two 53-bit uniforms. Reference: src/engine/rng.ts
// (a different, sequential generator; the two are not meant to agree).
static inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static inline double unit53(uint64_t x) { return static_cast<double>(x >> 11) * (1.0 / 9007199254740992.0); }

static void randomFill(float* out, int64_t n, uint64_t seed, int normal, float a, float b) {
  const uint64_t key = splitmix64(seed);
#pragma omp parallel for schedule(static)
  for (int64_t pair = 0; pair < (n + 1) / 2; pair++) {
    const uint64_t r1 = splitmix64(key ^ (2 * static_cast<uint64_t>(pair)));
    const uint64_t r2 = splitmix64(key ^ (2 * static_cast<uint64_t>(pair) + 1));
    double x0, x1;
    if (normal) {
      const double u1 = 1.0 - unit53(r1), u2 = unit53(r2);  // u1 in (0, 1]
      const double r = std::sqrt(-2.0 * std::log(u1));
      x0 = a + b * r * std::cos(6.283185307179586 * u2);
      x1 = a + b * r * std::sin(6.283185307179586 * u2);
    } else {
      x0 = a + (b - a) * unit53(r1);
      x1 = a + (b - a) * unit53(r2);
    }
    out[2 * pair] = static_cast<float>(x0);
    if (2 * pair + 1 < n) out[2 * pair + 1] = static_cast<float>(x1);
  }
}

// Element-wise arithmetic, bit-identical to the TypeScript kernels of
// src/engine/cpu-kernels.ts (which the backend keeps for short arrays): one
// IEEE f32 operation per element (the TypeScript computes + - * / of two f32
// values in double and rounds once, which gives the same bits: double has more
// than 2 x 24 + 2 significand bits); maximum lets a NaN in a win; affine is
// computed in double and rounded once, with no FMA contraction (x * a is
// rounded to double before b is added, as in the TypeScript).
// op: 0 add, 1 sub, 2 mul, 3 div, 4 maximum.
static void binaryF32(int op, const float* a, const float* b, float* out, int64_t n) {
  switch (op) {
    case 0:
#pragma omp parallel for simd schedule(static) if (n >= 65536)
      for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
      return;
    case 1:
#pragma omp parallel for simd schedule(static) if (n >= 65536)
      for (int64_t i = 0; i < n; i++) out[i] = a[i] - b[i];
      return;
    case 2:
#pragma omp parallel for simd schedule(static) if (n >= 65536)
      for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i];
      return;
    case 3:
#pragma omp parallel for simd schedule(static) if (n >= 65536)
      for (int64_t i = 0; i < n; i++) out[i] = a[i] / b[i];
      return;
    default:
#pragma omp parallel for simd schedule(static) if (n >= 65536)
      for (int64_t i = 0; i < n; i++) {
        const float x = a[i], y = b[i];
        out[i] = (x >= y || x != x) ? x : y;
      }
      return;
  }
}

__attribute__((optimize("fp-contract=off"))) static void affineF32(const float* x, double a, double b, float* out, int64_t n) {
  if (b == 0.0) {
#pragma omp parallel for simd schedule(static) if (n >= 65536)
    for (int64_t i = 0; i < n; i++) out[i] = static_cast<float>(static_cast<double>(x[i]) * a);
  } else {
#pragma omp parallel for simd schedule(static) if (n >= 65536)
    for (int64_t i = 0; i < n; i++) {
      const double p = static_cast<double>(x[i]) * a;
      out[i] = static_cast<float>(p + b);
    }
  }
}
