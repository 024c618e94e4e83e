// The kernel table: every native kernel, as a plain C function pointer.
// One table per build (arch_*.cc), all built from the same sources in impl/;
// addon.cc picks one at load time. Nothing here knows about
// N-API or about the model: arrays are contiguous unless a stride says
// otherwise, sizes are validated by the caller (addon.cc).
#pragma once
#include <cstdint>

namespace bc {

// The most dims copyStrided takes.
constexpr int kCopyMaxDims = 16;

// Element types a kernel can read. Outputs are always f32 unless stated.
enum ElemType : int { kF32 = 0, kBF16 = 1 };

struct AttnArgs {
  int B, H, Tq, Tk, D;
  int64_t qsb, qsh, qst;   // strides of q (elements); last dim contiguous
  int64_t ksb, ksh, kst;
  int64_t vsb, vsh, vst;
  int64_t osb, osh, ost;   // strides of o
  int64_t gosb, gosh, gost; // strides of dO (backward only)
  int64_t gqsb, gqsh, gqst; // strides of dq, dk, dv (backward only)
  int64_t gksb, gksh, gkst;
  int64_t gvsb, gvsh, gvst;
  int past;                // absolute position of query 0 (KV-cache offset)
  int causal;              // 1: key j visible to query i iff j <= past + i
  float scale;             // usually 1/sqrt(D)
  const float* slopes;     // [H] ALiBi slopes or nullptr
  const int32_t* keyMask;  // [B, Tk], 0 = padding key, or nullptr
  // [B, Tq] or nullptr: a 0 marks a padding query that attends uniformly to all
  // Tk keys (what the official 13B code's dtype-min mask and clamp amount to).
  const int32_t* queryMask;
};

// A quantised Linear of a decode layer: W [N, K] codes and f16 scales (impl/quant.h layout).
struct QLinear {
  const uint8_t* q;
  const uint16_t* scales;
  int N, K, G, bits;
};

// One decoder layer of a batch-1, one-token decode step (impl/decode.h): the
// arithmetic of the composed layer (src/model/layers.ts) op for op, including
// where that path rounds activations to bf16.
struct DecodeLayerArgs {
  int C, H, D, F;           // hidden, heads, head dim, ffn
  int Tk;                   // keys after this token: the token is written at cache row Tk - 1
  int bf16;                 // 1: the norm weights are bf16, so normed values and the products fed by them round to bf16
  float eps;
  const float* norm1;       // [C] input_layernorm weight (values)
  const float* norm2;       // [C] post_attention_layernorm weight
  QLinear wpack, oproj, gate, up, down;
  const float* cos;         // [D] RoPE table row of this position, or nullptr (ALiBi)
  const float* sin;
  const float* slopes;      // [H] ALiBi slopes, or nullptr
  float* kCache;            // [H][capacity][D] (one batch row)
  float* vCache;
  int64_t headStride;       // capacity * D
  float* h;                 // [C] the residual stream, updated in place
};

// What a build does differently from the baseline (the harness picks its reference by these).
enum Caps : int {
  kCapBf16Dot = 1,    // bf16 x bf16 GEMM multiplies in bf16 (vdpbf16ps), not widened to f32
  kCapInt8Gemm = 2,   // quantised products with M > 8 quantise activations to int8 (as M <= 8 does)
};

struct KernelTable {
  const char* name;
  int caps;
  // C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b], row-major, op = transpose if trans*.
  void (*gemm)(int transA, int transB, int M, int N, int K, float alpha,
               const void* A, int typeA, int64_t lda, int64_t strideA,
               const void* B, int typeB, int64_t ldb, int64_t strideB,
               float beta, float* C, int64_t ldc, int64_t strideC, int batch);
  // y = x * rsqrt(mean(x^2) + eps) * w; rstd[r] saved for backward.
  void (*rmsnormFwd)(const float* x, const float* w, float* y, float* rstd, int64_t rows, int cols, float eps);
  // dx, and dw accumulated (+=) from fixed row chunks in a fixed order.
  void (*rmsnormBwd)(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw,
                     int64_t rows, int cols);
  // y = x / max(||x||_2, eps) per row; norm[r] saved.
  void (*l2normFwd)(const float* x, float* y, float* norm, int64_t rows, int cols, float eps);
  void (*l2normBwd)(const float* y, const float* norm, const float* dy, float* dx, int64_t rows, int cols, float eps);
  void (*swigluFwd)(const float* gate, const float* up, float* out, int64_t n);
  void (*swigluBwd)(const float* gate, const float* up, const float* dout, float* dgate, float* dup, int64_t n);
  void (*siluFwd)(const float* x, float* y, int64_t n);
  void (*siluBwd)(const float* x, const float* dy, float* dx, int64_t n);
  // Rotate-half RoPE on x viewed as [B, T, H, D] with strides; cos/sin are [B*T, D] rows (fp32).
  // inverse = 1 applies the transpose rotation (the backward pass).
  void (*rope)(const float* x, float* y, int B, int T, int H, int D, int64_t sb, int64_t st, int64_t sh,
               const float* cos, const float* sin, int inverse);
  void (*softmaxFwd)(const float* x, float* y, int64_t rows, int cols, int logOut);
  void (*softmaxBwd)(const float* y, const float* dy, float* dx, int64_t rows, int cols, int logOut);
  // Per row: lse, max, argmax of logits; loss_r = lse - x[target] (0 when ignored).
  void (*xentFwd)(const float* logits, const int32_t* targets, int64_t rows, int cols, int ignoreIndex,
                  float* loss, float* lse, float* maxv, int32_t* argmax);
  // dlogits = gCe[r] * (softmax - onehot(target)) + gZ[r] * onehot(argmax); gCe/gZ per row.
  void (*xentBwd)(const float* logits, const int32_t* targets, const float* lse, const int32_t* argmax,
                  const float* gCe, const float* gZ, float* dlogits, int64_t rows, int cols, int ignoreIndex);
  // Flash-style attention: o [B,H,Tq,D] (strided), lse [B,H,Tq].
  void (*attnFwd)(const AttnArgs* a, const float* q, const float* k, const float* v, float* o, float* lse);
  // dq, dk, dv are overwritten, laid out by the g*s strides.
  void (*attnBwd)(const AttnArgs* a, const float* q, const float* k, const float* v, const float* o,
                  const float* lse, const float* dO, float* dq, float* dk, float* dv);
  // Fused AdamW on fp32 master weights: m, v updated; optional bf16 copy written.
  void (*adamw)(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                float eps, float wd, float bc1, float bc2, uint16_t* pBf16);
  // sum of squares in double over fixed chunks (thread-count independent).
  double (*sumsq)(const float* x, int64_t n);
  void (*bf16ToF32)(const uint16_t* x, float* y, int64_t n);
  void (*f32ToBf16)(const float* x, uint16_t* y, int64_t n);
  // normal (mean a, std b) or uniform [a, b) numbers; element i depends only on (seed, i).
  void (*randomFill)(float* out, int64_t n, uint64_t seed, int normal, float a, float b);
  // Weight-only quantisation (impl/quant.h has the layout): w [N, K] f32/bf16 -> q + f16 scales [N, K/G].
  void (*quantizeRows)(const void* w, int type, int64_t N, int K, int G, int bits, uint8_t* q, uint16_t* scales);
  void (*dequantizeRows)(const uint8_t* q, const uint16_t* scales, int64_t N, int K, int G, int bits, float* out);
  // y [M, N] = x [M, K] * W^T with W quantised.
  void (*qmatmul)(const float* x, int M, int K, const uint8_t* q, const uint16_t* scales, int N, int G, int bits, float* y);
  // Reads n bytes on all threads (bandwidth benchmark); returns a checksum so the reads are not elided.
  double (*readBytes)(const void* p, int64_t n);
  // Which bf16 x bf16 GEMM runs (0 widen to f32 + FMA, 1 vdpbf16ps, 2 AMX tiles; impl/bf16_variant.h):
  // set < 0 queries, 0..2 forces, 3 decides again (calibration / AMX); returns the active one, -1 if
  // this build lacks `set`; *why (if given) receives the reason, valid until the next call.
  int (*bf16Gemm)(int set, const char** why);
  // One decoder layer of a batch-1 decode step with quantised Linears (see DecodeLayerArgs).
  void (*decodeLayer)(const DecodeLayerArgs* a);
  // out = a op b element-wise (op 0 add, 1 sub, 2 mul, 3 div, 4 maximum), the bits of src/engine/cpu-kernels.ts.
  void (*binary)(int op, const float* a, const float* b, float* out, int64_t n);
  // out = x * a + b computed in double, rounded once (out may be x).
  void (*affine)(const float* x, double a, double b, float* out, int64_t n);
  // The values of an n-d view (ndim <= 16, element strides, 0 for a broadcast dim) into another view of
  // the same shape; elements of elemBytes = 2 or 4 copied as raw bits; the views must not overlap.
  void (*copyStrided)(const void* src, void* dst, int elemBytes, int ndim, const int64_t* shape, const int64_t* srcStrides,
                      const int64_t* dstStrides);
};

namespace generic { extern const KernelTable table; }
namespace avx2 { extern const KernelTable table; }
namespace avx2vnni { extern const KernelTable table; }
namespace avx512 { extern const KernelTable table; }
namespace avx512vnni { extern const KernelTable table; }
namespace avx512bf16 { extern const KernelTable table; }
namespace amx { extern const KernelTable table; }
namespace amxemu { extern const KernelTable table; }

}  // namespace bc
