#include "tests/reactor/blocking_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sluice::reactor::testing {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(errno)));
}

bool WaitReadable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

}  // namespace

absl::StatusOr<int> ConnectBlocking(const SocketAddress& to, const SocketAddress* source) {
  const int fd = socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  if (source != nullptr && bind(fd, source->sockaddr_ptr(), source->length()) != 0) {
    absl::Status status = Errno("bind");
    close(fd);
    return status;
  }
  if (connect(fd, to.sockaddr_ptr(), to.length()) != 0) {
    absl::Status status = Errno(absl::StrCat("connect ", to.ToString()));
    close(fd);
    return status;
  }
  return fd;
}

absl::Status SendAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("send");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RecvExactly(int fd, size_t n, int timeout_ms) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    if (!WaitReadable(fd, timeout_ms)) {
      return absl::DeadlineExceededError(absl::StrCat("read ", got, " of ", n, " bytes"));
    }
    const ssize_t r = recv(fd, out.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Errno("recv");
    }
    if (r == 0) return absl::UnavailableError(absl::StrCat("EOF after ", got, " of ", n, " bytes"));
    got += static_cast<size_t>(r);
  }
  return out;
}

absl::Status WaitForClose(int fd, int timeout_ms) {
  if (!WaitReadable(fd, timeout_ms)) return absl::DeadlineExceededError("peer did not close");
  char byte;
  const ssize_t r = recv(fd, &byte, 1, 0);
  if (r == 0 || (r < 0 && errno == ECONNRESET)) return absl::OkStatus();
  if (r > 0) return absl::FailedPreconditionError("peer sent data instead of closing");
  return Errno("recv");
}

void CloseWithReset(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

}  // namespace sluice::reactor::testing
