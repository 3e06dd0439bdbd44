// Raw io_uring ring, see ring.h. Memory ordering follows the kernel's io_uring documentation:
// acquire loads of the indexes the kernel writes, release stores of the ones we publish.
#include "ring.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xdbm {
namespace {

int SysSetup(unsigned entries, io_uring_params* p) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, p));
}

int SysEnter(int fd, unsigned toSubmit, unsigned minComplete, unsigned flags, void* arg, size_t argBytes) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, toSubmit, minComplete, flags, arg, argBytes));
}

template <typename T>
T* At(void* base, uint32_t off) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + off);
}

}  // namespace

Ring::~Ring() {
  if (sqes_) munmap(sqes_, sqesBytes_);
  if (cqRing_ && cqRing_ != sqRing_) munmap(cqRing_, cqRingBytes_);
  if (sqRing_) munmap(sqRing_, sqRingBytes_);
  if (fd_ >= 0) close(fd_);
}

int Ring::Setup(unsigned entries, const char** failedCall) {
  io_uring_params p;
  std::memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CLAMP;
  fd_ = SysSetup(entries, &p);
  if (fd_ < 0) {
    *failedCall = "io_uring_setup";
    return errno;
  }
  extArg_ = (p.features & IORING_FEAT_EXT_ARG) != 0;
  *failedCall = "mmap(io_uring)";
  sqRingBytes_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cqRingBytes_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single) {
    if (cqRingBytes_ > sqRingBytes_) sqRingBytes_ = cqRingBytes_;
    cqRingBytes_ = sqRingBytes_;
  }
  void* sq = mmap(nullptr, sqRingBytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) return errno;
  sqRing_ = sq;
  if (single) {
    cqRing_ = sqRing_;
  } else {
    void* cq = mmap(nullptr, cqRingBytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) return errno;
    cqRing_ = cq;
  }
  sqesBytes_ = p.sq_entries * sizeof(io_uring_sqe);
  void* sqes = mmap(nullptr, sqesBytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) return errno;
  sqes_ = static_cast<io_uring_sqe*>(sqes);

  sqHead_ = At<unsigned>(sqRing_, p.sq_off.head);
  sqTail_ = At<unsigned>(sqRing_, p.sq_off.tail);
  sqMask_ = *At<unsigned>(sqRing_, p.sq_off.ring_mask);
  sqEntries_ = *At<unsigned>(sqRing_, p.sq_off.ring_entries);
  sqArray_ = At<unsigned>(sqRing_, p.sq_off.array);
  sqLocalTail_ = *sqTail_;
  cqHead_ = At<unsigned>(cqRing_, p.cq_off.head);
  cqTail_ = At<unsigned>(cqRing_, p.cq_off.tail);
  cqMask_ = *At<unsigned>(cqRing_, p.cq_off.ring_mask);
  cqes_ = At<io_uring_cqe>(cqRing_, p.cq_off.cqes);
  *failedCall = "";
  return 0;
}

io_uring_sqe* Ring::GetSqe() {
  unsigned head = __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE);
  if (sqLocalTail_ - head >= sqEntries_) return nullptr;
  unsigned idx = sqLocalTail_ & sqMask_;
  io_uring_sqe* sqe = &sqes_[idx];
  std::memset(sqe, 0, sizeof *sqe);
  sqArray_[idx] = idx;
  ++sqLocalTail_;
  return sqe;
}

int Ring::SubmitAndWait(unsigned waitNr, int64_t timeoutNs) {
  __atomic_store_n(sqTail_, sqLocalTail_, __ATOMIC_RELEASE);
  for (;;) {
    unsigned toSubmit = sqLocalTail_ - __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE);
    unsigned flags = waitNr ? IORING_ENTER_GETEVENTS : 0;
    int r;
    if (timeoutNs >= 0 && extArg_ && waitNr) {
      __kernel_timespec ts;
      ts.tv_sec = timeoutNs / 1'000'000'000;
      ts.tv_nsec = timeoutNs % 1'000'000'000;
      io_uring_getevents_arg arg;
      std::memset(&arg, 0, sizeof arg);
      arg.ts = reinterpret_cast<uint64_t>(&ts);
      r = SysEnter(fd_, toSubmit, waitNr, flags | IORING_ENTER_EXT_ARG, &arg, sizeof arg);
    } else {
      r = SysEnter(fd_, toSubmit, waitNr, flags, nullptr, 0);
    }
    if (r >= 0) return 0;
    if (errno == EINTR) continue;
    if (errno == ETIME) return ETIME;
    // EAGAIN/EBUSY: the kernel is short of resources or the CQ is full; completions are waiting.
    if ((errno == EAGAIN || errno == EBUSY) && PeekCqe() != nullptr) return 0;
    return errno;
  }
}

io_uring_cqe* Ring::PeekCqe() {
  unsigned head = *cqHead_;
  if (head == __atomic_load_n(cqTail_, __ATOMIC_ACQUIRE)) return nullptr;
  return &cqes_[head & cqMask_];
}

void Ring::CqeSeen() { __atomic_store_n(cqHead_, *cqHead_ + 1, __ATOMIC_RELEASE); }

}  // namespace xdbm
