#include "engine/delivery_connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace sluice::engine {

DeliveryConnection* DeliveryConnection::Open(reactor::Reactor& reactor, Params params,
                                             Owner* owner) {
  auto* connection = new DeliveryConnection(reactor, std::move(params), owner);
  const reactor::SocketAddress* source =
      connection->params_.source.has_value() ? &*connection->params_.source : nullptr;
  reactor::TcpConnection::Connect(reactor, connection->params_.host.address, source,
                                  connection->params_.connect_timeout,
                                  [connection](absl::StatusOr<reactor::TcpConnection*> conn) {
                                    connection->OnConnected(conn);
                                  });
  return connection;
}

DeliveryConnection::DeliveryConnection(reactor::Reactor& reactor, Params params, Owner* owner)
    : reactor_(reactor),
      params_(std::move(params)),
      owner_(owner),
      session_(params_.session),
      chunk_size_(std::max<size_t>(1, params_.max_recipients)),
      opened_(reactor.clock().Now()) {}

std::string DeliveryConnection::tls_version() const {
  return stream_.has_value() && stream_->handshake_done()
             ? std::string(stream_->session()->version())
             : "";
}

std::string DeliveryConnection::tls_cipher() const {
  return stream_.has_value() && stream_->handshake_done()
             ? std::string(stream_->session()->cipher())
             : "";
}

void DeliveryConnection::OnConnected(absl::StatusOr<reactor::TcpConnection*> connection) {
  connect_time_ = reactor_.clock().Now() - opened_;
  if (!connection.ok()) {
    failure_ = smtp::ClientFailure{
        false,
        smtp::ServerReply::Local(
            421, "4.4.1",
            absl::StrCat("connect to ", params_.host.host, "[", params_.host.address.ToString(),
                         "] failed: ", connection.status().message())),
        absl::StrCat("connect failed: ", connection.status().message())};
    if (job_.has_value()) {
      FailRestOfJob(failure_->reply);
      FinishJob();
    }
    Finish();
    return;
  }
  conn_ = *connection;
  stream_.emplace(conn_);
  if (aborted_) {
    conn_->Close(absl::CancelledError("delivery stopping"));
    conn_->Start(this);
    return;
  }
  conn_->Start(this);
  Act(session_.action());
}

void DeliveryConnection::Send(DeliveryJob job) {
  job_ = std::move(job);
  job_result_ = smtp::DeliveryResult();
  job_next_ = 0;
  Act(SendNextChunk());
}

void DeliveryConnection::Quit() { Act(session_.Quit()); }

void DeliveryConnection::Abort() {
  aborted_ = true;
  if (conn_ != nullptr) conn_->Close(absl::CancelledError("delivery stopping"));
}

smtp::ClientAction DeliveryConnection::SendNextChunk() {
  // VERP: each recipient has its own sender, so its own transaction.
  const size_t chunk = job_->senders.empty() ? chunk_size_ : 1;
  const size_t count = std::min(chunk, job_->attempted.size() - job_next_);
  const size_t first = job_next_;
  job_next_ += count;
  return session_.SendMessage(ToOutbound(*job_, first, count));
}

void DeliveryConnection::Act(smtp::ClientAction action) {
  while (true) {
    Flush();
    switch (action) {
      case smtp::ClientAction::kReadMore:
        ArmTimer(session_.current_timeout());
        return;
      case smtp::ClientAction::kStartTls: {
        std::optional<smtp::ClientAction> next = StartTls();
        if (!next.has_value()) return;
        action = *next;
        continue;
      }
      case smtp::ClientAction::kReadyForMessage:
        CancelTimer();
        if (job_.has_value() && job_next_ < job_->attempted.size()) {
          action = SendNextChunk();
          continue;
        }
        if (aborted_) {
          action = session_.Quit();
          continue;
        }
        owner_->OnIdle(*this);
        return;
      case smtp::ClientAction::kMessageDone:
        CollectResult();
        action = session_.action();
        continue;
      case smtp::ClientAction::kClosed:
        CancelTimer();
        if (!failure_.has_value() && session_.failure().has_value()) failure_ = session_.failure();
        if (job_.has_value()) {
          FailRestOfJob(failure_.has_value()
                            ? failure_->reply
                            : smtp::ServerReply::Local(421, "4.4.2", "connection closed"));
          FinishJob();
        }
        if (conn_ != nullptr) {
          conn_->CloseAfterFlush();
        } else {
          Finish();
        }
        return;
    }
  }
}

void DeliveryConnection::Flush() {
  std::string out = session_.TakeOutput();
  if (out.empty() || !stream_.has_value()) return;
  (void)stream_->Send(std::move(out));  // fails only once TLS has: the session knows
}

std::optional<smtp::ClientAction> DeliveryConnection::StartTls() {
  tls_started_ = reactor_.clock().Now();
  if (params_.tls == nullptr) {
    tls_failed_ = true;
    return session_.TlsFailed("no TLS client context");
  }
  absl::StatusOr<std::unique_ptr<tls::TlsSession>> session = params_.tls->NewSession(
      params_.host.host,
      params_.verify_certificate ? tls::VerifyMode::kVerify : tls::VerifyMode::kNone);
  if (!session.ok()) {
    tls_failed_ = true;
    return session_.TlsFailed(std::string(session.status().message()));
  }
  if (absl::Status status = stream_->StartClient(*std::move(session)); !status.ok()) {
    tls_failed_ = true;
    return session_.TlsFailed(std::string(status.message()));
  }
  handshaking_ = true;
  ArmTimer(params_.session.timeouts.command);
  return std::nullopt;
}

void DeliveryConnection::OnData(reactor::TcpConnection& /*conn*/, absl::string_view data) {
  // After a failed handshake the session has been told; the rest is noise.
  if (!stream_.has_value() || stream_->failed()) return;
  const absl::StatusOr<absl::string_view> plain = stream_->Receive(data);
  if (handshaking_) {
    OnHandshakeData(plain);
    if (handshaking_ || stream_->failed() || conn_ == nullptr) return;
  }
  if (plain.ok() && !plain->empty())
    Act(session_.Feed(std::string_view(plain->data(), plain->size())));
  if (!plain.ok() || stream_->peer_closed()) {
    if (session_.action() != smtp::ClientAction::kClosed) Act(session_.PeerClosed());
  }
}

void DeliveryConnection::OnHandshakeData(const absl::StatusOr<absl::string_view>& plain) {
  if (!plain.ok()) {
    handshaking_ = false;
    tls_failed_ = true;
    Act(session_.TlsFailed(std::string(plain.status().message())));
    return;
  }
  if (!stream_->TakeHandshakeDone()) return;
  handshaking_ = false;
  tls_time_ = reactor_.clock().Now() - tls_started_;
  if (params_.tls_sessions != nullptr) params_.tls_sessions->Add(1);
  CancelTimer();
  Act(session_.TlsStarted());
}

void DeliveryConnection::OnPeerClosed(reactor::TcpConnection& /*conn*/) {
  if (HandshakeCut()) return;
  if (session_.action() != smtp::ClientAction::kClosed) {
    Act(session_.PeerClosed());
  } else if (conn_ != nullptr) {
    conn_->CloseAfterFlush();
  }
}

void DeliveryConnection::OnClosed(reactor::TcpConnection& /*conn*/,
                                  const absl::Status& /*reason*/) {
  conn_ = nullptr;
  if (stream_.has_value()) stream_->Detach();
  CancelTimer();
  if (HandshakeCut()) return;  // kClosed with conn_ gone finishes
  if (session_.action() != smtp::ClientAction::kClosed) {
    // A reset, or Abort(): the session hears it as a lost connection.
    Act(session_.PeerClosed());
    return;  // kClosed with conn_ gone finishes
  }
  Finish();
}

void DeliveryConnection::CollectResult() {
  smtp::DeliveryResult result = session_.TakeResult();
  for (smtp::RecipientResult& recipient : result.recipients) {
    job_result_.recipients.push_back(std::move(recipient));
  }
  job_result_.final_reply = std::move(result.final_reply);
  job_result_.data_sent = job_result_.data_sent || result.data_sent;
  if (job_.has_value() && job_next_ >= job_->attempted.size()) FinishJob();
}

void DeliveryConnection::FailRestOfJob(const smtp::ServerReply& reply) {
  while (job_result_.recipients.size() < job_->attempted.size()) {
    job_result_.recipients.push_back({smtp::RecipientStatus::kTemporaryFailure, reply});
  }
  job_next_ = job_->attempted.size();
  if (job_result_.final_reply.code == 0) job_result_.final_reply = reply;
}

void DeliveryConnection::FinishJob() {
  DeliveryJob job = *std::move(job_);
  job_.reset();
  ++jobs_done_;
  owner_->OnJobDone(*this, std::move(job), std::exchange(job_result_, {}));
}

void DeliveryConnection::ArmTimer(absl::Duration timeout) {
  CancelTimer();
  if (timeout == absl::InfiniteDuration()) return;
  timer_ = reactor_.RunAfter(timeout, [this] {
    timer_.reset();
    OnTimeout();
  });
}

bool DeliveryConnection::HandshakeCut() {
  if (!handshaking_ || aborted_) return false;
  // A server that drops the connection during the handshake (its answer
  // to the ClientHello lost with a reset) failed TLS like one that sent
  // garbage: opportunistic TLS tries that host without it next time.
  handshaking_ = false;
  tls_failed_ = true;
  if (stream_.has_value()) stream_->Fail(absl::UnavailableError("closed during the handshake"));
  Act(session_.TlsFailed("the server closed the connection during the TLS handshake"));
  return true;
}

void DeliveryConnection::CancelTimer() {
  if (timer_.has_value()) reactor_.CancelTimer(*timer_);
  timer_.reset();
}

void DeliveryConnection::OnTimeout() {
  if (handshaking_) {
    handshaking_ = false;
    tls_failed_ = true;
    stream_->Fail(absl::DeadlineExceededError("TLS handshake timed out"));
    Act(session_.TlsFailed("TLS handshake timed out"));
    return;
  }
  Act(session_.TimedOut());
}

void DeliveryConnection::Finish() {
  if (finished_) return;
  finished_ = true;
  CancelTimer();
  owner_->OnConnectionClosed(*this);
  reactor_.Defer([this] { delete this; });
}

}  // namespace sluice::engine
