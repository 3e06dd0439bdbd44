// Errors thrown by the addon: a JS Error with `code` (an XDBM_* code of src/errors.ts), `errno`
// (positive), `syscallCode` ('EIO', ...), `syscall`, and where known `path` and `offsetBytes`.
// SysError is a plain value so that worker threads can carry it to the main thread.
#pragma once

#include <napi.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

namespace xdbm {

struct SysError {
  int err = 0;                // positive errno, 0 = no error
  const char* syscall = "";   // "pwrite", "io_uring_setup", ...
  int fd = -1;                // fd involved, -1 when none
  int64_t offset = -1;        // byte offset, -1 when none
  std::string path;           // path when known (open), else resolved from fd on the error path
  std::string note;           // extra words for the message
  const char* code = nullptr; // overrides the code derived from err
};

inline const char* ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* n = strerrorname_np(err)) return n;
#endif
  switch (err) {
    case EIO: return "EIO";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ENOSPC: return "ENOSPC";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case ENOMEM: return "ENOMEM";
    default: return "EUNKNOWN";
  }
}

// Stable XDBM_* code for an errno.
inline const char* CodeForErrno(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT: return "XDBM_NO_SPACE";
    case ETIMEDOUT: return "XDBM_IO_TIMEOUT";
    case ESTALE: return "XDBM_STALE_HANDLE";
    case EINVAL: return "XDBM_INVALID_ARGUMENT";
    default: return "XDBM_IO_ERROR";
  }
}

// Path behind an fd (error path only), "" when unknown.
inline std::string PathOfFd(int fd) {
  if (fd < 0) return "";
  char link[64];
  char target[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return "";
  return std::string(target, static_cast<size_t>(n));
}

inline Napi::Error ToJsError(Napi::Env env, const SysError& e) {
  std::string path = e.path.empty() ? PathOfFd(e.fd) : e.path;
  std::string msg = e.syscall;
  msg += "(";
  bool first = true;
  auto add = [&](const std::string& s) { msg += first ? "" : ", "; msg += s; first = false; };
  if (e.fd >= 0) add("fd " + std::to_string(e.fd));
  if (!path.empty()) add(path);
  if (e.offset >= 0) add("offset " + std::to_string(e.offset));
  msg += "): ";
  msg += ErrnoName(e.err);
  msg += " (";
  msg += std::strerror(e.err);
  msg += ")";
  if (!e.note.empty()) msg += ": " + e.note;
  Napi::Error err = Napi::Error::New(env, msg);
  Napi::Object o = err.Value();
  o.Set("code", e.code ? e.code : CodeForErrno(e.err));
  o.Set("errno", e.err);
  o.Set("syscallCode", ErrnoName(e.err));
  o.Set("syscall", e.syscall);
  if (e.fd >= 0) o.Set("fd", e.fd);
  if (!path.empty()) o.Set("path", path);
  if (e.offset >= 0) o.Set("offsetBytes", static_cast<double>(e.offset));
  return err;
}

// An argument rejected before any syscall: XDBM_INVALID_ARGUMENT, errno EINVAL.
inline Napi::Error InvalidArg(Napi::Env env, const std::string& what) {
  Napi::Error err = Napi::Error::New(env, what);
  Napi::Object o = err.Value();
  o.Set("code", "XDBM_INVALID_ARGUMENT");
  o.Set("errno", EINVAL);
  o.Set("syscallCode", "EINVAL");
  return err;
}

}  // namespace xdbm
