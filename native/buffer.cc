// allocAligned: zero-filled memory from posix_memalign, handed to JS as an external Buffer whose
// finalizer frees it. O_DIRECT needs the buffer address aligned, which V8-allocated Buffers are not.
#include <napi.h>

#include <cstdlib>
#include <cstring>

#include "args.h"
#include "errors.h"
#include "modules.h"

namespace xdbm {
namespace {

constexpr double kMaxAlignedBytes = 1024.0 * 1024 * 1024;  // 1 GiB

Napi::Value AllocAligned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double len = NumberArg(info, 0, "lengthBytes");
  if (len > kMaxAlignedBytes) throw InvalidArg(env, "lengthBytes above 1 GiB");
  double align = 4096;
  if (info.Length() > 1 && !info[1].IsUndefined()) align = NumberArg(info, 1, "alignBytes");
  size_t a = static_cast<size_t>(align);
  if (a < sizeof(void*) || (a & (a - 1)) != 0 || a > (1u << 21)) {
    throw InvalidArg(env, "alignBytes must be a power of two between 8 and 2 MiB");
  }
  size_t n = static_cast<size_t>(len);
  void* p = nullptr;
  int rc = posix_memalign(&p, a, n == 0 ? a : n);
  if (rc != 0) {
    SysError e;
    e.err = rc;
    e.syscall = "posix_memalign";
    e.note = std::to_string(n) + " bytes aligned to " + std::to_string(a);
    throw ToJsError(env, e);
  }
  size_t bytes = n == 0 ? a : n;
  std::memset(p, 0, bytes);
  // Tell V8 about memory it does not see, so that many dropped buffers still trigger a GC.
  int64_t ignored = 0;
  napi_adjust_external_memory(env, static_cast<int64_t>(bytes), &ignored);
  return Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(p), n, [bytes](Napi::Env fenv, uint8_t* data) {
    std::free(data);
    int64_t unused = 0;
    napi_adjust_external_memory(fenv, -static_cast<int64_t>(bytes), &unused);  // status ignored at teardown
  });
}

Napi::Value IsAligned(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buf = BufferArg(info, 0);
  double align = NumberArg(info, 1, "alignBytes");
  uint64_t a = static_cast<uint64_t>(align);
  if (a == 0 || (a & (a - 1)) != 0) throw InvalidArg(info.Env(), "alignBytes must be a power of two");
  return Napi::Boolean::New(info.Env(), reinterpret_cast<uintptr_t>(buf.Data()) % a == 0);
}

}  // namespace

void InitBuffer(Napi::Env env, Napi::Object exports) {
  exports.Set("allocAligned", Napi::Function::New(env, AllocAligned, "allocAligned"));
  exports.Set("isAligned", Napi::Function::New(env, IsAligned, "isAligned"));
}

}  // namespace xdbm
