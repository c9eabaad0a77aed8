// SmtpServer: one SMTP listener (relay, submission or submissions) on one
// shard.
//
// Each accepted connection gets a smtp::ServerSession and a policy that
// knows the client's address: the relay listener relays for its relay
// networks and for authenticated users, takes mail for the local bounce
// domains from anyone, and refuses everything else with 550 5.7.1 (no open
// relay); the submission listeners need AUTH before MAIL. With a TLS
// context, the relay and submission listeners offer STARTTLS and the
// submissions listener speaks TLS from the first byte (RFC 8314); AUTH is
// offered only under TLS (538 5.7.11 otherwise), except to a client on
// 127.0.0.1 or ::1 when auth_on_loopback_without_tls is set. A complete
// message is split by recipient domain and handed to the spool; the client
// gets its 250 only when the spool says the message is durable, and a spool
// error becomes 452 4.3.1 (disk full, overload) or 451 4.3.0. While the
// spool works the connection stops reading, so a client cannot pile input
// up. Limits: connections in total and per client IP (shared by all
// shards), the command timeout of RFC 5321 4.5.3.2.7, and whatever the
// session enforces (line length, size, recipients, bad commands).
//
// Log: every refusal (4xx/5xx: relay denied, smuggling, size, a failed
// AUTH, a timeout) is one warning line with the listener, the client's
// address and the reply, at most 20 a second (bursts of 100) per shard and
// listener; acknowledged messages are debug lines and metrics.
//
// Used only on its shard; satisfies Sharded<T>'s Stop contract.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/connection_limiter.h"
#include "api/dkim_signing_pool.h"
#include "api/ingest.h"
#include "api/unsubscribe_token.h"
#include "common/clock.h"
#include "common/ip_network.h"
#include "common/log_limiter.h"
#include "common/message_id.h"
#include "common/metrics.h"
#include "queue/spool.h"
#include "queue/suppression.h"
#include "reactor/reactor.h"
#include "reactor/tcp_connection.h"
#include "reactor/tcp_listener.h"
#include "smtp/server_options.h"
#include "smtp/server_session.h"
#include "tls/server_context.h"

namespace sluice::api {

enum class SmtpListenerKind { kRelay, kSubmission, kSubmissions };

// "relay", "submission", "submissions": the listener label of metrics and logs.
std::string_view SmtpListenerName(SmtpListenerKind kind);

// Checks AUTH credentials off the shard (password hashing is slow on
// purpose) and answers on the shard that asked.
class SmtpAuthenticator {
 public:
  virtual ~SmtpAuthenticator() = default;
  virtual void Verify(const smtp::AuthRequest& request, const sockaddr* client,
                      absl::AnyInvocable<void(smtp::AuthResult)> done) = 0;
};

// One listener's series in the metrics registry; shared by its shards
// (each shard adds to its own cell). Any pointer may be null.
struct SmtpListenerMetrics {
  common::Counter* connections = nullptr;          // accepted
  common::Counter* connections_refused = nullptr;  // over a connection limit
  common::Gauge* connections_open = nullptr;
  common::Counter* messages_accepted = nullptr;  // 250 after the spool commit
  common::Counter* messages_failed = nullptr;    // spool error: 451/452
  common::Counter* bytes_accepted = nullptr;
  common::Counter* tls_sessions = nullptr;       // TLS handshakes completed (STARTTLS or implicit)
  common::Counter* refused_temporary = nullptr;  // 4xx replies
  common::Counter* refused_permanent = nullptr;  // 5xx replies
  common::Counter* suppressed = nullptr;         // recipients refused as suppressed
  // Called with the message's tenant ("" for relay) once it is acknowledged
  // (250 after the spool commit); sluiced counts it by listener and tenant.
  std::function<void(std::string_view tenant, uint64_t messages)> received;
};

struct SmtpServerOptions {
  SmtpListenerKind kind = SmtpListenerKind::kRelay;
  // The session settings; the server fills in what depends on the kind.
  smtp::ServerOptions session;
  absl::Duration command_timeout = absl::Minutes(5);
  std::vector<common::IpNetwork> relay_networks;
  std::vector<common::IpNetwork> trusted_networks;  // bare LF normalised
  absl::flat_hash_set<std::string> bounce_domains;  // lower case
  // Shared by every shard's server of this listener; must outlive them.
  ConnectionLimiter* limiter = nullptr;
  queue::Spool* spool = nullptr;
  // Null: AUTH is not offered.
  SmtpAuthenticator* authenticator = nullptr;
  // Null: no STARTTLS (and no submissions listener, which is TLS only).
  std::shared_ptr<const tls::ServerContext> tls;
  // AUTH without TLS from 127.0.0.1 and ::1 only (never the rest of
  // 127.0.0.0/8, which other local users and containers can bind).
  bool auth_on_loopback_without_tls = false;
  SmtpListenerMetrics metrics;
  const common::Clock* clock = common::Clock::Real();
  // DKIM: the keys and the workers that sign with them. A message gets
  // signed when a key matches its From domain (and tenant) and it is
  // outbound: authenticated, on a submission listener, or relayed from
  // relay_networks. Without a pool nothing is signed.
  std::shared_ptr<const mail::DkimKeyring> dkim;
  DkimSigningPool* dkim_pool = nullptr;
  // While every signing worker is busy the message waits (its connection
  // not reading), retried this often, for at most dkim_wait in all.
  absl::Duration dkim_retry = absl::Milliseconds(5);
  absl::Duration dkim_wait = absl::Seconds(30);
  // One-click unsubscribe for outbound mail that asks for it with
  // X-Sluice-Unsubscribe (api/unsubscribe_header.h); null: such mail is
  // refused.
  std::shared_ptr<const UnsubscribeToken> unsubscribe;
  std::string unsubscribe_base_url;
  // The suppression list, checked at RCPT for tenants (authenticated users
  // of the submission listeners, in their scope) and, with
  // suppression_for_everyone, for every outbound client (relay clients in
  // the global scope); mail to the bounce domains is never checked. A
  // suppressed recipient gets 550 5.7.1 saying why; a lookup that fails,
  // 451 4.3.0. Null: nothing is checked.
  queue::SuppressionList* suppression = nullptr;
  bool suppression_for_everyone = false;
};

class SmtpServer final : public reactor::TcpConnection::Handler {
 public:
  static absl::StatusOr<std::unique_ptr<SmtpServer>> Create(reactor::Reactor& reactor,
                                                            int listen_fd, int shard,
                                                            SmtpServerOptions options);
  ~SmtpServer() override;

  // A new certificate (SIGHUP): new connections use it; connections that
  // already negotiated keep the context they started with.
  void SetTlsContext(std::shared_ptr<const tls::ServerContext> context);
  // New DKIM keys (SIGHUP), for messages from now on.
  void SetDkim(std::shared_ptr<const mail::DkimKeyring> keyring);

  // Stops accepting, tells idle clients 421 and waits for messages being
  // spooled to be answered; `done` runs when every connection is gone.
  void Stop(absl::AnyInvocable<void()> done);

  void OnData(reactor::TcpConnection& conn, absl::string_view data) override;
  void OnPeerClosed(reactor::TcpConnection& conn) override;
  void OnClosed(reactor::TcpConnection& conn, const absl::Status& reason) override;

 private:
  struct Client;
  class Policy;

  SmtpServer(reactor::Reactor& reactor, int shard, SmtpServerOptions options);
  void Accept(reactor::TcpConnection* conn);
  // Acts on the session's request until it needs input or an answer.
  void Drive(Client& client, smtp::ServerAction action);
  void Flush(Client& client);
  // Feeds bytes from the socket (ciphertext under TLS) to the session.
  void Receive(Client& client, absl::string_view bytes);
  bool StartTls(Client& client);
  void SpoolMessage(Client& client);
  // Signing, then Enqueue; `waited` so far while the workers were full.
  void SignThenEnqueue(uint64_t client, IngestEnvelope envelope, std::string body,
                       absl::Duration waited);
  void Enqueue(uint64_t client, const IngestEnvelope& envelope, std::string body);
  // Tells the client whether its message was spooled (and counts it).
  void AnswerMessage(uint64_t client, const std::string& queue_id, absl::Status status);
  bool Outbound(const Client& client) const;
  void Authenticate(Client& client);
  // Whether RCPT of `recipient` waits for the suppression list.
  bool ChecksSuppression(const Client& client, const smtp::Recipient& recipient) const;
  void CheckRecipient(Client& client);
  // Logs (rate-limited) and counts a 4xx/5xx reply the session wrote.
  void OnRefused(const Client& client, int code, std::string_view enhanced, std::string_view text);
  void ArmTimer(Client& client);
  void MaybeFinishStop();

  reactor::Reactor& reactor_;
  const int shard_;
  SmtpServerOptions options_;
  common::MessageIdGenerator ids_;
  common::LogLimiter refusal_log_;
  reactor::TcpListener* listener_ = nullptr;
  // Keyed by a number rather than the connection, so an answer that arrives
  // after its connection closed finds nothing instead of a reused pointer.
  absl::flat_hash_map<uint64_t, std::unique_ptr<Client>> clients_;
  absl::flat_hash_map<reactor::TcpConnection*, uint64_t> client_ids_;
  uint64_t next_client_id_ = 1;
  int pending_answers_ = 0;
  bool stopping_ = false;
  absl::AnyInvocable<void()> stop_done_;
};

}  // namespace sluice::api
