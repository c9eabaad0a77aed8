// FakeDnsServer: a hand-written UDP name server for the failures a real one
// will not produce on demand. kServFail answers every question with
// SERVFAIL; kSilent binds its port and never reads, so every query times
// out. Counts the questions it received (kServFail only).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace sluice::dns::testing {

class FakeDnsServer {
 public:
  enum class Mode { kServFail, kSilent };

  static absl::StatusOr<std::unique_ptr<FakeDnsServer>> Start(Mode mode);
  ~FakeDnsServer();

  std::string address() const;
  int queries() const { return queries_.load(); }

 private:
  FakeDnsServer() = default;
  void Serve();

  int fd_ = -1;
  int stop_fd_ = -1;  // eventfd
  uint16_t port_ = 0;
  std::atomic<int> queries_{0};
  std::thread thread_;
};

}  // namespace sluice::dns::testing
