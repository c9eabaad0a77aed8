// EchoService: a per-shard TCP echo server on the reactor, for tests and the
// echo benchmark. Sends back every byte it receives; pauses reading while
// more than kMaxQueued bytes wait to be sent, so a fast client cannot make
// it buffer without bound. Satisfies Sharded<T>'s Stop contract.
#pragma once

#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "reactor/reactor.h"
#include "reactor/tcp_connection.h"
#include "reactor/tcp_listener.h"

namespace sluice::reactor::testing {

class EchoService final : public TcpConnection::Handler {
 public:
  static constexpr size_t kMaxQueued = 1 << 20;

  static absl::StatusOr<std::unique_ptr<EchoService>> Create(Reactor& reactor, int listen_fd);

  void Stop(absl::AnyInvocable<void()> done);

  size_t open_connections() const { return connections_.size(); }
  uint64_t accepted() const { return accepted_; }

  void OnData(TcpConnection& conn, absl::string_view data) override;
  void OnSendDrained(TcpConnection& conn) override;
  void OnClosed(TcpConnection& conn, const absl::Status& reason) override;

 private:
  EchoService() = default;
  void MaybeFinishStop();

  TcpListener* listener_ = nullptr;
  absl::flat_hash_set<TcpConnection*> connections_;
  uint64_t accepted_ = 0;
  absl::AnyInvocable<void()> stop_done_;
  bool stopping_ = false;
};

}  // namespace sluice::reactor::testing
