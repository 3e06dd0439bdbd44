// uringRunSync / uringRun: runs a UringJob (src/native/types.ts) over a region of an fd through a raw
// io_uring ring, keeping queueDepth operations in flight, and records each operation's completion
// latency in nanoseconds. When io_uring_setup fails the error code is XDBM_IO_URING_UNAVAILABLE, so
// callers can fall back to pread/pwrite.
#include <napi.h>

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "modules.h"
#include "ring.h"

namespace xdbm {
namespace {

constexpr unsigned kMaxQueueDepth = 4096;
constexpr uint64_t kMaxBlockBytes = 16u << 20;          // 16 MiB
constexpr uint64_t kMaxInflightBytes = 1ull << 30;      // queueDepth * blockBytes
constexpr uint64_t kMaxOps = 100'000'000;               // bounds the latency array

struct Job {
  int fd = -1;
  bool write = false;
  uint64_t blockBytes = 0;
  unsigned queueDepth = 1;
  uint64_t regionOffset = 0;
  uint64_t regionLength = 0;
  uint64_t totalOps = 0;     // 0 = unbounded (durationMs decides)
  uint64_t durationNs = 0;   // 0 = unbounded (totalOps decides)
  uint64_t stallNs = 0;      // 0 = wait for completions forever
  bool random = false;
  uint8_t fill = 0;
};

struct Outcome {
  uint64_t ops = 0;
  uint64_t errors = 0;
  uint64_t bytes = 0;
  uint64_t elapsedNs = 0;
  int firstErrno = 0;
  std::vector<double> latNs;
  SysError fatal;  // setup or ring failure: the job did not run (or could not finish)
};

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Job ParseJob(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Job j;
  j.fd = FdArg(info, 0);
  if (info.Length() < 2 || !info[1].IsObject()) throw InvalidArg(env, "job must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  Napi::Value op = o.Get("op");
  std::string ops = op.IsString() ? op.As<Napi::String>().Utf8Value() : "";
  if (ops != "read" && ops != "write") throw InvalidArg(env, "job.op must be 'read' or 'write'");
  j.write = ops == "write";
  j.blockBytes = static_cast<uint64_t>(IntProp(env, o, "blockBytes", 0, true));
  double qd = IntProp(env, o, "queueDepth", 1, true);
  j.queueDepth = qd > kMaxQueueDepth ? 0 : static_cast<unsigned>(qd);
  j.regionOffset = static_cast<uint64_t>(IntProp(env, o, "regionOffsetBytes", 0, true));
  j.regionLength = static_cast<uint64_t>(IntProp(env, o, "regionLengthBytes", 0, true));
  j.totalOps = static_cast<uint64_t>(IntProp(env, o, "totalOps", 0, false));
  j.durationNs = static_cast<uint64_t>(IntProp(env, o, "durationMs", 0, false)) * 1'000'000ull;
  j.stallNs = static_cast<uint64_t>(IntProp(env, o, "stallTimeoutMs", 0, false)) * 1'000'000ull;
  j.random = BoolProp(env, o, "random", false, true);
  double fill = IntProp(env, o, "fillByte", 0x5a, false);
  if (fill > 255) throw InvalidArg(env, "job.fillByte must be 0..255");
  j.fill = static_cast<uint8_t>(fill);

  if (j.queueDepth < 1) throw InvalidArg(env, "job.queueDepth must be 1.." + std::to_string(kMaxQueueDepth));
  if (j.blockBytes == 0 || j.blockBytes > kMaxBlockBytes) throw InvalidArg(env, "job.blockBytes must be 1..16 MiB");
  if (j.blockBytes * j.queueDepth > kMaxInflightBytes) throw InvalidArg(env, "job.queueDepth * blockBytes above 1 GiB");
  if (j.regionLength < j.blockBytes) throw InvalidArg(env, "job.regionLengthBytes is smaller than one block");
  if (j.totalOps == 0 && j.durationNs == 0) throw InvalidArg(env, "job needs totalOps or durationMs (> 0)");
  if (j.totalOps > kMaxOps) throw InvalidArg(env, "job.totalOps above 100 million");
  int fl = fcntl(j.fd, F_GETFL);
  if (fl >= 0 && (fl & O_DIRECT) &&
      (j.blockBytes % kDirectAlignBytes || j.regionOffset % kDirectAlignBytes)) {
    throw InvalidArg(env, "O_DIRECT job needs blockBytes and regionOffsetBytes aligned to 512 bytes");
  }
  return j;
}

// Small, fast generator for random offsets (xorshift64*).
struct Rng {
  uint64_t s;
  uint64_t Next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64); }
};

void Run(const Job& j, Outcome& out) {
  out.fatal.fd = j.fd;
  Ring ring;
  const char* failed = "";
  if (int err = ring.Setup(j.queueDepth, &failed)) {
    out.fatal.err = err;
    out.fatal.syscall = failed;
    out.fatal.fd = -1;
    out.fatal.code = "XDBM_IO_URING_UNAVAILABLE";
    out.fatal.note = "io_uring is not usable here; fall back to pread/pwrite";
    return;
  }
  const uint64_t bs = j.blockBytes;
  void* mem = nullptr;
  if (int err = posix_memalign(&mem, 4096, bs * j.queueDepth)) {
    out.fatal.err = err;
    out.fatal.syscall = "posix_memalign";
    return;
  }
  uint8_t* bufs = static_cast<uint8_t*>(mem);
  std::memset(bufs, j.write ? j.fill : 0, bs * j.queueDepth);

  const uint64_t blocks = j.regionLength / bs;
  Rng rng{NowNs() ^ (static_cast<uint64_t>(j.fd) << 32) ^ reinterpret_cast<uintptr_t>(mem) ^ 0x9E3779B97F4A7C15ull};
  uint64_t seq = 0;
  std::vector<uint64_t> startNs(j.queueDepth, 0);
  std::vector<unsigned> freeSlots;
  freeSlots.reserve(j.queueDepth);
  for (unsigned s = j.queueDepth; s > 0; --s) freeSlots.push_back(s - 1);
  std::vector<unsigned> batch;
  batch.reserve(j.queueDepth);
  if (j.totalOps) out.latNs.reserve(j.totalOps);

  const uint64_t t0 = NowNs();
  const uint64_t deadline = j.durationNs ? t0 + j.durationNs : UINT64_MAX;
  uint64_t issued = 0;
  unsigned inflight = 0;
  uint64_t lastDone = t0;
  uint64_t lastProgress = t0;
  bool ringBroken = false;
  for (;;) {
    uint64_t now = NowNs();
    batch.clear();
    while (!freeSlots.empty() && (j.totalOps == 0 || issued < j.totalOps) && now < deadline &&
           issued < kMaxOps) {
      io_uring_sqe* sqe = ring.GetSqe();
      if (!sqe) break;
      unsigned slot = freeSlots.back();
      freeSlots.pop_back();
      uint64_t blk = j.random ? rng.Below(blocks) : (seq++ % blocks);
      sqe->opcode = j.write ? IORING_OP_WRITE : IORING_OP_READ;
      sqe->fd = j.fd;
      sqe->addr = reinterpret_cast<uint64_t>(bufs + slot * bs);
      sqe->len = static_cast<uint32_t>(bs);
      sqe->off = j.regionOffset + blk * bs;
      sqe->user_data = slot;
      batch.push_back(slot);
      ++issued;
      ++inflight;
    }
    if (inflight == 0) break;
    now = NowNs();
    for (unsigned s : batch) startNs[s] = now;
    int64_t waitNs = -1;
    if (j.stallNs) {
      uint64_t stallAt = lastProgress + j.stallNs;
      if (now >= stallAt) {
        // A hung device: report a timeout instead of waiting forever. The in-flight operations
        // still own their buffers, so those are kept (see below).
        out.fatal.err = ETIMEDOUT;
        out.fatal.syscall = "io_uring_enter";
        out.fatal.note = std::to_string(inflight) + " operation(s) made no progress for " +
                         std::to_string(j.stallNs / 1'000'000) + " ms (stallTimeoutMs)";
        ringBroken = true;
        break;
      }
      waitNs = static_cast<int64_t>(stallAt - now);
    }
    int err = ring.SubmitAndWait(1, waitNs);
    if (err && err != ETIME) {  // ETIME: reap what there is, the stall is re-checked above
      out.fatal.err = err;
      out.fatal.syscall = "io_uring_enter";
      out.fatal.fd = -1;
      ringBroken = true;
      break;
    }
    now = NowNs();
    while (io_uring_cqe* cqe = ring.PeekCqe()) {
      unsigned slot = static_cast<unsigned>(cqe->user_data);
      int res = cqe->res;
      ring.CqeSeen();
      out.latNs.push_back(static_cast<double>(now - startNs[slot]));
      if (res == static_cast<int>(bs)) {
        ++out.ops;
        out.bytes += bs;
      } else {
        // A failed or short transfer is an error; a short one reports EIO.
        ++out.errors;
        if (!out.firstErrno) out.firstErrno = res < 0 ? -res : EIO;
      }
      freeSlots.push_back(slot);
      --inflight;
      lastDone = now;
      lastProgress = now;
    }
  }
  out.elapsedNs = lastDone - t0;
  // With the ring broken, operations may still be in flight on our buffers: keep the memory alive
  // rather than let the kernel write into freed memory (the ring's destructor waits on close).
  if (!ringBroken) std::free(mem);
}

Napi::Object ToJs(Napi::Env env, const Outcome& o) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("ops", static_cast<double>(o.ops));
  r.Set("errors", static_cast<double>(o.errors));
  r.Set("bytes", static_cast<double>(o.bytes));
  r.Set("elapsedNs", static_cast<double>(o.elapsedNs));
  Napi::Float64Array lat = Napi::Float64Array::New(env, o.latNs.size());
  if (!o.latNs.empty()) std::memcpy(lat.Data(), o.latNs.data(), o.latNs.size() * sizeof(double));
  r.Set("latenciesNs", lat);
  r.Set("firstErrno", o.firstErrno);
  return r;
}

Napi::Value RunSync(const Napi::CallbackInfo& info) {
  Job j = ParseJob(info);
  Outcome o;
  Run(j, o);
  if (o.fatal.err) throw ToJsError(info.Env(), o.fatal);
  return ToJs(info.Env(), o);
}

class UringWorker : public Napi::AsyncWorker {
 public:
  UringWorker(Napi::Env env, const Job& j)
      : Napi::AsyncWorker(env, "xdbm:uring"), deferred_(Napi::Promise::Deferred::New(env)), job_(j) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { Run(job_, out_); }
  void OnOK() override {
    if (out_.fatal.err) deferred_.Reject(ToJsError(Env(), out_.fatal).Value());
    else deferred_.Resolve(ToJs(Env(), out_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Job job_;
  Outcome out_;
};

Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    auto* w = new UringWorker(env, ParseJob(info));
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  } catch (const Napi::Error& e) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(e.Value());
    return d.Promise();
  }
}

}  // namespace

void InitUring(Napi::Env env, Napi::Object exports) {
  exports.Set("uringRunSync", Napi::Function::New(env, RunSync, "uringRunSync"));
  exports.Set("uringRun", Napi::Function::New(env, RunAsync, "uringRun"));
}

}  // namespace xdbm
