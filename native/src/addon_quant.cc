// N-API entry points of the quantised kernels (quantize, dequantize, qmatmul
// and the fused batch-1 decode layer), registered by addon.cc's Init. Same
// rules as addon.cc: every argument is checked and a bad one throws a JS
// error naming the kernel and the argument.
#include <napi.h>
#include <cstdint>
#include <string>
#include "args.h"
#include "dispatch.h"
#include "kernels.h"

namespace {

using namespace bc;
using namespace bc::args;

// Quantisation arguments shared by the entry points: bits 4|8, group 32|64|128 dividing K.
void quantDims(const Napi::CallbackInfo& info, const std::string& op, int K, int G, int bits) {
  if (bits != 4 && bits != 8) fail(info.Env(), op, "bits must be 4 or 8, got " + std::to_string(bits));
  if (G != 32 && G != 64 && G != 128) fail(info.Env(), op, "group size must be 32, 64 or 128, got " + std::to_string(G));
  if (K % G != 0) fail(info.Env(), op, "K = " + std::to_string(K) + " is not a multiple of the group size " + std::to_string(G));
  if (K > 32768) fail(info.Env(), op, "K = " + std::to_string(K) + " exceeds 32768");
}

// quantize(w (Float32Array | Uint16Array bf16), N, K, G, bits, q, scales)
Napi::Value Quantize(const Napi::CallbackInfo& info) {
  const std::string op = "quantize";
  const int64_t N = intArg(info, 1, op, "N");
  const int K = dimArg(info, 2, op, "K"), G = dimArg(info, 3, op, "G"), bits = dimArg(info, 4, op, "bits");
  quantDims(info, op, K, G, bits);
  ArrayView w = arrayArg(info, 0, op, "w");
  if (w.type != napi_float32_array && w.type != napi_uint16_array) fail(info.Env(), op, "w must be a Float32Array or Uint16Array (bf16)");
  if (w.length < mulSat(N, K)) fail(info.Env(), op, "w has " + std::to_string(w.length) + " elements, needs " + std::to_string(N) + " x " + std::to_string(K));
  uint8_t* q = u8Arg(info, 5, op, "q", mulSat(N, bits == 8 ? K : K / 2));
  uint16_t* sc = u16Arg(info, 6, op, "scales", mulSat(N, K / G));
  dispatch::active()->quantizeRows(w.data, w.type == napi_float32_array ? bc::kF32 : bc::kBF16, N, K, G, bits, q, sc);
  return info.Env().Undefined();
}

// dequantize(q, scales, N, K, G, bits, out)
Napi::Value Dequantize(const Napi::CallbackInfo& info) {
  const std::string op = "dequantize";
  const int64_t N = intArg(info, 2, op, "N");
  const int K = dimArg(info, 3, op, "K"), G = dimArg(info, 4, op, "G"), bits = dimArg(info, 5, op, "bits");
  quantDims(info, op, K, G, bits);
  dispatch::active()->dequantizeRows(u8Arg(info, 0, op, "q", mulSat(N, bits == 8 ? K : K / 2)), u16Arg(info, 1, op, "scales", mulSat(N, K / G)), N, K, G, bits,
                         f32Arg(info, 6, op, "out", mulSat(N, K)));
  return info.Env().Undefined();
}

// qmatmul(x, M, K, q, scales, N, G, bits, y): y [M, N] = x [M, K] W^T
Napi::Value QMatmul(const Napi::CallbackInfo& info) {
  const std::string op = "qmatmul";
  const int M = dimArg(info, 1, op, "M"), K = dimArg(info, 2, op, "K"), N = dimArg(info, 5, op, "N");
  const int G = dimArg(info, 6, op, "G"), bits = dimArg(info, 7, op, "bits");
  quantDims(info, op, K, G, bits);
  const float* x = f32Arg(info, 0, op, "x", mulSat(M, K));
  const uint8_t* q = u8Arg(info, 3, op, "q", mulSat(N, bits == 8 ? K : K / 2));
  const uint16_t* sc = u16Arg(info, 4, op, "scales", mulSat(N, K / G));
  dispatch::active()->qmatmul(x, M, K, q, sc, N, G, bits, f32Arg(info, 8, op, "y", mulSat(M, N)));
  return info.Env().Undefined();
}

// decodeLayer(h, norm1, norm2, wpackQ, wpackS, oprojQ, oprojS, gateQ, gateS, upQ, upS, downQ, downS,
//             cos|null, sin|null, slopes|null, kCache, vCache, C, H, F, Tk, capacity, G, bits, eps, bf16)
// One decoder layer of a batch-1 decode step (impl/decode.h); h [C] is updated in place and the
// token's k, v are written at row Tk - 1 of each head of the [H, capacity, D] caches.
Napi::Value DecodeLayer(const Napi::CallbackInfo& info) {
  const std::string op = "decodeLayer";
  Napi::Env env = info.Env();
  const int C = dimArg(info, 18, op, "C"), H = dimArg(info, 19, op, "H"), F = dimArg(info, 20, op, "F");
  const int Tk = dimArg(info, 21, op, "Tk"), capacity = dimArg(info, 22, op, "capacity");
  const int G = dimArg(info, 23, op, "G"), bits = dimArg(info, 24, op, "bits");
  if (C < 1 || H < 1 || F < 1 || C % H != 0) fail(env, op, "C = " + std::to_string(C) + " must be a positive multiple of H = " + std::to_string(H) + ", F positive");
  const int D = C / H;
  if (D % 2 != 0) fail(env, op, "head dim D = " + std::to_string(D) + " must be even");
  if (Tk < 1 || Tk > capacity) fail(env, op, "Tk = " + std::to_string(Tk) + " must be in 1..capacity (" + std::to_string(capacity) + ")");
  quantDims(info, op, C, G, bits);
  quantDims(info, op, F, G, bits);
  bc::DecodeLayerArgs a{};
  a.C = C; a.H = H; a.D = D; a.F = F; a.Tk = Tk;
  a.eps = floatArg(info, 25, op, "eps");
  a.bf16 = info[26].ToBoolean() ? 1 : 0;
  a.h = f32Arg(info, 0, op, "h", C);
  a.norm1 = f32Arg(info, 1, op, "norm1", C);
  a.norm2 = f32Arg(info, 2, op, "norm2", C);
  auto lin = [&](size_t i, const char* qn, const char* sn, int N, int K) {
    bc::QLinear w{};
    w.q = u8Arg(info, i, op, qn, mulSat(N, bits == 8 ? K : K / 2));
    w.scales = u16Arg(info, i + 1, op, sn, mulSat(N, K / G));
    w.N = N; w.K = K; w.G = G; w.bits = bits;
    return w;
  };
  a.wpack = lin(3, "W_pack.q", "W_pack.scales", 3 * C, C);
  a.oproj = lin(5, "o_proj.q", "o_proj.scales", C, C);
  a.gate = lin(7, "gate_proj.q", "gate_proj.scales", F, C);
  a.up = lin(9, "up_proj.q", "up_proj.scales", F, C);
  a.down = lin(11, "down_proj.q", "down_proj.scales", C, F);
  if (isNullish(info, 13) != isNullish(info, 14)) fail(env, op, "give both cos and sin, or neither");
  a.cos = isNullish(info, 13) ? nullptr : f32Arg(info, 13, op, "cos", D);
  a.sin = isNullish(info, 14) ? nullptr : f32Arg(info, 14, op, "sin", D);
  a.slopes = isNullish(info, 15) ? nullptr : f32Arg(info, 15, op, "slopes", H);
  const int64_t cacheLen = mulSat(mulSat(H, capacity), D);
  a.kCache = f32Arg(info, 16, op, "kCache", cacheLen);
  a.vCache = f32Arg(info, 17, op, "vCache", cacheLen);
  a.headStride = static_cast<int64_t>(capacity) * D;
  dispatch::active()->decodeLayer(&a);
  return env.Undefined();
}

}  // namespace

namespace bc {
void registerQuantEntries(Napi::Env env, Napi::Object exports) {
  exports.Set("quantize", Napi::Function::New(env, Quantize));
  exports.Set("dequantize", Napi::Function::New(env, Dequantize));
  exports.Set("qmatmul", Napi::Function::New(env, QMatmul));
  exports.Set("decodeLayer", Napi::Function::New(env, DecodeLayer));
}
}  // namespace bc
