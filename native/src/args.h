// Argument checking for the N-API entry points: every typed array is checked
// for kind and length, every size for range, so a bad call throws a RangeError
// naming the kernel and the argument instead of reading out of bounds.
#pragma once
#include <napi.h>
#include <cmath>
#include <cstdint>
#include <string>

namespace bc::args {

[[noreturn]] inline void fail(Napi::Env env, const std::string& op, const std::string& msg) {
  throw Napi::RangeError::New(env, op + ": " + msg);
}

struct ArrayView {
  void* data = nullptr;
  int64_t length = 0;
  napi_typedarray_type type = napi_float32_array;
};

inline ArrayView arrayArg(const Napi::CallbackInfo& info, size_t i, const std::string& op, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray()) fail(info.Env(), op, std::string(name) + " must be a TypedArray");
  Napi::TypedArray t = info[i].As<Napi::TypedArray>();
  ArrayView v;
  v.type = t.TypedArrayType();
  v.length = static_cast<int64_t>(t.ElementLength());
  v.data = static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
  return v;
}

// A typed array argument of the given kind with at least `need` elements, or a named RangeError.
template <typename T>
T* typedArg(const Napi::CallbackInfo& info, size_t i, const std::string& op, const char* name, int64_t need,
            napi_typedarray_type type, const char* what) {
  ArrayView v = arrayArg(info, i, op, name);
  if (v.type != type) fail(info.Env(), op, std::string(name) + " must be " + what);
  if (v.length < need)
    fail(info.Env(), op, std::string(name) + " has " + std::to_string(v.length) + " elements, needs " +
                             (need == INT64_MAX ? std::string("more than 2^63 (sizes or strides overflow)") : std::to_string(need)));
  return static_cast<T*>(v.data);
}

inline float* f32Arg(const Napi::CallbackInfo& info, size_t i, const std::string& op, const char* name, int64_t need) {
  return typedArg<float>(info, i, op, name, need, napi_float32_array, "a Float32Array");
}

inline int32_t* i32Arg(const Napi::CallbackInfo& info, size_t i, const std::string& op, const char* name, int64_t need) {
  return typedArg<int32_t>(info, i, op, name, need, napi_int32_array, "an Int32Array");
}

inline uint16_t* u16Arg(const Napi::CallbackInfo& info, size_t i, const std::string& op, const char* name, int64_t need) {
  return typedArg<uint16_t>(info, i, op, name, need, napi_uint16_array, "a Uint16Array (bf16 bits)");
}

inline uint8_t* u8Arg(const Napi::CallbackInfo& info, size_t i, const std::string& op, const char* name, int64_t need) {
  return typedArg<uint8_t>(info, i, op, name, need, napi_uint8_array, "a Uint8Array");
}

inline bool isNullish(const Napi::CallbackInfo& info, size_t i) {
  return i >= info.Length() || info[i].IsNull() || info[i].IsUndefined();
}

inline int64_t intArg(const Napi::CallbackInfo& info, size_t i, const std::string& op, const char* name, int64_t lo = 0) {
  if (i >= info.Length() || !info[i].IsNumber()) fail(info.Env(), op, std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d)) fail(info.Env(), op, std::string(name) + " must be an integer");
  if (d < static_cast<double>(lo) || d > 9.0e15)
    fail(info.Env(), op, std::string(name) + " = " + std::to_string(static_cast<int64_t>(d)) + " is out of range");
  return static_cast<int64_t>(d);
}

inline int dimArg(const Napi::CallbackInfo& info, size_t i, const std::string& op, const char* name) {
  int64_t v = intArg(info, i, op, name, 0);
  if (v > 2147483647) fail(info.Env(), op, std::string(name) + " exceeds 2^31-1");
  return static_cast<int>(v);
}

inline float floatArg(const Napi::CallbackInfo& info, size_t i, const std::string& op, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) fail(info.Env(), op, std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().FloatValue();
}

// Overflow-safe size arithmetic for the bounds checks: a product or sum that
// would exceed int64 saturates to kHuge, which no array can satisfy.
inline constexpr int64_t kHuge = INT64_MAX;
inline int64_t mulSat(int64_t a, int64_t b) {
  int64_t r;
  return a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r) ? kHuge : r;
}
inline int64_t addSat(int64_t a, int64_t b) {
  int64_t r;
  return a < 0 || b < 0 || __builtin_add_overflow(a, b, &r) ? kHuge : r;
}
inline int64_t mulSat(int64_t a, int64_t b, int64_t c) { return mulSat(mulSat(a, b), c); }

// Minimum array length for a row-major matrix of `rows` x `cols` with leading dim ld, batched.
inline int64_t extent(int64_t batch, int64_t stride, int64_t rows, int64_t cols, int64_t ld) {
  if (batch == 0 || rows == 0 || cols == 0) return 0;
  return addSat(addSat(mulSat(batch - 1, stride), mulSat(rows - 1, ld)), cols);
}

}  // namespace bc::args
