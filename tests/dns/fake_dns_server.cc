#include "tests/dns/fake_dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sluice::dns::testing {

absl::StatusOr<std::unique_ptr<FakeDnsServer>> FakeDnsServer::Start(Mode mode) {
  std::unique_ptr<FakeDnsServer> server(new FakeDnsServer());
  server->fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(server->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(server->fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return absl::InternalError(absl::StrCat("bind: ", strerror(errno)));
  }
  server->port_ = ntohs(addr.sin_port);
  if (mode == Mode::kServFail) {
    server->stop_fd_ = eventfd(0, EFD_CLOEXEC);
    server->thread_ = std::thread([s = server.get()] { s->Serve(); });
  }
  return server;
}

FakeDnsServer::~FakeDnsServer() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (stop_fd_ >= 0) close(stop_fd_);
  if (fd_ >= 0) close(fd_);
}

std::string FakeDnsServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

void FakeDnsServer::Serve() {
  uint8_t buf[4096];
  while (true) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    const ssize_t n =
        recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
    if (n < 12) continue;
    ++queries_;
    // Echo the query (id, question) back as a SERVFAIL response.
    buf[2] = static_cast<uint8_t>(0x80 | (buf[2] & 0x01));  // QR, keep RD
    buf[3] = 0x80 | 2;                                      // RA, RCODE 2
    sendto(fd_, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer), peer_len);
  }
}

}  // namespace sluice::dns::testing
