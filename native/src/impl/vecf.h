// A small f32 vector layer for register-blocked kernels written once for every
// build: VecF::V holds W floats, VecF::M says which lanes of a partial vector
// are live (loads zero the others, stores leave them alone). AVX-512: zmm with
// mask registers; AVX2: ymm with maskload/maskstore; the baseline build: GCC
// vector extensions of 4 floats (SSE2 code, no header needed), partial vectors
// lane by lane; sum(v) adds the lanes (in a fixed order), hmax(v) is their maximum. RB x CB is the register block (rows x vectors of
// accumulators) that fits the build's register file with its operands:
// 6 x 4 of 32 zmm (24 accumulators, 4 operand vectors, 1 broadcast), 6 x 2 of 16 ymm (BLIS's Haswell shape), 4 x 2 of 16 xmm.
// Included inside an arch namespace, after the arch's intrinsics headers.

#if defined(__AVX512F__)
struct VecF {
  using V = __m512;
  using M = __mmask16;
  static constexpr int W = 16, RB = 6, CB = 4;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static M mask(int n) { return n >= 16 ? 0xffff : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1); }
  static V loadM(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static void storeM(float* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static float sum(V v) { return _mm512_reduce_add_ps(v); }
  static float hmax(V v) { return _mm512_reduce_max_ps(v); }
};
#elif defined(__AVX2__) && defined(__FMA__)
struct VecF {
  using V = __m256;
  using M = __m256i;
  static constexpr int W = 8, RB = 6, CB = 2;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static M mask(int n) {
    alignas(64) static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    const int c = n >= 8 ? 8 : n <= 0 ? 0 : n;
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ones + 8 - c));
  }
  static V loadM(const float* p, M m) { return _mm256_maskload_ps(p, m); }
  static void storeM(float* p, M m, V v) { _mm256_maskstore_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static float hmax(V v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps(s, s, 1)));
  }
  static float sum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
  }
};
#else
struct VecF {
  typedef float V __attribute__((vector_size(16)));
  using M = int;  // live lanes: 0 .. 4
  static constexpr int W = 4, RB = 4, CB = 2;
  static V zero() { return V{0.f, 0.f, 0.f, 0.f}; }
  static V set1(float x) { return V{x, x, x, x}; }
  static V load(const float* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store(float* p, V v) { std::memcpy(p, &v, sizeof v); }
  static M mask(int n) { return n >= 4 ? 4 : n <= 0 ? 0 : n; }
  static V loadM(const float* p, M m) {
    if (m == 4) return load(p);
    V v = zero();
    for (int i = 0; i < m; i++) v[i] = p[i];
    return v;
  }
  static void storeM(float* p, M m, V v) {
    if (m == 4) return store(p, v);
    for (int i = 0; i < m; i++) p[i] = v[i];
  }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V add(V a, V b) { return a + b; }
  static V max(V a, V b) { return a > b ? a : b; }
  static float sum(V v) { return (v[0] + v[2]) + (v[1] + v[3]); }
  static float hmax(V v) {
    const float a = v[0] > v[2] ? v[0] : v[2], b = v[1] > v[3] ? v[1] : v[3];
    return a > b ? a : b;
  }
};
#endif
