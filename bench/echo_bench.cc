// Loopback echo: the reactor (one shard) against a minimal epoll server
// (one thread), driven by the same epoll client in the same run.
//
//   bazel run -c opt //bench:echo_bench
//
// Each iteration is one round trip on every connection: the client writes a
// message of `size` bytes on each of `connections` sockets, then reads each
// echo back in full. Compare BM_ReactorEcho with BM_EpollEcho at equal
// arguments; the reactor should not be slower.
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "bench/epoll_echo_server.h"
#include "reactor/shard_group.h"
#include "reactor/sharded.h"
#include "reactor/tcp_listener.h"
#include "tests/reactor/echo_service.h"

namespace sluice::bench {
namespace {

// The benchmark client: `connections` non-blocking sockets on one epoll.
class EchoClient {
 public:
  EchoClient(const reactor::SocketAddress& server, int connections, size_t size)
      : size_(size), message_(size, 'm'), buffer_(size) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < connections; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (connect(fd, server.sockaddr_ptr(), server.length()) != 0) {
        ok_ = false;
        close(fd);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<uint32_t>(fds_.size());
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
      fds_.push_back(fd);
    }
    remaining_.resize(fds_.size());
  }
  ~EchoClient() {
    for (int fd : fds_) close(fd);
    close(epoll_fd_);
  }

  bool ok() const { return ok_; }

  // One round trip on every connection. Returns false on any failure.
  bool RoundTrip() {
    for (size_t i = 0; i < fds_.size(); ++i) {
      if (send(fds_[i], message_.data(), size_, MSG_NOSIGNAL) != static_cast<ssize_t>(size_)) {
        return false;  // blocking sockets: a short send means trouble
      }
      remaining_[i] = size_;
    }
    size_t waiting = fds_.size();
    epoll_event events[256];
    while (waiting > 0) {
      const int n = epoll_wait(epoll_fd_, events, 256, 10000);
      if (n <= 0) return false;
      for (int e = 0; e < n; ++e) {
        const uint32_t i = events[e].data.u32;
        if (remaining_[i] == 0) continue;
        const ssize_t r = recv(fds_[i], buffer_.data(), remaining_[i], MSG_DONTWAIT);
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) continue;
          return false;
        }
        remaining_[i] -= static_cast<size_t>(r);
        if (remaining_[i] == 0) --waiting;
      }
    }
    return true;
  }

  size_t connections() const { return fds_.size(); }

 private:
  const size_t size_;
  std::vector<char> message_;
  std::vector<char> buffer_;
  std::vector<int> fds_;
  std::vector<size_t> remaining_;
  int epoll_fd_ = -1;
  bool ok_ = true;
};

void RunEcho(benchmark::State& state, const reactor::SocketAddress& server) {
  const int connections = static_cast<int>(state.range(0));
  const size_t size = static_cast<size_t>(state.range(1));
  EchoClient client(server, connections, size);
  if (!client.ok()) {
    state.SkipWithError("connect failed");
    return;
  }
  for (auto _ : state) {
    if (!client.RoundTrip()) {
      state.SkipWithError("round trip failed");
      return;
    }
  }
  const auto messages = static_cast<int64_t>(state.iterations()) * connections;
  state.SetItemsProcessed(messages);
  state.SetBytesProcessed(messages * static_cast<int64_t>(size) * 2);
}

void BM_ReactorEcho(benchmark::State& state) {
  reactor::ShardGroupOptions options;
  options.shards = 1;
  auto group = reactor::ShardGroup::Start(options);
  auto fds = reactor::TcpListener::OpenReusePort(*reactor::SocketAddress::Parse("127.0.0.1:0"), 1);
  if (!group.ok() || !fds.ok()) {
    state.SkipWithError("cannot start the reactor");
    return;
  }
  const reactor::SocketAddress address = *reactor::SocketAddress::LocalOf((*fds)[0]);
  reactor::Sharded<reactor::testing::EchoService> echo(**group);
  const int listen_fd = (*fds)[0];
  if (!echo.Start([listen_fd](int, reactor::Reactor& reactor) {
             return reactor::testing::EchoService::Create(reactor, listen_fd);
           })
           .ok()) {
    state.SkipWithError("cannot start the echo service");
    return;
  }
  RunEcho(state, address);
  echo.Stop();
  (*group)->Stop();
}

void BM_EpollEcho(benchmark::State& state) {
  auto server = EpollEchoServer::Start();
  if (!server.ok()) {
    state.SkipWithError("cannot start the epoll server");
    return;
  }
  RunEcho(state, (*server)->address());
}

// {connections, message bytes}
#define ECHO_ARGS              \
  ArgNames({"conns", "bytes"}) \
      ->Args({1, 64})          \
      ->Args({64, 64})         \
      ->Args({64, 4096})       \
      ->Args({16, 65536})      \
      ->UseRealTime()

BENCHMARK(BM_ReactorEcho)->ECHO_ARGS;
BENCHMARK(BM_EpollEcho)->ECHO_ARGS;

}  // namespace
}  // namespace sluice::bench

BENCHMARK_MAIN();
