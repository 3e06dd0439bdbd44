// deviceInfo(fd): size and block sizes. Block devices answer ioctl BLKGETSIZE64 / BLKSSZGET /
// BLKPBSZGET; regular files answer fstat, with the O_DIRECT offset alignment from statx
// (STATX_DIOALIGN, Linux 6.1+) as their logical block size (512 when the kernel does not say).
#include <napi.h>

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "args.h"
#include "errors.h"
#include "modules.h"

namespace xdbm {
namespace {

struct Info {
  uint64_t sizeBytes = 0;
  uint32_t logical = 512;
  uint32_t physical = 512;
  bool isBlock = false;
};

[[noreturn]] void Fail(Napi::Env env, const char* syscall, int fd) {
  SysError e;
  e.err = errno;
  e.syscall = syscall;
  e.fd = fd;
  throw ToJsError(env, e);
}

// O_DIRECT offset alignment of a file, 0 when the kernel does not report it.
uint32_t FileDioAlign(int fd) {
#ifdef STATX_DIOALIGN
  struct statx sx;
  std::memset(&sx, 0, sizeof sx);
  if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
    return sx.stx_dio_offset_align;
  }
#else
  (void)fd;
#endif
  return 0;
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  struct stat st;
  if (fstat(fd, &st) != 0) Fail(env, "fstat", fd);
  Info r;
  if (S_ISBLK(st.st_mode)) {
    r.isBlock = true;
    uint64_t size = 0;
    int lbs = 0;
    unsigned int pbs = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) != 0) Fail(env, "ioctl(BLKGETSIZE64)", fd);
    if (ioctl(fd, BLKSSZGET, &lbs) != 0) Fail(env, "ioctl(BLKSSZGET)", fd);
    if (ioctl(fd, BLKPBSZGET, &pbs) != 0) Fail(env, "ioctl(BLKPBSZGET)", fd);
    r.sizeBytes = size;
    r.logical = static_cast<uint32_t>(lbs);
    r.physical = pbs;
  } else {
    r.sizeBytes = static_cast<uint64_t>(st.st_size);
    uint32_t dio = FileDioAlign(fd);
    r.logical = dio ? dio : 512;
    r.physical = st.st_blksize > 0 ? static_cast<uint32_t>(st.st_blksize) : r.logical;
    if (r.physical < r.logical) r.physical = r.logical;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("sizeBytes", static_cast<double>(r.sizeBytes));
  o.Set("logicalBlockBytes", r.logical);
  o.Set("physicalBlockBytes", r.physical);
  o.Set("isBlockDevice", r.isBlock);
  return o;
}

}  // namespace

void InitDevice(Napi::Env env, Napi::Object exports) {
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo, "deviceInfo"));
}

}  // namespace xdbm
