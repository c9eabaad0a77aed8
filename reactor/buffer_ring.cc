#include "reactor/buffer_ring.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sluice::reactor {

absl::StatusOr<std::unique_ptr<BufferRing>> BufferRing::Create(io_uring* ring, uint16_t group_id,
                                                               uint32_t count, uint32_t size) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("buffer ring count must be a power of two up to 32768, got ", count));
  }
  std::unique_ptr<BufferRing> br(new BufferRing(ring, group_id, count, size));
  const size_t ring_bytes = count * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat("mmap buffer ring: ", strerror(errno)));
  }
  br->buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(mem);
  reg.ring_entries = count;
  reg.bgid = group_id;
  if (int rc = io_uring_register_buf_ring(ring, &reg, 0); rc < 0) {
    return absl::UnavailableError(absl::StrCat("io_uring_register_buf_ring: ", strerror(-rc)));
  }
  br->registered_ = true;
  br->storage_ = std::make_unique<char[]>(static_cast<size_t>(count) * size);
  io_uring_buf_ring_init(br->buf_ring_);
  const int mask = io_uring_buf_ring_mask(count);
  for (uint32_t i = 0; i < count; ++i) {
    io_uring_buf_ring_add(br->buf_ring_, br->storage_.get() + static_cast<size_t>(i) * size, size,
                          static_cast<uint16_t>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(br->buf_ring_, static_cast<int>(count));
  return br;
}

BufferRing::BufferRing(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t size)
    : ring_(ring), group_id_(group_id), count_(count), size_(size) {}

BufferRing::~BufferRing() {
  if (registered_) io_uring_unregister_buf_ring(ring_, group_id_);
  if (buf_ring_ != nullptr) munmap(buf_ring_, count_ * sizeof(io_uring_buf));
}

void BufferRing::Recycle(uint16_t id) {
  io_uring_buf_ring_add(buf_ring_, storage_.get() + static_cast<size_t>(id) * size_, size_, id,
                        io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

}  // namespace sluice::reactor
