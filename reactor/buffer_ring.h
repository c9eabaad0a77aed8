// BufferRing: the provided-buffer ring a reactor hands to multishot recv.
//
// The kernel picks a free buffer for each receive, so an idle connection
// holds no receive memory at all. A buffer handed to a completion must be
// given back with Recycle() once its bytes are consumed; the reactor's
// receive path does that right after the handler returns.
//
// liburing 2.3 has no io_uring_setup_buf_ring helper, so the ring is
// allocated and registered by hand. Owned by one Reactor, used on its thread.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice::reactor {

class BufferRing {
 public:
  // `count` must be a power of two no larger than 32768.
  static absl::StatusOr<std::unique_ptr<BufferRing>> Create(io_uring* ring, uint16_t group_id,
                                                            uint32_t count, uint32_t size);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  uint16_t group_id() const { return group_id_; }
  uint32_t buffer_size() const { return size_; }

  // The bytes a completion delivered into buffer `id`.
  absl::string_view Data(uint16_t id, uint32_t length) const {
    return absl::string_view(storage_.get() + static_cast<size_t>(id) * size_, length);
  }

  // Returns buffer `id` to the kernel.
  void Recycle(uint16_t id);

 private:
  BufferRing(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t size);

  io_uring* ring_;
  const uint16_t group_id_;
  const uint32_t count_;
  const uint32_t size_;
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::unique_ptr<char[]> storage_;
  bool registered_ = false;
};

}  // namespace sluice::reactor
