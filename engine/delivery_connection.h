// DeliveryConnection: one outbound SMTP connection on a shard's reactor. It
// connects (from an egress source), drives an smtp::ClientSession over the
// socket, runs STARTTLS through a tls::TlsSession when the session asks,
// enforces every reply timeout, and carries DeliveryJobs: each job's
// recipients go out in transactions of at most max_recipients, and the
// job's results come back merged, one per recipient sent. The owner's side
// of the contract is OutboundConnection's (engine/outbound_connection.h).
//
// Lifetime: the connection owns itself. Used only on its reactor's thread.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "engine/delivery_job.h"
#include "engine/outbound_connection.h"
#include "engine/site_queue.h"
#include "reactor/reactor.h"
#include "reactor/socket_address.h"
#include "reactor/tcp_connection.h"
#include "smtp/client_options.h"
#include "smtp/client_session.h"
#include "tls/client_context.h"
#include "tls/tls_session.h"
#include "tls/tls_stream.h"

namespace sluice::engine {

class DeliveryConnection final : public OutboundConnection, public reactor::TcpConnection::Handler {
 public:
  // Starts connecting; the owner hears from it on this reactor.
  static DeliveryConnection* Open(reactor::Reactor& reactor, Params params, Owner* owner);

  DeliveryConnection(const DeliveryConnection&) = delete;
  DeliveryConnection& operator=(const DeliveryConnection&) = delete;

  void Send(DeliveryJob job) override;
  void Quit() override;
  void Abort() override;

  const HostChoice& host() const override { return params_.host; }
  const std::optional<smtp::ClientFailure>& failure() const override { return failure_; }
  bool tls_failed() const override { return tls_failed_; }
  bool peer_offers_dsn() const override { return session_.capabilities().dsn; }
  std::string tls_version() const override;
  std::string tls_cipher() const override;
  absl::Duration connect_time() const override { return connect_time_; }
  absl::Duration tls_time() const override { return tls_time_; }
  size_t jobs_done() const override { return jobs_done_; }

 private:
  DeliveryConnection(reactor::Reactor& reactor, Params params, Owner* owner);
  ~DeliveryConnection() override = default;

  void OnConnected(absl::StatusOr<reactor::TcpConnection*> connection);
  void OnData(reactor::TcpConnection& conn, absl::string_view data) override;
  void OnPeerClosed(reactor::TcpConnection& conn) override;
  void OnClosed(reactor::TcpConnection& conn, const absl::Status& reason) override;

  // Carries out `action` and whatever follows from it until the session
  // waits for the peer, the owner or the TLS handshake.
  void Act(smtp::ClientAction action);
  void Flush();
  // The session's next action when TLS could not start; nullopt while the
  // handshake goes on (OnData picks it up).
  std::optional<smtp::ClientAction> StartTls();
  void OnHandshakeData(const absl::StatusOr<absl::string_view>& plain);
  smtp::ClientAction SendNextChunk();
  void CollectResult();
  // Fails every recipient of the job in progress not yet sent.
  void FailRestOfJob(const smtp::ServerReply& reply);
  void FinishJob();
  void ArmTimer(absl::Duration timeout);
  void CancelTimer();
  // The connection ended mid-handshake: a TLS failure (true), not a lost
  // connection.
  bool HandshakeCut();
  void OnTimeout();
  void Finish();

  reactor::Reactor& reactor_;
  const Params params_;
  Owner* const owner_;
  smtp::ClientSession session_;
  reactor::TcpConnection* conn_ = nullptr;
  // Once connected; TLS after STARTTLS. Failed: nothing more goes out.
  std::optional<tls::TlsStream> stream_;
  bool handshaking_ = false;
  bool tls_failed_ = false;
  bool aborted_ = false;
  bool finished_ = false;
  std::optional<smtp::ClientFailure> failure_;
  std::optional<DeliveryJob> job_;
  smtp::DeliveryResult job_result_;
  size_t job_next_ = 0;  // the next recipient of job_ to send
  size_t chunk_size_ = 0;
  size_t jobs_done_ = 0;
  std::optional<reactor::TimerId> timer_;
  absl::Time opened_;
  absl::Time tls_started_;
  absl::Duration connect_time_;
  absl::Duration tls_time_;
};

}  // namespace sluice::engine
