#include "tests/reactor/echo_service.h"

#include <utility>

namespace sluice::reactor::testing {

absl::StatusOr<std::unique_ptr<EchoService>> EchoService::Create(Reactor& reactor, int listen_fd) {
  std::unique_ptr<EchoService> service(new EchoService());
  EchoService* self = service.get();
  self->listener_ = TcpListener::Start(reactor, listen_fd, [self](TcpConnection* conn) {
    ++self->accepted_;
    self->connections_.insert(conn);
    conn->Start(self);
  });
  return service;
}

void EchoService::OnData(TcpConnection& conn, absl::string_view data) {
  conn.Send(data);
  if (conn.queued_send_bytes() > kMaxQueued) conn.PauseReading();
}

void EchoService::OnSendDrained(TcpConnection& conn) { conn.ResumeReading(); }

void EchoService::OnClosed(TcpConnection& conn, const absl::Status& /*reason*/) {
  connections_.erase(&conn);
  MaybeFinishStop();
}

void EchoService::Stop(absl::AnyInvocable<void()> done) {
  stopping_ = true;
  stop_done_ = std::move(done);
  listener_->Close([this] {
    listener_ = nullptr;
    MaybeFinishStop();
  });
  // Copy: Close() may not re-enter OnClosed synchronously, but be safe.
  std::vector<TcpConnection*> open(connections_.begin(), connections_.end());
  for (TcpConnection* conn : open) conn->Close();
}

void EchoService::MaybeFinishStop() {
  if (stopping_ && listener_ == nullptr && connections_.empty() && stop_done_) {
    std::exchange(stop_done_, nullptr)();
  }
}

}  // namespace sluice::reactor::testing
