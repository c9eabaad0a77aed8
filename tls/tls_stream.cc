#include "tls/tls_stream.h"

#include <string_view>
#include <utility>

namespace sluice::tls {

void TlsStream::StartServer(std::unique_ptr<TlsSession> session) { session_ = std::move(session); }

absl::Status TlsStream::StartClient(std::unique_ptr<TlsSession> session) {
  session_ = std::move(session);
  absl::Status status = session_->Handshake();
  SendCiphertext();
  if (!status.ok()) error_ = status;
  return status;
}

absl::StatusOr<absl::string_view> TlsStream::Receive(absl::string_view bytes) {
  if (!error_.ok()) return error_;
  if (session_ == nullptr) return bytes;
  session_->FeedCiphertext(std::string_view(bytes.data(), bytes.size()));
  plain_.clear();
  absl::Status status = session_->ReadPlaintext(&plain_);
  SendCiphertext();  // also an alert after a failure
  if (!status.ok()) {
    error_ = status;
    return status;
  }
  return absl::string_view(plain_);
}

absl::Status TlsStream::Send(std::string plain) {
  if (!error_.ok()) return error_;
  if (plain.empty() || conn_ == nullptr) return absl::OkStatus();
  if (session_ == nullptr) {
    conn_->Send(std::move(plain));
    return absl::OkStatus();
  }
  if (absl::Status status = session_->WritePlaintext(plain); !status.ok()) {
    error_ = status;
    return status;
  }
  SendCiphertext();
  return absl::OkStatus();
}

void TlsStream::Close() {
  if (conn_ == nullptr) return;
  if (error_.ok() && handshake_done()) {
    (void)session_->Shutdown();  // the connection closes either way
    SendCiphertext();
  }
  conn_->CloseAfterFlush();
}

void TlsStream::Fail(absl::Status reason) {
  if (error_.ok()) error_ = std::move(reason);
}

bool TlsStream::TakeHandshakeDone() {
  if (handshake_reported_ || !handshake_done()) return false;
  handshake_reported_ = true;
  return true;
}

void TlsStream::SendCiphertext() {
  if (conn_ != nullptr && session_->HasCiphertext()) conn_->Send(session_->TakeCiphertext());
}

}  // namespace sluice::tls
