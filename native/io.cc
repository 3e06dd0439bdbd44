// Positional I/O on an fd: open/close, pread/pwrite (looping over short transfers and EINTR),
// fdatasync. Each in a synchronous form (worker threads) and an AsyncWorker form (libuv pool) that
// returns a Promise, so the main thread never blocks on a device.
#include <napi.h>

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "args.h"
#include "errors.h"
#include "modules.h"

namespace xdbm {
namespace {

enum class Op { kRead, kWrite, kSync };

const char* SyscallName(Op op) {
  return op == Op::kRead ? "pread" : op == Op::kWrite ? "pwrite" : "fdatasync";
}

// Runs the whole transfer. Returns bytes moved; sets e.err on failure. A read stops early at EOF.
int64_t Transfer(Op op, int fd, uint8_t* p, size_t len, int64_t off, SysError& e) {
  e.syscall = SyscallName(op);
  e.fd = fd;
  if (op == Op::kSync) {
    e.offset = -1;
    while (fdatasync(fd) != 0) {
      if (errno == EINTR) continue;
      e.err = errno;
      return -1;
    }
    return 0;
  }
  size_t done = 0;
  while (done < len) {
    ssize_t r = op == Op::kRead ? pread(fd, p + done, len - done, off + static_cast<int64_t>(done))
                                : pwrite(fd, p + done, len - done, off + static_cast<int64_t>(done));
    if (r < 0) {
      if (errno == EINTR) continue;
      e.err = errno;
      e.offset = off + static_cast<int64_t>(done);
      return -1;
    }
    if (r == 0) {
      if (op == Op::kRead) break;  // EOF: a short read is returned as a count
      e.err = EIO;                 // a write that makes no progress would loop forever
      e.offset = off + static_cast<int64_t>(done);
      e.note = "write made no progress";
      return -1;
    }
    done += static_cast<size_t>(r);
  }
  return static_cast<int64_t>(done);
}

// O_DIRECT alignment, checked before the syscall so the caller gets a precise message.
void CheckDirect(Napi::Env env, int fd, const uint8_t* p, size_t len, int64_t off) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (fl & O_DIRECT) == 0) return;  // a bad fd fails in the syscall itself
  auto misaligned = [](uint64_t v) { return (v % kDirectAlignBytes) != 0; };
  if (misaligned(reinterpret_cast<uintptr_t>(p)) || misaligned(len) || misaligned(static_cast<uint64_t>(off))) {
    throw InvalidArg(env, "O_DIRECT I/O on fd " + std::to_string(fd) + " needs buffer address, length (" +
                              std::to_string(len) + ") and offset (" + std::to_string(off) +
                              ") aligned to " + std::to_string(kDirectAlignBytes) +
                              " bytes (use allocAligned)");
  }
}

struct Request {
  Op op;
  int fd;
  uint8_t* data = nullptr;
  size_t len = 0;
  int64_t off = 0;
};

Request ParseRequest(const Napi::CallbackInfo& info, Op op) {
  Request r{op, FdArg(info, 0)};
  if (op == Op::kSync) return r;
  Napi::Uint8Array buf = BufferArg(info, 1);
  r.data = buf.Data();
  r.len = buf.ByteLength();
  r.off = OffsetArg(info, 2);
  CheckDirect(info.Env(), r.fd, r.data, r.len, r.off);
  return r;
}

Napi::Value RunSync(const Napi::CallbackInfo& info, Op op) {
  Request r = ParseRequest(info, op);
  SysError e;
  int64_t n = Transfer(op, r.fd, r.data, r.len, r.off, e);
  if (e.err) throw ToJsError(info.Env(), e);
  if (op == Op::kSync) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

class IoWorker : public Napi::AsyncWorker {
 public:
  IoWorker(Napi::Env env, const Request& r, Napi::Value keepAlive)
      : Napi::AsyncWorker(env, "xdbm:io"), deferred_(Napi::Promise::Deferred::New(env)), req_(r) {
    // Holds the buffer so the GC cannot free its memory while the thread pool uses it.
    if (keepAlive.IsObject()) buf_ = Napi::Persistent(keepAlive.As<Napi::Object>());
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { n_ = Transfer(req_.op, req_.fd, req_.data, req_.len, req_.off, err_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_.err) {
      deferred_.Reject(ToJsError(env, err_).Value());
    } else if (req_.op == Op::kSync) {
      deferred_.Resolve(env.Undefined());
    } else {
      deferred_.Resolve(Napi::Number::New(env, static_cast<double>(n_)));
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Request req_;
  Napi::ObjectReference buf_;
  SysError err_;
  int64_t n_ = 0;
};

Napi::Value RunAsync(const Napi::CallbackInfo& info, Op op) {
  Napi::Env env = info.Env();
  try {
    Request r = ParseRequest(info, op);
    auto* w = new IoWorker(env, r, op == Op::kSync ? env.Undefined() : info[1]);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  } catch (const Napi::Error& e) {
    // Asynchronous forms never throw: a bad argument rejects the promise.
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(e.Value());
    return d.Promise();
  }
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) {
    throw InvalidArg(env, "open(path: string, opts: {direct, write, create?})");
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) throw InvalidArg(env, "path must be a non-empty string");
  Napi::Object o = info[1].As<Napi::Object>();
  bool direct = BoolProp(env, o, "direct", false, true);
  bool write = BoolProp(env, o, "write", false, true);
  bool create = BoolProp(env, o, "create", false, false);
  int flags = O_CLOEXEC | (write ? O_RDWR : O_RDONLY);
  if (direct) flags |= O_DIRECT;
  if (create) flags |= O_CREAT;
  int fd;
  do {
    fd = ::open(path.c_str(), flags, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    SysError e;
    e.err = errno;
    e.syscall = "open";
    e.path = path;
    if (direct && e.err == EINVAL) e.note = "the file system does not support O_DIRECT";
    throw ToJsError(env, e);
  }
  return Napi::Number::New(env, fd);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  // Linux releases the fd even when close() reports EINTR: never retry.
  if (::close(fd) != 0 && errno != EINTR) {
    SysError e;
    e.err = errno;
    e.syscall = "close";
    e.fd = fd;
    throw ToJsError(info.Env(), e);
  }
  return info.Env().Undefined();
}

}  // namespace

void InitIo(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("pwriteSync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return RunSync(i, Op::kWrite); }, "pwriteSync"));
  exports.Set("preadSync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return RunSync(i, Op::kRead); }, "preadSync"));
  exports.Set("fdatasyncSync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return RunSync(i, Op::kSync); }, "fdatasyncSync"));
  exports.Set("pwrite", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return RunAsync(i, Op::kWrite); }, "pwrite"));
  exports.Set("pread", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return RunAsync(i, Op::kRead); }, "pread"));
  exports.Set("fdatasync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return RunAsync(i, Op::kSync); }, "fdatasync"));
}

}  // namespace xdbm
