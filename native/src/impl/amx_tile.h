// The AMX tile operations the AMX kernels (gemm_amx.h, quant_amx.h) use, as
// macros with two implementations:
// - the `amx` build: the instructions themselves (ldtilecfg, tileloadd,
//   tilestored, tilezero, tdpbf16ps, tdpbssd, tilerelease);
// - the `amxemu` build (BAICHUAN2_AMX_EMULATE, test-only, never picked by the
//   dispatcher): plain C++ that does what the Intel SDM's pseudo-code for each
//   instruction says, on eight 1 KiB tiles per thread, so the harness holds the
//   AMX code path (packing, blocking, edges, scales) to the reference on any CPU.
// Tile numbers must be literals (the instructions encode them).
//
// What the emulation models, from the SDM (vol. 2, TDPBF16PS / TDPBSSD /
// TILELOADD, and vol. 1 ch. 18):
// - a tile has `rows` rows of `colsb` bytes from the palette-1 config loaded by
//   ldtilecfg (max 16 x 64); tileloadd reads row r from base + r * stride and
//   zeroes what lies past colsb and past rows; ldtilecfg zeroes every tile;
// - tdpbf16ps C += A B: each 32-bit element of A and B is a pair of bf16
//   (A: row m, k-pair k; B: row k, column n holds the pair for k-values 2k, 2k+1);
//   per row m the SDM keeps two f32 partial sums per column (even and odd
//   elements of the pairs), each an FMA chain over k with round-to-nearest-even
//   and DAZ/FTZ, then adds them and adds that to C (each step RNE, FTZ);
//   bf16 x bf16 products are exact in f32, so only the sums round;
// - tdpbssd C += A B on int8: each 32-bit element is 4 signed bytes; C gets the
//   sum of the 4 products per k, exact in int32 (wrapping, never reached here);
// - the shape rules that raise #UD on hardware (unconfigured tiles, A.colsb !=
//   4 * B.rows, C.colsb != B.colsb, C.rows != A.rows, colsb > 64) abort with a
//   message in the emulation, so a kernel that would fault on hardware fails
//   the tests here.
// The config (ldtilecfg) is per-thread state on hardware and here: every
// OpenMP worker loads it before its first tile op and releases it after.
// The emulated ops are out of line: one copy each (the build compiles faster; speed does not matter there).

struct alignas(64) AmxTileConfig {
  uint8_t palette = 1, startRow = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(AmxTileConfig) == 64, "ldtilecfg reads 64 bytes");

#if defined(BAICHUAN2_AMX_EMULATE)
namespace tileemu {

struct Tiles {
  bool configured = false;
  uint8_t rows[8] = {};
  uint16_t colsb[8] = {};
  alignas(64) uint8_t data[8][16][64] = {};
};
static thread_local Tiles tiles;

[[noreturn]] static void fault(const char* what, int t) {
  std::fprintf(stderr, "amxemu: %s (tile %d): the hardware would raise #UD here\n", what, t);
  std::abort();
}

static inline void check(int t) {
  if (!tiles.configured) fault("tile op before ldtilecfg", t);
  if (t < 0 || t > 7) fault("no such tile", t);
}

[[gnu::noinline]] static void loadConfig(const AmxTileConfig* c) {
  if (c->palette != 1) fault("palette other than 1", -1);
  for (int t = 0; t < 8; t++) {
    if (c->rows[t] > 16 || c->colsb[t] > 64) fault("tile shape beyond 16 rows x 64 bytes", t);
    tiles.rows[t] = c->rows[t];
    tiles.colsb[t] = c->colsb[t];
  }
  std::memset(tiles.data, 0, sizeof(tiles.data));
  tiles.configured = true;
}

[[gnu::noinline]] static void release() {
  std::memset(tiles.data, 0, sizeof(tiles.data));
  tiles.configured = false;
}

[[gnu::noinline]] static void load(int t, const void* base, int64_t stride) {
  check(t);
  std::memset(tiles.data[t], 0, sizeof(tiles.data[t]));
  for (int r = 0; r < tiles.rows[t]; r++)
    std::memcpy(tiles.data[t][r], static_cast<const uint8_t*>(base) + r * stride, tiles.colsb[t]);
}

[[gnu::noinline]] static void store(int t, void* base, int64_t stride) {
  check(t);
  for (int r = 0; r < tiles.rows[t]; r++)
    std::memcpy(static_cast<uint8_t*>(base) + r * stride, tiles.data[t][r], tiles.colsb[t]);
}

[[gnu::noinline]] static void zero(int t) {
  check(t);
  std::memset(tiles.data[t], 0, sizeof(tiles.data[t]));
}

static inline void checkDot(int c, int a, int b) {
  check(c); check(a); check(b);
  if (c == a || c == b || a == b) fault("tdp* with repeated tile operands", c);
  if (tiles.colsb[a] != 4 * tiles.rows[b]) fault("A.colsb != 4 * B.rows", a);
  if (tiles.colsb[c] != tiles.colsb[b]) fault("C.colsb != B.colsb", c);
  if (tiles.rows[c] != tiles.rows[a]) fault("C.rows != A.rows", c);
  if (tiles.colsb[c] % 4 || tiles.colsb[a] % 4) fault("colsb not a multiple of 4", c);
}

// Denormals are zero on input and flushed on output (DAZ = FTZ = 1).
static inline float ftz(float x) { return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x; }
static inline float bf16In(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return ftz(bf16ToFloat(h));
}

[[gnu::noinline]] static void dpbf16ps(int c, int a, int b) {
  checkDot(c, a, b);
  const int K = tiles.colsb[a] / 4, N = tiles.colsb[c] / 4;
  for (int m = 0; m < tiles.rows[c]; m++) {
    float even[16] = {}, odd[16] = {};
    for (int k = 0; k < K; k++)
      for (int n = 0; n < N; n++) {
        const uint8_t* ap = tiles.data[a][m] + 4 * k;
        const uint8_t* bp = tiles.data[b][k] + 4 * n;
        even[n] = ftz(std::fma(bf16In(ap), bf16In(bp), even[n]));
        odd[n] = ftz(std::fma(bf16In(ap + 2), bf16In(bp + 2), odd[n]));
      }
    for (int n = 0; n < N; n++) {
      float d;
      std::memcpy(&d, tiles.data[c][m] + 4 * n, 4);
      d = ftz(ftz(d) + ftz(even[n] + odd[n]));
      std::memcpy(tiles.data[c][m] + 4 * n, &d, 4);
    }
  }
}

[[gnu::noinline]] static void dpbssd(int c, int a, int b) {
  checkDot(c, a, b);
  const int K = tiles.colsb[a] / 4, N = tiles.colsb[c] / 4;
  for (int m = 0; m < tiles.rows[c]; m++)
    for (int n = 0; n < N; n++) {
      uint32_t d;
      std::memcpy(&d, tiles.data[c][m] + 4 * n, 4);
      for (int k = 0; k < K; k++) {
        const int8_t* ap = reinterpret_cast<const int8_t*>(tiles.data[a][m] + 4 * k);
        const int8_t* bp = reinterpret_cast<const int8_t*>(tiles.data[b][k] + 4 * n);
        int32_t s = 0;
        for (int i = 0; i < 4; i++) s += static_cast<int32_t>(ap[i]) * static_cast<int32_t>(bp[i]);
        d += static_cast<uint32_t>(s);  // two's-complement wrap, as the hardware
      }
      std::memcpy(tiles.data[c][m] + 4 * n, &d, 4);
    }
}

}  // namespace tileemu

#define AMX_CONFIG(cfg) tileemu::loadConfig(cfg)
#define AMX_RELEASE() tileemu::release()
#define AMX_LOAD(t, base, stride) tileemu::load(t, base, stride)
#define AMX_STORE(t, base, stride) tileemu::store(t, base, stride)
#define AMX_ZERO(t) tileemu::zero(t)
#define AMX_DPBF16PS(c, a, b) tileemu::dpbf16ps(c, a, b)
#define AMX_DPBSSD(c, a, b) tileemu::dpbssd(c, a, b)
#define AMX_KIND "emulated AMX tiles (test build)"
#else
#if !defined(__AMX_TILE__) || !defined(__AMX_BF16__) || !defined(__AMX_INT8__)
#error "the amx build needs -mamx-tile -mamx-bf16 -mamx-int8"
#endif
#define AMX_CONFIG(cfg) _tile_loadconfig(cfg)
#define AMX_RELEASE() _tile_release()
#define AMX_LOAD(t, base, stride) _tile_loadd(t, base, stride)
#define AMX_STORE(t, base, stride) _tile_stored(t, base, stride)
#define AMX_ZERO(t) _tile_zero(t)
#define AMX_DPBF16PS(c, a, b) _tile_dpbf16ps(c, a, b)
#define AMX_DPBSSD(c, a, b) _tile_dpbssd(c, a, b)
#define AMX_KIND "AMX tiles"
#endif

// Loads a config for the calling thread and releases it when the scope ends
// (tile state must not leak into code that does not expect it).
struct AmxScope {
  explicit AmxScope(const AmxTileConfig& c) { AMX_CONFIG(&c); }
  ~AmxScope() { AMX_RELEASE(); }
  AmxScope(const AmxScope&) = delete;
  AmxScope& operator=(const AmxScope&) = delete;
};
