#include "reactor/tcp_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace sluice::reactor {
namespace {

void SetNoDelay(int fd) {
  // We batch our own writes (pipelined SMTP replies, whole HTTP responses),
  // so Nagle would only add latency.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

absl::Status ErrnoStatus(absl::string_view what, int error) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(error)));
}

}  // namespace

TcpConnection::TcpConnection(Reactor& reactor, int fd) : reactor_(reactor), fd_(fd) {}

TcpConnection* TcpConnection::Adopt(Reactor& reactor, int fd) {
  auto* conn = new TcpConnection(reactor, fd);
  SetNoDelay(fd);
  if (auto peer = SocketAddress::PeerOf(fd); peer.ok()) conn->peer_ = *peer;
  if (auto local = SocketAddress::LocalOf(fd); local.ok()) conn->local_ = *local;
  return conn;
}

void TcpConnection::Connect(Reactor& reactor, const SocketAddress& remote,
                            const SocketAddress* source, absl::Duration timeout,
                            ConnectCallback done) {
  // socket(), setsockopt() and bind() on a non-blocking socket return at
  // once; only the handshake itself waits, and that goes through the ring.
  const int fd = socket(remote.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    reactor.Defer([done = std::move(done), status = ErrnoStatus("socket", errno)]() mutable {
      done(status);
    });
    return;
  }
  if (source != nullptr) {
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, source->sockaddr_ptr(), source->length()) != 0) {
      absl::Status status = ErrnoStatus(absl::StrCat("bind to ", source->ToString()), errno);
      close(fd);
      reactor.Defer([done = std::move(done), status]() mutable { done(status); });
      return;
    }
  }
  auto* conn = new TcpConnection(reactor, fd);
  conn->state_ = State::kConnecting;
  conn->peer_ = remote;
  conn->connect_done_ = std::move(done);
  const bool linked = timeout > absl::ZeroDuration();
  reactor.ReserveSqes(linked ? 2 : 1);
  io_uring_sqe* sqe = reactor.PrepareSqe(&conn->connect_op_);
  io_uring_prep_connect(sqe, fd, conn->peer_.sockaddr_ptr(), conn->peer_.length());
  ++conn->ops_in_flight_;
  if (linked) {
    sqe->flags |= IOSQE_IO_LINK;
    const int64_t ns = absl::ToInt64Nanoseconds(timeout);
    conn->connect_timeout_.tv_sec = ns / 1'000'000'000;
    conn->connect_timeout_.tv_nsec = ns % 1'000'000'000;
    io_uring_prep_link_timeout(reactor.PrepareUnobservedSqe(), &conn->connect_timeout_, 0);
  }
}

void TcpConnection::OnConnect(int32_t res, uint32_t /*flags*/) {
  --ops_in_flight_;
  ConnectCallback done = std::move(connect_done_);
  if (res == 0 && state_ == State::kConnecting) {
    state_ = State::kOpen;
    SetNoDelay(fd_);
    if (auto local = SocketAddress::LocalOf(fd_); local.ok()) local_ = *local;
    done(this);
    return;
  }
  absl::Status status =
      res == -ECANCELED
          ? absl::DeadlineExceededError(absl::StrCat("connect to ", peer_.ToString(), " timed out"))
          : ErrnoStatus(absl::StrCat("connect to ", peer_.ToString()), -res);
  Close(status);
  done(status);
}

void TcpConnection::Start(Handler* handler) {
  handler_ = handler;
  if (state_ == State::kOpen && want_read_ && !recv_armed_) ArmRecv();
}

void TcpConnection::ArmRecv() {
  io_uring_sqe* sqe = reactor_.PrepareSqe(&recv_op_);
  io_uring_prep_recv_multishot(sqe, fd_, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = reactor_.recv_buffers().group_id();
  recv_armed_ = true;
  ++ops_in_flight_;
}

void TcpConnection::OnRecv(int32_t res, uint32_t flags) {
  const bool final = (flags & IORING_CQE_F_MORE) == 0;
  if (final) {
    recv_armed_ = false;
    --ops_in_flight_;
  }
  if (res > 0) {
    BufferRing& buffers = reactor_.recv_buffers();
    const auto id = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    if (state_ == State::kOpen && handler_ != nullptr) {
      handler_->OnData(*this, buffers.Data(id, static_cast<uint32_t>(res)));
    }
    buffers.Recycle(id);
  } else if (res == 0) {
    if (state_ == State::kOpen && !peer_closed_) {
      peer_closed_ = true;
      if (handler_ != nullptr) handler_->OnPeerClosed(*this);
    }
  } else if (res != -ENOBUFS && res != -ECANCELED) {
    // -ENOBUFS: every provided buffer was busy; re-arming below retries.
    Close(ErrnoStatus("recv", -res));
  }
  if (state_ != State::kOpen) {
    MaybeFinishClose();
    return;
  }
  if (final && want_read_ && !peer_closed_ && !recv_armed_) ArmRecv();
}

void TcpConnection::PauseReading() {
  want_read_ = false;
  if (recv_armed_) reactor_.Cancel(&recv_op_);
}

void TcpConnection::ResumeReading() {
  want_read_ = true;
  if (state_ == State::kOpen && handler_ != nullptr && !recv_armed_ && !peer_closed_) ArmRecv();
}

void TcpConnection::Send(absl::string_view bytes) {
  if (state_ != State::kOpen || bytes.empty()) return;
  pending_.append(bytes.data(), bytes.size());
  if (!send_in_flight_) SubmitSend();
}

void TcpConnection::Send(std::string&& bytes) {
  if (state_ != State::kOpen || bytes.empty()) return;
  if (pending_.empty()) {
    pending_ = std::move(bytes);
  } else {
    pending_.append(bytes);
  }
  if (!send_in_flight_) SubmitSend();
}

void TcpConnection::SubmitSend() {
  if (sent_ == sending_.size()) {
    sending_.clear();
    sent_ = 0;
    sending_.swap(pending_);
  }
  if (sending_.empty()) return;
  io_uring_sqe* sqe = reactor_.PrepareSqe(&send_op_);
  // MSG_NOSIGNAL: a peer that went away is an EPIPE result, not a SIGPIPE.
  io_uring_prep_send(sqe, fd_, sending_.data() + sent_, sending_.size() - sent_, MSG_NOSIGNAL);
  send_in_flight_ = true;
  ++ops_in_flight_;
}

void TcpConnection::OnSend(int32_t res, uint32_t /*flags*/) {
  --ops_in_flight_;
  send_in_flight_ = false;
  if (state_ != State::kOpen) {
    MaybeFinishClose();
    return;
  }
  if (res < 0) {
    Close(ErrnoStatus("send", -res));
    return;
  }
  sent_ += static_cast<size_t>(res);
  if (sent_ < sending_.size() || !pending_.empty()) {
    SubmitSend();  // the rest of a short write, or what queued up meanwhile
    return;
  }
  if (close_after_flush_) {
    Close();
    return;
  }
  if (handler_ != nullptr) handler_->OnSendDrained(*this);
}

void TcpConnection::CloseAfterFlush() {
  if (state_ != State::kOpen) return;
  close_after_flush_ = true;
  PauseReading();
  if (!send_in_flight_ && queued_send_bytes() == 0) Close();
}

void TcpConnection::Close(absl::Status reason) {
  if (state_ == State::kClosing || state_ == State::kClosed) return;
  state_ = State::kClosing;
  close_reason_ = std::move(reason);
  if (ops_in_flight_ > 0) reactor_.CancelAll(fd_);
  MaybeFinishClose();
}

void TcpConnection::MaybeFinishClose() {
  if (state_ != State::kClosing || ops_in_flight_ > 0) return;
  // The kernel holds no more requests pointing into this object: close the
  // descriptor, then let the handler know and go away.
  state_ = State::kClosed;
  io_uring_prep_close(reactor_.PrepareSqe(&close_op_), fd_);
}

void TcpConnection::OnCloseDone(int32_t /*res*/, uint32_t /*flags*/) {
  if (handler_ != nullptr) handler_->OnClosed(*this, close_reason_);
  delete this;
}

}  // namespace sluice::reactor
