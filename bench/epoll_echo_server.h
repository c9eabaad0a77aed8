// EpollEchoServer: the comparison peer for the reactor echo benchmark, a
// minimal, conventional single-threaded epoll echo server (level-triggered,
// non-blocking sockets, read then write back, queue what the socket would
// not take). Runs on its own thread until destroyed.
#pragma once

#include <atomic>
#include <thread>

#include "absl/status/statusor.h"
#include "reactor/socket_address.h"

namespace sluice::bench {

class EpollEchoServer {
 public:
  static absl::StatusOr<std::unique_ptr<EpollEchoServer>> Start();
  ~EpollEchoServer();

  const reactor::SocketAddress& address() const { return address_; }

 private:
  EpollEchoServer() = default;
  void Loop();

  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;
  reactor::SocketAddress address_;
  std::thread thread_;
};

}  // namespace sluice::bench
