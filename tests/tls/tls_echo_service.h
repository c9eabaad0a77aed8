// TlsEchoService: a TLS echo server on the reactor, for interop tests. Each
// accepted TcpConnection gets a TlsStream over a server TlsSession;
// decrypted bytes are encrypted and sent back, the loop a real listener runs
// (see tls/tls_stream.h). Records each finished handshake for the test
// thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "reactor/reactor.h"
#include "reactor/tcp_connection.h"
#include "reactor/tcp_listener.h"
#include "tls/server_context.h"
#include "tls/tls_stream.h"

namespace sluice::tls::testing {

struct HandshakeRecord {
  std::string version;
  std::string cipher;
  std::string alpn;
  std::string sni;
  bool resumed = false;
};

class TlsEchoService final : public reactor::TcpConnection::Handler {
 public:
  static absl::StatusOr<std::unique_ptr<TlsEchoService>> Create(
      reactor::Reactor& reactor, int listen_fd, std::shared_ptr<const ServerContext> context);

  void Stop(absl::AnyInvocable<void()> done);

  // Any thread.
  bool WaitForHandshakes(size_t n, absl::Duration timeout);
  std::vector<HandshakeRecord> records();
  std::vector<std::string> errors();

  void OnData(reactor::TcpConnection& conn, absl::string_view data) override;
  void OnPeerClosed(reactor::TcpConnection& conn) override;
  void OnClosed(reactor::TcpConnection& conn, const absl::Status& reason) override;

 private:
  TlsEchoService() = default;
  void MaybeFinishStop();

  std::shared_ptr<const ServerContext> context_;
  reactor::TcpListener* listener_ = nullptr;
  absl::flat_hash_map<reactor::TcpConnection*, std::unique_ptr<TlsStream>> sessions_;
  absl::AnyInvocable<void()> stop_done_;
  bool stopping_ = false;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<HandshakeRecord> records_;
  std::vector<std::string> errors_;
};

}  // namespace sluice::tls::testing
