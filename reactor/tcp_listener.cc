#include "reactor/tcp_listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace sluice::reactor {
namespace {

// How long to stop accepting after the process or system ran out of
// descriptors or memory: long enough for connections to finish and free
// some, short enough that a client barely notices.
constexpr absl::Duration kResourceBackoff = absl::Milliseconds(50);

absl::StatusOr<int> OpenOne(const SocketAddress& address, int backlog) {
  const int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      bind(fd, address.sockaddr_ptr(), address.length()) != 0 || listen(fd, backlog) != 0) {
    const int error = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("listen on ", address.ToString(), ": ", strerror(error)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::vector<int>> TcpListener::OpenReusePort(const SocketAddress& address, int count,
                                                            int backlog) {
  std::vector<int> fds;
  SocketAddress bind_address = address;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<int> fd = OpenOne(bind_address, backlog);
    if (fd.ok() && i == 0 && address.port() == 0) {
      absl::StatusOr<SocketAddress> bound = SocketAddress::LocalOf(*fd);
      if (bound.ok()) bind_address.set_port(bound->port());
    }
    if (!fd.ok()) {
      for (int open_fd : fds) close(open_fd);
      return fd.status();
    }
    fds.push_back(*fd);
  }
  return fds;
}

TcpListener* TcpListener::Start(Reactor& reactor, int listen_fd, AcceptCallback on_accept) {
  auto* listener = new TcpListener(reactor, listen_fd, std::move(on_accept));
  listener->Arm();
  return listener;
}

TcpListener::TcpListener(Reactor& reactor, int fd, AcceptCallback on_accept)
    : reactor_(reactor), fd_(fd), on_accept_(std::move(on_accept)) {
  if (auto bound = SocketAddress::LocalOf(fd); bound.ok()) address_ = *bound;
}

void TcpListener::Arm() {
  io_uring_prep_multishot_accept(reactor_.PrepareSqe(this), fd_, nullptr, nullptr,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
  armed_ = true;
}

void TcpListener::OnComplete(int32_t res, uint32_t flags) {
  const bool final = (flags & IORING_CQE_F_MORE) == 0;
  if (final) armed_ = false;
  if (res >= 0) {
    if (closing_) {
      close(res);  // raced with Close(): nobody is left to serve it
    } else {
      ++accepted_;
      on_accept_(TcpConnection::Adopt(reactor_, res));
    }
  } else if (res != -ECANCELED) {
    ++accept_errors_;
    const bool out_of_resources =
        res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM;
    if (out_of_resources && !closing_ && !retry_timer_.valid()) {
      SLUICE_LOG(kWarning, "accept paused: out of resources")
          .Field("listen", address_.ToString())
          .Field("error", strerror(-res))
          .Field("retry_after", kResourceBackoff);
      if (armed_) reactor_.Cancel(this);
      retry_timer_ = reactor_.RunAfter(kResourceBackoff, [this] {
        retry_timer_ = TimerId{};
        if (!closing_ && !armed_) Arm();
      });
    }
    // Other errors (ECONNABORTED, a peer that reset before we accepted) are
    // about one connection; keep going.
  }
  if (closing_) {
    Finish();
    return;
  }
  if (final && !retry_timer_.valid()) Arm();
}

void TcpListener::Close(absl::AnyInvocable<void()> on_closed) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = std::move(on_closed);
  if (retry_timer_.valid()) {
    reactor_.CancelTimer(retry_timer_);
    retry_timer_ = TimerId{};
  }
  if (armed_) reactor_.Cancel(this);
  Finish();
}

void TcpListener::Finish() {
  // The cancelled accept still has to report back; and close only once,
  // even if Close() ran from inside the accept callback.
  if (armed_ || close_submitted_) return;
  close_submitted_ = true;
  io_uring_prep_close(reactor_.PrepareSqe(&close_op_), fd_);
}

void TcpListener::CloseOp::OnComplete(int32_t /*res*/, uint32_t /*flags*/) {
  absl::AnyInvocable<void()> on_closed = std::move(listener_->on_closed_);
  delete listener_;
  if (on_closed) on_closed();
}

}  // namespace sluice::reactor
