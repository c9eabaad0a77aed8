// TcpListener: accepts connections on one listening socket with a multishot
// accept, on one shard's reactor.
//
// Each shard gets its own socket on the same address (SO_REUSEPORT), so the
// kernel spreads incoming connections across shards and no shard ever
// accepts for another. Running out of descriptors (EMFILE, ENFILE) or kernel
// memory pauses accepting for a moment and logs it; it never stops the
// listener for good. Owns itself like TcpConnection: after Close() it goes
// away once its accept request has finished. Used on its reactor's thread.
#pragma once

#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "reactor/completion.h"
#include "reactor/reactor.h"
#include "reactor/socket_address.h"
#include "reactor/tcp_connection.h"

namespace sluice::reactor {

class TcpListener final : public Completion {
 public:
  // Receives each accepted connection; call Start() on it (or Close()).
  using AcceptCallback = absl::AnyInvocable<void(TcpConnection*)>;

  // Opens `count` listening sockets bound to `address` with SO_REUSEPORT,
  // one per shard. Port 0 picks a free port once and binds every socket to
  // it. The caller owns the descriptors until it hands each to Start().
  static absl::StatusOr<std::vector<int>> OpenReusePort(const SocketAddress& address, int count,
                                                        int backlog = 4096);

  static TcpListener* Start(Reactor& reactor, int listen_fd, AcceptCallback on_accept);

  // Stops accepting and closes the socket; `on_closed` (optional) runs once
  // the listener is gone.
  void Close(absl::AnyInvocable<void()> on_closed = nullptr);

  const SocketAddress& address() const { return address_; }
  uint64_t accepted() const { return accepted_; }
  uint64_t accept_errors() const { return accept_errors_; }

  void OnComplete(int32_t res, uint32_t flags) override;

 private:
  TcpListener(Reactor& reactor, int fd, AcceptCallback on_accept);
  ~TcpListener() = default;

  void Arm();
  void Finish();

  // Completion for the final close of the socket.
  class CloseOp final : public Completion {
   public:
    explicit CloseOp(TcpListener* listener) : listener_(listener) {}
    void OnComplete(int32_t res, uint32_t flags) override;

   private:
    TcpListener* listener_;
  };

  Reactor& reactor_;
  const int fd_;
  SocketAddress address_;
  AcceptCallback on_accept_;
  absl::AnyInvocable<void()> on_closed_;
  CloseOp close_op_{this};
  bool armed_ = false;
  bool closing_ = false;
  bool close_submitted_ = false;
  TimerId retry_timer_;
  uint64_t accepted_ = 0;
  uint64_t accept_errors_ = 0;
};

}  // namespace sluice::reactor
