// Each .cc registers its functions on the exports object.
#pragma once

#include <napi.h>

namespace xdbm {
void InitIo(Napi::Env env, Napi::Object exports);      // io.cc: open/close/pread/pwrite/fdatasync
void InitBuffer(Napi::Env env, Napi::Object exports);  // buffer.cc: allocAligned
void InitDevice(Napi::Env env, Napi::Object exports);  // device.cc: deviceInfo
void InitUring(Napi::Env env, Napi::Object exports);   // uring.cc: uringRunSync/uringRun
}  // namespace xdbm
