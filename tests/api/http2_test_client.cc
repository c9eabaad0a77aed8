#include "tests/api/http2_test_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sluice::api::testing {

Http2TestClient::~Http2TestClient() {
  nghttp2_session_del(session_);
  if (fd_ >= 0) close(fd_);
}

bool Http2TestClient::Connect(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

bool Http2TestClient::Exchange(const std::vector<int32_t>& ids, int timeout_ms) {
  auto done = [&] {
    return std::all_of(ids.begin(), ids.end(), [&](int32_t id) { return stream(id).closed; });
  };
  while (!done()) {
    const std::string out = TakeOutput();
    for (size_t sent = 0; sent < out.size();) {
      const ssize_t n = write(fd_, out.data() + sent, out.size() - sent);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return false;
    char buffer[65536];
    const ssize_t n = read(fd_, buffer, sizeof(buffer));
    if (n <= 0) return done();
    Feed(std::string(buffer, static_cast<size_t>(n)));
  }
  return true;
}

bool Http2TestClient::ReadUntilClosed(int timeout_ms) {
  while (true) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return false;
    char buffer[65536];
    const ssize_t n = read(fd_, buffer, sizeof(buffer));
    // A reset counts: our last frames may reach the socket after its close.
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0) return false;
    Feed(std::string(buffer, static_cast<size_t>(n)));
  }
}

}  // namespace sluice::api::testing
