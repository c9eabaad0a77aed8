// TlsStream: a TCP connection's byte stream in plaintext or, once TLS has
// started, through a TlsSession. It is the glue every TLS user wrote by
// hand: feed what the socket read, send what the session produced (the
// handshake, tickets, alerts), encrypt what the protocol writes, and close
// with close_notify. The protocol above (SMTP server or client, HTTP) sees
// only plaintext.
//
//   TlsStream stream(conn);                 // plaintext until TLS starts
//   stream.StartServer(std::move(session));  // implicit TLS, or after STARTTLS
//   // in OnData:
//   absl::StatusOr<absl::string_view> plain = stream.Receive(data);
//   if (!plain.ok()) { stream.Close(); return; }  // the alert is already sent
//   if (stream.TakeHandshakeDone()) { ...count it, read alpn()... }
//   protocol.Feed(*plain);
//   if (stream.peer_closed()) ...           // close_notify arrived
//   stream.Send(protocol.TakeOutput());
//
// After a TLS error the stream is dead: Receive and Send return that error
// and send nothing. Used on the connection's shard; the connection must
// outlive the stream or be Detach()ed first.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "reactor/tcp_connection.h"
#include "tls/tls_session.h"

namespace sluice::tls {

class TlsStream {
 public:
  explicit TlsStream(reactor::TcpConnection* conn) : conn_(conn) {}
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // From now on bytes are TLS. A server waits for the ClientHello; a
  // client sends its ClientHello now (an error: the handshake could not
  // start). Bytes the protocol buffered before this point must not be fed.
  void StartServer(std::unique_ptr<TlsSession> session);
  absl::Status StartClient(std::unique_ptr<TlsSession> session);

  // Bytes the socket delivered; returns the plaintext among them (possibly
  // none), valid until the next call. An error: TLS failed.
  absl::StatusOr<absl::string_view> Receive(absl::string_view bytes);
  // Sends `plain`, encrypted when TLS is on (held back until the handshake
  // is done). An error: TLS failed, nothing was sent.
  absl::Status Send(std::string plain);
  // close_notify when TLS is established, then close once the output has
  // been written.
  void Close();
  // Gives up on TLS (a handshake timeout): Receive and Send fail with
  // `reason` from now on.
  void Fail(absl::Status reason);
  // The connection is gone; nothing more is sent.
  void Detach() { conn_ = nullptr; }

  bool encrypted() const { return session_ != nullptr; }
  bool handshake_done() const { return session_ != nullptr && session_->handshake_done(); }
  // True once: the handshake completed during the last Receive.
  bool TakeHandshakeDone();
  // The peer sent close_notify.
  bool peer_closed() const { return session_ != nullptr && session_->peer_closed(); }
  bool failed() const { return !error_.ok(); }
  // Null before TLS starts.
  const TlsSession* session() const { return session_.get(); }

 private:
  void SendCiphertext();

  reactor::TcpConnection* conn_;
  std::unique_ptr<TlsSession> session_;
  std::string plain_;  // the last Receive's plaintext
  absl::Status error_;
  bool handshake_reported_ = false;
};

}  // namespace sluice::tls
