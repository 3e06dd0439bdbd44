// Argument checks shared by the bindings. Each throws XDBM_INVALID_ARGUMENT (a C++ exception that
// node-addon-api turns into a JS exception) before any syscall is made.
#pragma once

#include <napi.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "errors.h"

namespace xdbm {

constexpr double kMaxSafeInteger = 9007199254740991.0;
// The smallest alignment O_DIRECT accepts anywhere (512-byte sectors); a device with larger
// sectors rejects smaller units with EINVAL, which arrives as XDBM_INVALID_ARGUMENT too.
constexpr uint64_t kDirectAlignBytes = 512;

inline double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) throw InvalidArg(info.Env(), std::string(name) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v != std::floor(v) || v < 0 || v > kMaxSafeInteger) {
    throw InvalidArg(info.Env(), std::string(name) + " must be a non-negative safe integer");
  }
  return v;
}

inline int FdArg(const Napi::CallbackInfo& info, size_t i) {
  double v = NumberArg(info, i, "fd");
  if (v > INT_MAX) throw InvalidArg(info.Env(), "fd out of range");
  return static_cast<int>(v);
}

inline int64_t OffsetArg(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<int64_t>(NumberArg(info, i, "offsetBytes"));
}

inline Napi::Uint8Array BufferArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw InvalidArg(info.Env(), "buf must be a Buffer or Uint8Array");
  }
  return info[i].As<Napi::Uint8Array>();
}

// Reads an optional integer property; returns fallback when absent/undefined.
inline double IntProp(Napi::Env env, const Napi::Object& o, const char* name, double fallback, bool required) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw InvalidArg(env, std::string(name) + " is required");
    return fallback;
  }
  if (!v.IsNumber()) throw InvalidArg(env, std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > kMaxSafeInteger) {
    throw InvalidArg(env, std::string(name) + " must be a non-negative safe integer");
  }
  return d;
}

inline bool BoolProp(Napi::Env env, const Napi::Object& o, const char* name, bool fallback, bool required) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw InvalidArg(env, std::string(name) + " is required");
    return fallback;
  }
  if (!v.IsBoolean()) throw InvalidArg(env, std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace xdbm
