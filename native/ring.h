// A minimal io_uring ring on raw syscalls (no liburing): setup, mmap of the SQ/CQ rings and the SQE
// array, get an SQE, submit-and-wait, walk CQEs. Owns the ring fd and the mappings (RAII).
#pragma once

#include <linux/io_uring.h>

#include <cstddef>
#include <cstdint>

namespace xdbm {

class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring();

  // Returns 0, or the errno of io_uring_setup / mmap.
  int Setup(unsigned entries, const char** failedCall);
  // Next free SQE (zeroed), nullptr when the SQ is full.
  io_uring_sqe* GetSqe();
  // Submits what is queued and waits for at least waitNr completions, at most timeoutNs when
  // timeoutNs >= 0 and the kernel supports IORING_FEAT_EXT_ARG. Returns 0, ETIME or an errno.
  int SubmitAndWait(unsigned waitNr, int64_t timeoutNs = -1);
  // Next completion or nullptr; call CqeSeen() after using it.
  io_uring_cqe* PeekCqe();
  void CqeSeen();

 private:
  int fd_ = -1;
  bool extArg_ = false;
  void* sqRing_ = nullptr;
  size_t sqRingBytes_ = 0;
  void* cqRing_ = nullptr;  // == sqRing_ with IORING_FEAT_SINGLE_MMAP
  size_t cqRingBytes_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqesBytes_ = 0;

  unsigned* sqHead_ = nullptr;
  unsigned* sqTail_ = nullptr;
  unsigned sqMask_ = 0;
  unsigned sqEntries_ = 0;
  unsigned* sqArray_ = nullptr;
  unsigned sqLocalTail_ = 0;

  unsigned* cqHead_ = nullptr;
  unsigned* cqTail_ = nullptr;
  unsigned cqMask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
};

}  // namespace xdbm
