// Helpers shared by the kernel sources. Included inside an arch namespace
// (bc::generic or bc::avx2), so every function here is compiled per arch.

static inline float bf16ToFloat(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, NaN kept quiet: the same rule as PyTorch's c10::BFloat16.
static inline uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

static inline float loadAs(const void* p, int type, int64_t i) {
  return type == kF32 ? static_cast<const float*>(p)[i] : bf16ToFloat(static_cast<const uint16_t*>(p)[i]);
}

static inline int64_t minI64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline float maxF(float a, float b) { return a > b ? a : b; }

// Work is split into fixed chunks whose count does not depend on the thread
// count, and partial results are combined in chunk order: this is what makes
// reductions give the same bits on 1, 2 or 16 threads.
static inline int64_t fixedChunks(int64_t n, int64_t minPerChunk) {
  int64_t c = n / minPerChunk;
  if (c < 1) c = 1;
  if (c > 64) c = 64;
  return c;
}

static inline void* alignedAlloc(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  return std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
}

// A grow-only scratch buffer owned by one thread (never shared), released at thread exit.
struct Scratch {
  float* p = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      p = static_cast<float*>(alignedAlloc(n * sizeof(float)));
      cap = n;
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};

// exp(xc) for xc already clamped to [-87.3, 88.3]: n = round(xc / ln 2) by the
// 1.5 * 2^23 trick (vectorises, unlike nearbyint), r = xc - n ln 2 in two parts
// (Cody-Waite), a degree-6 polynomial on [-ln2/2, ln2/2], scaled by 2^n built
// in the exponent bits. Relative error below 2e-7 (a few f32 ulps).
static inline float expClamped(float xc) {
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}

// exp(x) for x <= 0 (softmax arguments), branch-free so loops over it
// vectorise. Returns 0 for x < -87.3 (including -inf), where the true value is
// below FLT_MIN.
static inline float expNeg(float x) {
  const float xc = x < -87.3f ? -87.3f : x;
  return x < -87.3f ? 0.0f : expClamped(xc);
}

// exp(x) on the whole f32 range, branch-free like expNeg (so loops vectorise
// at the build's width): 0 below -87.3, +inf above 88.3.
static inline float expF(float x) {
  const float xc = x < -87.3f ? -87.3f : x > 88.3f ? 88.3f : x;
  return x < -87.3f ? 0.0f : x > 88.3f ? INFINITY : expClamped(xc);
}
