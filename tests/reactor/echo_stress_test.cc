// 1,000 concurrent loopback connections, each echoing 1 MiB through the
// reactor, every byte checked. The client is a plain epoll loop so it shares
// no code with what it tests.
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "reactor/shard_group.h"
#include "reactor/sharded.h"
#include "reactor/tcp_listener.h"
#include "tests/reactor/echo_service.h"

namespace sluice::reactor {
namespace {

constexpr int kConnections = 1000;
constexpr size_t kBytesPerConnection = 1 << 20;

// The byte at `offset` of connection `id`'s stream: differs per connection
// and per position, so a misrouted or reordered chunk is caught.
uint8_t PatternByte(int id, size_t offset) {
  return static_cast<uint8_t>((offset * 131 + static_cast<size_t>(id) * 7919 + (offset >> 12)) &
                              0xff);
}

struct Client {
  int fd = -1;
  int id = 0;
  size_t sent = 0;
  size_t received = 0;
  bool corrupt = false;
};

TEST(EchoStressTest, ThousandConnectionsEchoOneMebibyteEachWithEveryByteVerified) {
  ShardGroupOptions options;
  options.shards = 2;
  absl::StatusOr<std::unique_ptr<ShardGroup>> group = ShardGroup::Start(options);
  ASSERT_TRUE(group.ok()) << group.status();
  absl::StatusOr<std::vector<int>> fds =
      TcpListener::OpenReusePort(*SocketAddress::Parse("127.0.0.1:0"), (*group)->size());
  ASSERT_TRUE(fds.ok());
  const SocketAddress address = *SocketAddress::LocalOf((*fds)[0]);
  Sharded<testing::EchoService> echo(**group);
  const std::vector<int> listen_fds = *fds;
  ASSERT_TRUE(echo.Start([&](int shard, Reactor& reactor) {
                    return testing::EchoService::Create(reactor, listen_fds[shard]);
                  })
                  .ok());

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Client> clients(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    Client& c = clients[i];
    c.id = i;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(c.fd, 0);
    const int rc = connect(c.fd, address.sockaddr_ptr(), address.length());
    ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << strerror(errno);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = static_cast<uint32_t>(i);
    ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev), 0);
  }

  std::vector<uint8_t> chunk(64 * 1024);
  std::vector<epoll_event> events(256);
  int done = 0;
  while (done < kConnections) {
    // A generous bound on silence: only a stuck reactor reaches it.
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 30000);
    ASSERT_GT(n, 0) << "no progress for 30 s; " << done << " connections finished";
    for (int e = 0; e < n; ++e) {
      Client& c = clients[events[e].data.u32];
      if ((events[e].events & EPOLLOUT) && c.sent < kBytesPerConnection) {
        const size_t len = std::min(chunk.size(), kBytesPerConnection - c.sent);
        for (size_t k = 0; k < len; ++k) chunk[k] = PatternByte(c.id, c.sent + k);
        const ssize_t w = send(c.fd, chunk.data(), len, MSG_NOSIGNAL);
        if (w > 0) c.sent += static_cast<size_t>(w);
        ASSERT_TRUE(w > 0 || errno == EAGAIN) << strerror(errno);
        if (c.sent == kBytesPerConnection) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u32 = static_cast<uint32_t>(c.id);
          epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      }
      if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        while (true) {
          const ssize_t r = recv(c.fd, chunk.data(), chunk.size(), 0);
          if (r < 0 && errno == EAGAIN) break;
          ASSERT_GT(r, 0) << "connection " << c.id << " ended after " << c.received << " bytes";
          for (ssize_t k = 0; k < r; ++k) {
            c.corrupt |= chunk[k] != PatternByte(c.id, c.received + static_cast<size_t>(k));
          }
          c.received += static_cast<size_t>(r);
          ASSERT_LE(c.received, kBytesPerConnection);
          if (c.received == kBytesPerConnection) {
            epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
            close(c.fd);
            ++done;
            break;
          }
        }
      }
    }
  }
  close(ep);
  for (const Client& c : clients) {
    EXPECT_FALSE(c.corrupt) << "connection " << c.id;
    EXPECT_EQ(c.received, kBytesPerConnection);
  }
  echo.Stop();
  (*group)->Stop();
}

}  // namespace
}  // namespace sluice::reactor
