// Module entry. The addon keeps no mutable state of its own (every call works on the fd and buffer it
// is given), so one copy per worker thread is safe: node-addon-api modules are context-aware.
#include <napi.h>

#include "modules.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  xdbm::InitIo(env, exports);
  xdbm::InitBuffer(env, exports);
  xdbm::InitDevice(env, exports);
  xdbm::InitUring(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(xdbm_native, Init)
