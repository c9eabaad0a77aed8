// Completion: what an io_uring request reports back to.
//
// Every SQE a shard submits carries a Completion* as its user_data (never a
// raw fd). The object must stay alive until the request's final CQE (one
// without IORING_CQE_F_MORE); owners that can go away with requests in
// flight cancel them and defer their own destruction until then (see
// TcpConnection).
#pragma once

#include <cstdint>

namespace sluice::reactor {

class Completion {
 public:
  // `res` is the CQE result (>= 0 or -errno); `flags` the CQE flags.
  virtual void OnComplete(int32_t res, uint32_t flags) = 0;

 protected:
  ~Completion() = default;
};

}  // namespace sluice::reactor
