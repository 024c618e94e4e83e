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
