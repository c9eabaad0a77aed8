#include "tests/tls/tls_echo_service.h"

#include <utility>

namespace sluice::tls::testing {

absl::StatusOr<std::unique_ptr<TlsEchoService>> TlsEchoService::Create(
    reactor::Reactor& reactor, int listen_fd, std::shared_ptr<const ServerContext> context) {
  std::unique_ptr<TlsEchoService> service(new TlsEchoService());
  TlsEchoService* self = service.get();
  self->context_ = std::move(context);
  self->listener_ =
      reactor::TcpListener::Start(reactor, listen_fd, [self](reactor::TcpConnection* conn) {
        absl::StatusOr<std::unique_ptr<TlsSession>> session = self->context_->NewSession();
        if (!session.ok()) {
          conn->Close(session.status());
          return;
        }
        auto stream = std::make_unique<TlsStream>(conn);
        stream->StartServer(*std::move(session));
        self->sessions_[conn] = std::move(stream);
        conn->Start(self);
      });
  return service;
}

void TlsEchoService::OnData(reactor::TcpConnection& conn, absl::string_view data) {
  auto it = sessions_.find(&conn);
  if (it == sessions_.end()) return;
  TlsStream& stream = *it->second;
  absl::StatusOr<absl::string_view> plain = stream.Receive(data);
  if (stream.TakeHandshakeDone()) {
    const TlsSession& session = *stream.session();
    HandshakeRecord record{std::string(session.version()), std::string(session.cipher()),
                           std::string(session.alpn()), std::string(session.sni()),
                           session.resumed()};
    std::lock_guard<std::mutex> lock(mutex_);
    records_.push_back(std::move(record));
    changed_.notify_all();
  }
  absl::Status status = plain.status();
  if (status.ok()) status = stream.Send(std::string(*plain));
  if (!status.ok()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      errors_.push_back(std::string(status.message()));
      changed_.notify_all();
    }
    stream.Close();
    return;
  }
  if (stream.peer_closed()) stream.Close();
}

void TlsEchoService::OnPeerClosed(reactor::TcpConnection& conn) { conn.CloseAfterFlush(); }

void TlsEchoService::OnClosed(reactor::TcpConnection& conn, const absl::Status& /*reason*/) {
  sessions_.erase(&conn);
  MaybeFinishStop();
}

void TlsEchoService::Stop(absl::AnyInvocable<void()> done) {
  stopping_ = true;
  stop_done_ = std::move(done);
  listener_->Close([this] {
    listener_ = nullptr;
    MaybeFinishStop();
  });
  std::vector<reactor::TcpConnection*> open;
  for (auto& [conn, session] : sessions_) open.push_back(conn);
  for (reactor::TcpConnection* conn : open) conn->Close();
}

void TlsEchoService::MaybeFinishStop() {
  if (stopping_ && listener_ == nullptr && sessions_.empty() && stop_done_) {
    std::exchange(stop_done_, nullptr)();
  }
}

bool TlsEchoService::WaitForHandshakes(size_t n, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                           [&] { return records_.size() >= n; });
}

std::vector<HandshakeRecord> TlsEchoService::records() {
  std::lock_guard<std::mutex> lock(mutex_);
  return records_;
}

std::vector<std::string> TlsEchoService::errors() {
  std::lock_guard<std::mutex> lock(mutex_);
  return errors_;
}

}  // namespace sluice::tls::testing
