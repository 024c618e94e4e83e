// N-API surface of the native kernels. Every entry point validates its
// arguments (types, sizes, strides against array lengths) and throws a JS
// error naming the kernel, so bad input can never read or write out of
// bounds. Arrays are caller-owned TypedArrays (their ArrayBuffers are GC'd);
// the addon keeps no pointers after a call returns.
#include <napi.h>
#include <omp.h>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>
#include "args.h"
#include "dispatch.h"
#include "kernels.h"

namespace bc {
void registerQuantEntries(Napi::Env env, Napi::Object exports);  // addon_quant.cc
}

namespace {

using namespace bc;
using namespace bc::args;

// The bf16 x bf16 GEMM variants (KernelTable::bf16Gemm), by index; "auto" decides again.
const char* const kBf16Variants[] = {"widen", "dot", "amx", "auto"};

int bf16VariantIndex(const std::string& name) {
  for (int i = 0; i < 4; i++)
    if (name == kBf16Variants[i]) return i;
  return -1;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("arch", dispatch::active()->name);
  o.Set("best", dispatch::best()->name);
  o.Set("threads", omp_get_max_threads());
  Napi::Object caps = Napi::Object::New(env);
  const char* why = "";
  const int variant = dispatch::active()->bf16Gemm(-1, &why);
  caps.Set("bf16Dot", variant != 0);
  caps.Set("int8Gemm", (dispatch::active()->caps & bc::kCapInt8Gemm) != 0);
  o.Set("caps", caps);
  Napi::Object bf = Napi::Object::New(env);
  bf.Set("variant", kBf16Variants[variant]);
  bf.Set("why", why);
  o.Set("bf16Gemm", bf);
  Napi::Array builds = Napi::Array::New(env), supported = Napi::Array::New(env);
  uint32_t nb = 0, ns = 0;
  int count = 0;
  const dispatch::Build* all = dispatch::builds(&count);
  for (int i = 0; i < count; i++) {
    builds.Set(nb++, all[i].table->name);
    if (all[i].supported(dispatch::features())) supported.Set(ns++, all[i].table->name);
  }
  o.Set("builds", builds);
  o.Set("supported", supported);
  Napi::Object f = Napi::Object::New(env);
  const dispatch::Features& k = dispatch::features();
  const std::pair<const char*, bool> bits[] = {
      {"avx", k.avx}, {"avx2", k.avx2}, {"fma", k.fma}, {"f16c", k.f16c}, {"avx512f", k.avx512f}, {"avx512bw", k.avx512bw},
      {"avx512vl", k.avx512vl}, {"avx512dq", k.avx512dq}, {"avx512cd", k.avx512cd}, {"avx512vnni", k.avx512vnni},
      {"avx512bf16", k.avx512bf16}, {"avx512fp16", k.avx512fp16}, {"avxvnni", k.avxvnni}, {"amxTile", k.amxTile},
      {"amxBf16", k.amxBf16}, {"amxInt8", k.amxInt8}, {"osYmm", k.osYmm}, {"osZmm", k.osZmm}, {"osAmx", k.osAmx}, {"amxPerm", k.amxPerm}};
  for (const auto& kv : bits) f.Set(kv.first, kv.second);
  o.Set("features", f);
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = dimArg(info, 0, "setThreads", "threads");
  if (n < 1 || n > 1024) fail(info.Env(), "setThreads", "threads must be in 1..1024");
  omp_set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value SetArch(const Napi::CallbackInfo& info) {
  const std::string name = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  const std::string err = dispatch::selectBuild(name);
  if (!err.empty()) fail(info.Env(), "setArch", err);
  return info.Env().Undefined();
}

// setBf16Gemm(name): forces the bf16 GEMM variant of the active build (widen, dot, amx) or decides again (auto).
Napi::Value SetBf16Gemm(const Napi::CallbackInfo& info) {
  const std::string name = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  const int v = bf16VariantIndex(name);
  if (v < 0) fail(info.Env(), "setBf16Gemm", "unknown bf16 GEMM variant '" + name + "' (variants: widen, dot, amx, auto)");
  if (dispatch::active()->bf16Gemm(v, nullptr) < 0)
    fail(info.Env(), "setBf16Gemm", "kernel build '" + std::string(dispatch::active()->name) + "' has no bf16 GEMM variant '" + name + "'");
  return info.Env().Undefined();
}

// gemm(transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch)
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  const std::string op = "gemm";
  Napi::Env env = info.Env();
  const int tA = info[0].ToBoolean() ? 1 : 0, tB = info[1].ToBoolean() ? 1 : 0;
  const int M = dimArg(info, 2, op, "M"), N = dimArg(info, 3, op, "N"), K = dimArg(info, 4, op, "K");
  const float alpha = floatArg(info, 5, op, "alpha");
  ArrayView a = arrayArg(info, 6, op, "A");
  const int64_t lda = intArg(info, 7, op, "lda"), sA = intArg(info, 8, op, "strideA");
  ArrayView b = arrayArg(info, 9, op, "B");
  const int64_t ldb = intArg(info, 10, op, "ldb"), sB = intArg(info, 11, op, "strideB");
  const float beta = floatArg(info, 12, op, "beta");
  const int64_t ldc = intArg(info, 14, op, "ldc"), sC = intArg(info, 15, op, "strideC");
  const int batch = dimArg(info, 16, op, "batch");
  auto typeOf = [&](const ArrayView& v, const char* name) {
    if (v.type == napi_float32_array) return static_cast<int>(bc::kF32);
    if (v.type == napi_uint16_array) return static_cast<int>(bc::kBF16);
    fail(env, op, std::string(name) + " must be a Float32Array (f32) or Uint16Array (bf16)");
  };
  const int typeA = typeOf(a, "A"), typeB = typeOf(b, "B");
  const std::string dims = " (M=" + std::to_string(M) + ", N=" + std::to_string(N) + ", K=" + std::to_string(K) +
                           ", transA=" + std::to_string(tA) + ", transB=" + std::to_string(tB) + ")";
  const int64_t aRows = tA ? K : M, aCols = tA ? M : K, bRows = tB ? N : K, bCols = tB ? K : N;
  if ((aRows > 0 && lda < aCols) || (bRows > 0 && ldb < bCols) || ldc < N) fail(env, op, "leading dimension too small" + dims);
  if (a.length < extent(batch, sA, aRows, aCols, lda)) fail(env, op, "A is too small" + dims);
  if (b.length < extent(batch, sB, bRows, bCols, ldb)) fail(env, op, "B is too small" + dims);
  float* C = f32Arg(info, 13, op, "C", extent(batch, sC, M, N, ldc));
  dispatch::active()->gemm(tA, tB, M, N, K, alpha, a.data, typeA, lda, sA, b.data, typeB, ldb, sB, beta, C, ldc, sC, batch);
  return env.Undefined();
}

// rmsnormFwd(x, w, y, rstd, rows, cols, eps)
Napi::Value RmsnormFwd(const Napi::CallbackInfo& info) {
  const std::string op = "rmsnorm";
  const int64_t rows = intArg(info, 4, op, "rows");
  const int cols = dimArg(info, 5, op, "cols");
  const float eps = floatArg(info, 6, op, "eps");
  dispatch::active()->rmsnormFwd(f32Arg(info, 0, op, "x", mulSat(rows, cols)), f32Arg(info, 1, op, "weight", cols),
                     f32Arg(info, 2, op, "y", mulSat(rows, cols)), f32Arg(info, 3, op, "rstd", rows), rows, cols, eps);
  return info.Env().Undefined();
}

// rmsnormBwd(x, w, rstd, dy, dx, dw, rows, cols)
Napi::Value RmsnormBwd(const Napi::CallbackInfo& info) {
  const std::string op = "rmsnorm.backward";
  const int64_t rows = intArg(info, 6, op, "rows");
  const int cols = dimArg(info, 7, op, "cols");
  const int64_t n = mulSat(rows, cols);
  dispatch::active()->rmsnormBwd(f32Arg(info, 0, op, "x", n), f32Arg(info, 1, op, "weight", cols), f32Arg(info, 2, op, "rstd", rows),
                     f32Arg(info, 3, op, "dy", n), f32Arg(info, 4, op, "dx", n), f32Arg(info, 5, op, "dw", cols), rows,
                     cols);
  return info.Env().Undefined();
}

// l2normFwd(x, y, norm, rows, cols, eps)
Napi::Value L2normFwd(const Napi::CallbackInfo& info) {
  const std::string op = "l2normRows";
  const int64_t rows = intArg(info, 3, op, "rows");
  const int cols = dimArg(info, 4, op, "cols");
  dispatch::active()->l2normFwd(f32Arg(info, 0, op, "x", mulSat(rows, cols)), f32Arg(info, 1, op, "y", mulSat(rows, cols)),
                    f32Arg(info, 2, op, "norm", rows), rows, cols, floatArg(info, 5, op, "eps"));
  return info.Env().Undefined();
}

// l2normBwd(y, norm, dy, dx, rows, cols, eps)
Napi::Value L2normBwd(const Napi::CallbackInfo& info) {
  const std::string op = "l2normRows.backward";
  const int64_t rows = intArg(info, 4, op, "rows");
  const int cols = dimArg(info, 5, op, "cols");
  const int64_t n = mulSat(rows, cols);
  dispatch::active()->l2normBwd(f32Arg(info, 0, op, "y", n), f32Arg(info, 1, op, "norm", rows), f32Arg(info, 2, op, "dy", n),
                    f32Arg(info, 3, op, "dx", n), rows, cols, floatArg(info, 6, op, "eps"));
  return info.Env().Undefined();
}

// swigluFwd(gate, up, out, n) / swigluBwd(gate, up, dout, dgate, dup, n)
Napi::Value SwigluFwd(const Napi::CallbackInfo& info) {
  const std::string op = "swiglu";
  const int64_t n = intArg(info, 3, op, "n");
  dispatch::active()->swigluFwd(f32Arg(info, 0, op, "gate", n), f32Arg(info, 1, op, "up", n), f32Arg(info, 2, op, "out", n), n);
  return info.Env().Undefined();
}
Napi::Value SwigluBwd(const Napi::CallbackInfo& info) {
  const std::string op = "swiglu.backward";
  const int64_t n = intArg(info, 5, op, "n");
  dispatch::active()->swigluBwd(f32Arg(info, 0, op, "gate", n), f32Arg(info, 1, op, "up", n), f32Arg(info, 2, op, "dout", n),
                    f32Arg(info, 3, op, "dgate", n), f32Arg(info, 4, op, "dup", n), n);
  return info.Env().Undefined();
}
// siluFwd(x, y, n) / siluBwd(x, dy, dx, n)
Napi::Value SiluFwd(const Napi::CallbackInfo& info) {
  const std::string op = "silu";
  const int64_t n = intArg(info, 2, op, "n");
  dispatch::active()->siluFwd(f32Arg(info, 0, op, "x", n), f32Arg(info, 1, op, "y", n), n);
  return info.Env().Undefined();
}
Napi::Value SiluBwd(const Napi::CallbackInfo& info) {
  const std::string op = "silu.backward";
  const int64_t n = intArg(info, 3, op, "n");
  dispatch::active()->siluBwd(f32Arg(info, 0, op, "x", n), f32Arg(info, 1, op, "dy", n), f32Arg(info, 2, op, "dx", n), n);
  return info.Env().Undefined();
}

// rope(x, y, B, T, H, D, sb, st, sh, cos, sin, inverse): x strided [B,T,H,D], y contiguous.
Napi::Value Rope(const Napi::CallbackInfo& info) {
  const std::string op = "rope";
  const int B = dimArg(info, 2, op, "B"), T = dimArg(info, 3, op, "T"), H = dimArg(info, 4, op, "H"),
            D = dimArg(info, 5, op, "D");
  const int64_t sb = intArg(info, 6, op, "sb"), st = intArg(info, 7, op, "st"), sh = intArg(info, 8, op, "sh");
  if (D % 2 != 0) fail(info.Env(), op, "head dim D=" + std::to_string(D) + " must be even");
  const int64_t n = mulSat(mulSat(B, T), mulSat(H, D));
  const int64_t xExt =
      n == 0 ? 0 : addSat(addSat(mulSat(B - 1, sb), mulSat(T - 1, st)), addSat(mulSat(H - 1, sh), D));
  const int64_t bt = mulSat(B, T);
  const float* x = f32Arg(info, 0, op, "x", xExt);  // checked in argument order, so the message names the first short array
  float* y = f32Arg(info, 1, op, "y", n);
  const float* cs = f32Arg(info, 9, op, "cos", mulSat(bt, D));
  const float* sn = f32Arg(info, 10, op, "sin", mulSat(bt, D));
  dispatch::active()->rope(x, y, B, T, H, D, sb, st, sh, cs, sn, info[11].ToBoolean() ? 1 : 0);
  return info.Env().Undefined();
}

// softmaxFwd(x, y, rows, cols, log) / softmaxBwd(y, dy, dx, rows, cols, log)
Napi::Value SoftmaxFwd(const Napi::CallbackInfo& info) {
  const std::string op = "softmax";
  const int64_t rows = intArg(info, 2, op, "rows");
  const int cols = dimArg(info, 3, op, "cols");
  dispatch::active()->softmaxFwd(f32Arg(info, 0, op, "x", mulSat(rows, cols)), f32Arg(info, 1, op, "y", mulSat(rows, cols)), rows, cols,
                     info[4].ToBoolean() ? 1 : 0);
  return info.Env().Undefined();
}
Napi::Value SoftmaxBwd(const Napi::CallbackInfo& info) {
  const std::string op = "softmax.backward";
  const int64_t rows = intArg(info, 3, op, "rows");
  const int cols = dimArg(info, 4, op, "cols");
  const int64_t n = mulSat(rows, cols);
  dispatch::active()->softmaxBwd(f32Arg(info, 0, op, "y", n), f32Arg(info, 1, op, "dy", n), f32Arg(info, 2, op, "dx", n), rows, cols,
                     info[5].ToBoolean() ? 1 : 0);
  return info.Env().Undefined();
}

void checkTargets(Napi::Env env, const std::string& op, const int32_t* t, int64_t rows, int cols, int ignore) {
  for (int64_t r = 0; r < rows; r++)
    if (t[r] != ignore && (t[r] < 0 || t[r] >= cols))
      fail(env, op, "target " + std::to_string(t[r]) + " at row " + std::to_string(r) + " is outside [0, " +
                        std::to_string(cols) + ") and is not the ignore index " + std::to_string(ignore));
}

// xentFwd(logits, targets, rows, cols, ignore, loss, lse, maxv, argmax)
Napi::Value XentFwd(const Napi::CallbackInfo& info) {
  const std::string op = "crossEntropy";
  const int64_t rows = intArg(info, 2, op, "rows");
  const int cols = dimArg(info, 3, op, "cols");
  if (cols < 1) fail(info.Env(), op, "needs at least one class");
  const int ignore = static_cast<int>(info[4].As<Napi::Number>().Int32Value());
  int32_t* t = i32Arg(info, 1, op, "targets", rows);
  checkTargets(info.Env(), op, t, rows, cols, ignore);
  dispatch::active()->xentFwd(f32Arg(info, 0, op, "logits", mulSat(rows, cols)), t, rows, cols, ignore, f32Arg(info, 5, op, "loss", rows),
                  f32Arg(info, 6, op, "lse", rows), f32Arg(info, 7, op, "max", rows), i32Arg(info, 8, op, "argmax", rows));
  return info.Env().Undefined();
}

// xentBwd(logits, targets, lse, argmax, gCe, gZ|null, dlogits, rows, cols, ignore)
Napi::Value XentBwd(const Napi::CallbackInfo& info) {
  const std::string op = "crossEntropy.backward";
  const int64_t rows = intArg(info, 7, op, "rows");
  const int cols = dimArg(info, 8, op, "cols");
  const int ignore = static_cast<int>(info[9].As<Napi::Number>().Int32Value());
  int32_t* t = i32Arg(info, 1, op, "targets", rows);
  checkTargets(info.Env(), op, t, rows, cols, ignore);
  int32_t* am = i32Arg(info, 3, op, "argmax", rows);
  for (int64_t r = 0; r < rows; r++)
    if (am[r] < 0 || am[r] >= cols) fail(info.Env(), op, "argmax out of range");
  const float* gZ = isNullish(info, 5) ? nullptr : f32Arg(info, 5, op, "gZ", rows);
  dispatch::active()->xentBwd(f32Arg(info, 0, op, "logits", mulSat(rows, cols)), t, f32Arg(info, 2, op, "lse", rows), am,
                  f32Arg(info, 4, op, "gCe", rows), gZ, f32Arg(info, 6, op, "dlogits", mulSat(rows, cols)), rows, cols, ignore);
  return info.Env().Undefined();
}

// Attention options object: {B,H,Tq,Tk,D, q:[sb,sh,st], k:[...], v:[...], o:[...], past, causal, scale};
// the backward's also dq, dk, dv and optionally dO (default: o's strides)
bc::AttnArgs attnArgs(const Napi::CallbackInfo& info, const std::string& op) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) fail(env, op, "first argument must be the options object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto num = [&](const char* k) -> int64_t {
    Napi::Value v = o.Get(k);
    if (!v.IsNumber()) fail(env, op, std::string("option ") + k + " must be a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > 2147483647.0)
      fail(env, op, std::string("option ") + k + " must be a non-negative integer");
    return static_cast<int64_t>(d);
  };
  auto strides = [&](const char* k, int64_t* s) {
    Napi::Value v = o.Get(k);
    if (!v.IsArray() || v.As<Napi::Array>().Length() != 3) fail(env, op, std::string("option ") + k + " must be [sb, sh, st]");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < 3; i++) {
      Napi::Value e = a.Get(i);
      const double dv = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1.0;
      if (!std::isfinite(dv) || dv != std::floor(dv) || dv < 0 || dv > 9.0e15)
        fail(env, op, std::string("option ") + k + " must hold non-negative integers up to 9e15");
      s[i] = static_cast<int64_t>(dv);
    }
  };
  bc::AttnArgs a{};
  a.B = static_cast<int>(num("B"));
  a.H = static_cast<int>(num("H"));
  a.Tq = static_cast<int>(num("Tq"));
  a.Tk = static_cast<int>(num("Tk"));
  a.D = static_cast<int>(num("D"));
  a.past = static_cast<int>(num("past"));
  a.causal = o.Get("causal").ToBoolean() ? 1 : 0;
  a.scale = o.Get("scale").As<Napi::Number>().FloatValue();
  int64_t s[3];
  strides("q", s); a.qsb = s[0]; a.qsh = s[1]; a.qst = s[2];
  strides("k", s); a.ksb = s[0]; a.ksh = s[1]; a.kst = s[2];
  strides("v", s); a.vsb = s[0]; a.vsh = s[1]; a.vst = s[2];
  strides("o", s); a.osb = s[0]; a.osh = s[1]; a.ost = s[2];
  if (op == "attention.backward") {
    if (o.Has("dO")) strides("dO", s);  // dO's own layout; default: o's
    else { s[0] = a.osb; s[1] = a.osh; s[2] = a.ost; }
    a.gosb = s[0]; a.gosh = s[1]; a.gost = s[2];
    strides("dq", s); a.gqsb = s[0]; a.gqsh = s[1]; a.gqst = s[2];
    strides("dk", s); a.gksb = s[0]; a.gksh = s[1]; a.gkst = s[2];
    strides("dv", s); a.gvsb = s[0]; a.gvsh = s[1]; a.gvst = s[2];
  }
  if (a.causal && a.past + a.Tq > a.Tk)
    fail(env, op, "causal attention needs past + Tq <= Tk (past=" + std::to_string(a.past) + ", Tq=" +
                      std::to_string(a.Tq) + ", Tk=" + std::to_string(a.Tk) + ")");
  return a;
}

int64_t attnExtent(int B, int H, int T, int D, int64_t sb, int64_t sh, int64_t st) {
  if (B == 0 || H == 0 || T == 0 || D == 0) return 0;
  return addSat(addSat(mulSat(B - 1, sb), mulSat(H - 1, sh)), addSat(mulSat(T - 1, st), D));
}

// The optional slopes (index 1), key mask (index 2) and query mask (option), shared by forward and backward.
void attnExtras(const Napi::CallbackInfo& info, const std::string& op, bc::AttnArgs* a) {
  a->slopes = isNullish(info, 1) ? nullptr : f32Arg(info, 1, op, "alibiSlopes", a->H);
  a->keyMask = isNullish(info, 2) ? nullptr : i32Arg(info, 2, op, "keyMask", mulSat(a->B, a->Tk));
  a->queryMask = nullptr;
  Napi::Value qm = info[0].As<Napi::Object>().Get("queryMask");
  if (!qm.IsUndefined() && !qm.IsNull()) {
    if (!qm.IsTypedArray() || qm.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      fail(info.Env(), op, "option queryMask must be an Int32Array");
    Napi::TypedArray t = qm.As<Napi::TypedArray>();
    if (static_cast<int64_t>(t.ElementLength()) < mulSat(a->B, a->Tq)) fail(info.Env(), op, "queryMask is shorter than B * Tq");
    a->queryMask = reinterpret_cast<const int32_t*>(static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset());
  }
}

// attnFwd(opts, slopes|null, keyMask|null, q, k, v, o, lse)
Napi::Value AttnFwd(const Napi::CallbackInfo& info) {
  const std::string op = "attention";
  bc::AttnArgs a = attnArgs(info, op);
  attnExtras(info, op, &a);
  const float* q = f32Arg(info, 3, op, "q", attnExtent(a.B, a.H, a.Tq, a.D, a.qsb, a.qsh, a.qst));
  const float* k = f32Arg(info, 4, op, "k", attnExtent(a.B, a.H, a.Tk, a.D, a.ksb, a.ksh, a.kst));
  const float* v = f32Arg(info, 5, op, "v", attnExtent(a.B, a.H, a.Tk, a.D, a.vsb, a.vsh, a.vst));
  float* o = f32Arg(info, 6, op, "o", attnExtent(a.B, a.H, a.Tq, a.D, a.osb, a.osh, a.ost));
  float* lse = f32Arg(info, 7, op, "lse", mulSat(a.B, a.H, a.Tq));
  dispatch::active()->attnFwd(&a, q, k, v, o, lse);
  return info.Env().Undefined();
}

// attnBwd(opts, slopes|null, keyMask|null, q, k, v, o, lse, dO, dq, dk, dv)
Napi::Value AttnBwd(const Napi::CallbackInfo& info) {
  const std::string op = "attention.backward";
  bc::AttnArgs a = attnArgs(info, op);
  attnExtras(info, op, &a);
  const int64_t qe = attnExtent(a.B, a.H, a.Tq, a.D, a.qsb, a.qsh, a.qst);
  const int64_t ke = attnExtent(a.B, a.H, a.Tk, a.D, a.ksb, a.ksh, a.kst);
  const int64_t ve = attnExtent(a.B, a.H, a.Tk, a.D, a.vsb, a.vsh, a.vst);
  const int64_t oe = attnExtent(a.B, a.H, a.Tq, a.D, a.osb, a.osh, a.ost);
  dispatch::active()->attnBwd(&a, f32Arg(info, 3, op, "q", qe), f32Arg(info, 4, op, "k", ke), f32Arg(info, 5, op, "v", ve),
                  f32Arg(info, 6, op, "o", oe), f32Arg(info, 7, op, "lse", mulSat(a.B, a.H, a.Tq)),
                  f32Arg(info, 8, op, "dO", attnExtent(a.B, a.H, a.Tq, a.D, a.gosb, a.gosh, a.gost)),
                  f32Arg(info, 9, op, "dq", attnExtent(a.B, a.H, a.Tq, a.D, a.gqsb, a.gqsh, a.gqst)),
                  f32Arg(info, 10, op, "dk", attnExtent(a.B, a.H, a.Tk, a.D, a.gksb, a.gksh, a.gkst)),
                  f32Arg(info, 11, op, "dv", attnExtent(a.B, a.H, a.Tk, a.D, a.gvsb, a.gvsh, a.gvst)));
  return info.Env().Undefined();
}

// adamw(p, g, m, v, n, lr, beta1, beta2, eps, wd, bc1, bc2, pBf16|null)
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  const std::string op = "adamw";
  const int64_t n = intArg(info, 4, op, "n");
  uint16_t* pb = isNullish(info, 12) ? nullptr : u16Arg(info, 12, op, "paramBf16", n);
  dispatch::active()->adamw(f32Arg(info, 0, op, "param", n), f32Arg(info, 1, op, "grad", n), f32Arg(info, 2, op, "m", n),
                f32Arg(info, 3, op, "v", n), n, floatArg(info, 5, op, "lr"), floatArg(info, 6, op, "beta1"),
                floatArg(info, 7, op, "beta2"), floatArg(info, 8, op, "eps"), floatArg(info, 9, op, "weightDecay"),
                floatArg(info, 10, op, "bc1"), floatArg(info, 11, op, "bc2"), pb);
  return info.Env().Undefined();
}

Napi::Value SumSq(const Napi::CallbackInfo& info) {
  const int64_t n = intArg(info, 1, "sumsq", "n");
  return Napi::Number::New(info.Env(), dispatch::active()->sumsq(f32Arg(info, 0, "sumsq", "x", n), n));
}

Napi::Value Bf16ToF32(const Napi::CallbackInfo& info) {
  const int64_t n = intArg(info, 2, "bf16ToF32", "n");
  dispatch::active()->bf16ToF32(u16Arg(info, 0, "bf16ToF32", "x", n), f32Arg(info, 1, "bf16ToF32", "y", n), n);
  return info.Env().Undefined();
}

Napi::Value F32ToBf16(const Napi::CallbackInfo& info) {
  const int64_t n = intArg(info, 2, "f32ToBf16", "n");
  dispatch::active()->f32ToBf16(f32Arg(info, 0, "f32ToBf16", "x", n), u16Arg(info, 1, "f32ToBf16", "y", n), n);
  return info.Env().Undefined();
}

// copyStrided(src, srcOffset, shape, srcStrides, dst, dstOffset, dstStrides): the view of src
// (offset and element strides, >= 0) into the view of dst, both of `shape`; src and dst are
// typed arrays of one element size (Float32Array / Int32Array, or Uint16Array) and must not overlap.
Napi::Value CopyStrided(const Napi::CallbackInfo& info) {
  const std::string op = "copyStrided";
  Napi::Env env = info.Env();
  ArrayView src = arrayArg(info, 0, op, "src"), dst = arrayArg(info, 4, op, "dst");
  auto elemBytes = [&](const ArrayView& v, const char* name) {
    if (v.type == napi_float32_array || v.type == napi_int32_array) return 4;
    if (v.type == napi_uint16_array) return 2;
    fail(env, op, std::string(name) + " must be a Float32Array, Int32Array or Uint16Array");
  };
  const int eb = elemBytes(src, "src");
  if (elemBytes(dst, "dst") != eb) fail(env, op, "src and dst have different element sizes");
  auto intList = [&](size_t i, const char* name) {
    if (i >= info.Length() || !info[i].IsArray()) fail(env, op, std::string(name) + " must be an array of integers");
    Napi::Array a = info[i].As<Napi::Array>();
    if (a.Length() > bc::kCopyMaxDims) fail(env, op, std::string(name) + " has more than 16 dims");
    std::vector<int64_t> v(a.Length());
    for (uint32_t k = 0; k < a.Length(); k++) {
      Napi::Value x = a.Get(k);
      const double d = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0 && d <= 9.0e15 && d == std::floor(d))) fail(env, op, std::string(name) + "[" + std::to_string(k) + "] must be a non-negative integer");
      v[k] = static_cast<int64_t>(d);
    }
    return v;
  };
  const std::vector<int64_t> shape = intList(2, "shape"), ss = intList(3, "srcStrides"), ds = intList(6, "dstStrides");
  if (ss.size() != shape.size() || ds.size() != shape.size()) fail(env, op, "shape, srcStrides and dstStrides must have one length");
  const int64_t so = intArg(info, 1, op, "srcOffset"), dso = intArg(info, 5, op, "dstOffset");
  // the last element each view touches must lie inside its array
  int64_t sEnd = so, dEnd = dso;
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] == 0) return env.Undefined();
    sEnd = addSat(sEnd, mulSat(shape[d] - 1, ss[d]));
    dEnd = addSat(dEnd, mulSat(shape[d] - 1, ds[d]));
  }
  if (sEnd >= src.length) fail(env, op, "the src view reaches element " + std::to_string(sEnd) + " of " + std::to_string(src.length));
  if (dEnd >= dst.length) fail(env, op, "the dst view reaches element " + std::to_string(dEnd) + " of " + std::to_string(dst.length));
  dispatch::active()->copyStrided(static_cast<const uint8_t*>(src.data) + so * eb, static_cast<uint8_t*>(dst.data) + dso * eb, eb,
                                  static_cast<int>(shape.size()), shape.data(), ss.data(), ds.data());
  return env.Undefined();
}

// binary(op, a, b, out, n): op 0 add, 1 sub, 2 mul, 3 div, 4 maximum
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const std::string op = "binary";
  const int code = dimArg(info, 0, op, "op");
  if (code > 4) fail(info.Env(), op, "op must be 0 (add), 1 (sub), 2 (mul), 3 (div) or 4 (maximum), got " + std::to_string(code));
  const int64_t n = intArg(info, 4, op, "n");
  dispatch::active()->binary(code, f32Arg(info, 1, op, "a", n), f32Arg(info, 2, op, "b", n), f32Arg(info, 3, op, "out", n), n);
  return info.Env().Undefined();
}

// affine(x, a, b, out, n): out = x * a + b (out may be x)
Napi::Value Affine(const Napi::CallbackInfo& info) {
  const std::string op = "affine";
  const int64_t n = intArg(info, 4, op, "n");
  if (!info[1].IsNumber() || !info[2].IsNumber()) fail(info.Env(), op, "a and b must be numbers");
  dispatch::active()->affine(f32Arg(info, 0, op, "x", n), info[1].As<Napi::Number>().DoubleValue(), info[2].As<Napi::Number>().DoubleValue(),
                             f32Arg(info, 3, op, "out", n), n);
  return info.Env().Undefined();
}

// randomFill(out, seed, normal, a, b): seed is a non-negative integer below 2^53.
Napi::Value RandomFill(const Napi::CallbackInfo& info) {
  const std::string op = "randomFill";
  ArrayView v = arrayArg(info, 0, op, "out");
  if (v.type != napi_float32_array) fail(info.Env(), op, "out must be a Float32Array");
  const int64_t seed = intArg(info, 1, op, "seed");
  dispatch::active()->randomFill(static_cast<float*>(v.data), v.length, static_cast<uint64_t>(seed), info[2].ToBoolean() ? 1 : 0,
                     floatArg(info, 3, op, "a"), floatArg(info, 4, op, "b"));
  return info.Env().Undefined();
}

Napi::Value ReadBytes(const Napi::CallbackInfo& info) {
  ArrayView v = arrayArg(info, 0, "readBytes", "buffer");
  Napi::TypedArray t = info[0].As<Napi::TypedArray>();
  return Napi::Number::New(info.Env(), dispatch::active()->readBytes(v.data, static_cast<int64_t>(t.ByteLength())));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // BAICHUAN2_KERNELS forces a build (normally a lower one, to compare or to work around a fault).
  const char* forced = std::getenv("BAICHUAN2_KERNELS");
  if (forced && *forced) {
    const std::string err = dispatch::selectBuild(forced);
    if (!err.empty()) throw Napi::Error::New(env, "BAICHUAN2_KERNELS=" + std::string(forced) + ": " + err);
  }
  // BAICHUAN2_BF16_GEMM forces the bf16 GEMM variant (each build falls back to auto when it lacks it; info says so).
  const char* bf16 = std::getenv("BAICHUAN2_BF16_GEMM");
  if (bf16 && *bf16 && bf16VariantIndex(bf16) < 0)
    throw Napi::Error::New(env, "BAICHUAN2_BF16_GEMM=" + std::string(bf16) + ": unknown bf16 GEMM variant (variants: widen, dot, amx, auto)");
  bc::registerQuantEntries(env, exports);  // addon_quant.cc
  exports.Set("readBytes", Napi::Function::New(env, ReadBytes));
  exports.Set("randomFill", Napi::Function::New(env, RandomFill));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("setArch", Napi::Function::New(env, SetArch));
  exports.Set("setBf16Gemm", Napi::Function::New(env, SetBf16Gemm));
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("rmsnormFwd", Napi::Function::New(env, RmsnormFwd));
  exports.Set("rmsnormBwd", Napi::Function::New(env, RmsnormBwd));
  exports.Set("l2normFwd", Napi::Function::New(env, L2normFwd));
  exports.Set("l2normBwd", Napi::Function::New(env, L2normBwd));
  exports.Set("swigluFwd", Napi::Function::New(env, SwigluFwd));
  exports.Set("swigluBwd", Napi::Function::New(env, SwigluBwd));
  exports.Set("siluFwd", Napi::Function::New(env, SiluFwd));
  exports.Set("siluBwd", Napi::Function::New(env, SiluBwd));
  exports.Set("rope", Napi::Function::New(env, Rope));
  exports.Set("softmaxFwd", Napi::Function::New(env, SoftmaxFwd));
  exports.Set("softmaxBwd", Napi::Function::New(env, SoftmaxBwd));
  exports.Set("xentFwd", Napi::Function::New(env, XentFwd));
  exports.Set("xentBwd", Napi::Function::New(env, XentBwd));
  exports.Set("attnFwd", Napi::Function::New(env, AttnFwd));
  exports.Set("attnBwd", Napi::Function::New(env, AttnBwd));
  exports.Set("adamw", Napi::Function::New(env, AdamW));
  exports.Set("sumsq", Napi::Function::New(env, SumSq));
  exports.Set("bf16ToF32", Napi::Function::New(env, Bf16ToF32));
  exports.Set("f32ToBf16", Napi::Function::New(env, F32ToBf16));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("affine", Napi::Function::New(env, Affine));
  exports.Set("copyStrided", Napi::Function::New(env, CopyStrided));
  return exports;
}

}  // namespace

NODE_API_MODULE(baichuan2_native, Init)
