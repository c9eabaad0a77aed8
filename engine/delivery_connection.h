// DeliveryConnection: one outbound SMTP connection on a shard's reactor. It
// connects (from an egress source), drives an smtp::ClientSession over the
// socket, runs STARTTLS through a tls::TlsSession when the session asks,
// enforces every reply timeout, and carries DeliveryJobs: each job's
// recipients go out in transactions of at most max_recipients, and the
// job's results come back merged, one per recipient sent.
//
// The owner (the site's queue on this shard) hears about three things:
// the session is idle and can take a job (OnIdle: call Send() or Quit(),
// now or later), a job is done (OnJobDone), and the connection is gone
// (OnConnectionClosed, the last call; the object is deleted right after).
// A job in progress when the connection breaks ends with every recipient
// not yet decided failed temporarily with the reason.
//
// Lifetime: the connection owns itself; Abort() closes it at once (the
// owner still gets OnJobDone for a job in progress and OnConnectionClosed).
// Used only on its reactor's thread.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "engine/delivery_job.h"
#include "engine/site_queue.h"
#include "reactor/reactor.h"
#include "reactor/socket_address.h"
#include "reactor/tcp_connection.h"
#include "smtp/client_options.h"
#include "smtp/client_session.h"
#include "tls/client_context.h"
#include "tls/tls_session.h"

namespace sluice::engine {

class DeliveryConnection final : public reactor::TcpConnection::Handler {
 public:
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual void OnIdle(DeliveryConnection& connection) = 0;
    virtual void OnJobDone(DeliveryConnection& connection, DeliveryJob job,
                           smtp::DeliveryResult result) = 0;
    virtual void OnConnectionClosed(DeliveryConnection& connection) = 0;
  };

  struct Params {
    HostChoice host;
    std::optional<reactor::SocketAddress> source;  // bind here before connecting
    smtp::ClientOptions session;                   // EHLO name, TLS policy, timeouts
    // For STARTTLS; with verify, the certificate must match host.host.
    std::shared_ptr<tls::ClientContext> tls;
    bool verify_certificate = false;
    absl::Duration connect_timeout = absl::Seconds(30);
    size_t max_recipients = 100;  // per transaction
    // Counts each completed TLS handshake; may be null.
    common::Counter* tls_sessions = nullptr;
  };

  // Starts connecting; the owner hears from it on this reactor.
  static DeliveryConnection* Open(reactor::Reactor& reactor, Params params, Owner* owner);

  DeliveryConnection(const DeliveryConnection&) = delete;
  DeliveryConnection& operator=(const DeliveryConnection&) = delete;

  // Only after OnIdle: sends the job's recipients.
  void Send(DeliveryJob job);
  // Only after OnIdle: QUIT and close.
  void Quit();
  // Closes now.
  void Abort();

  const HostChoice& host() const { return params_.host; }
  // The session reached the point of taking a message at least once.
  bool reached_ready() const { return reached_ready_; }
  // Why the connection ended, if it failed (set before OnConnectionClosed).
  const std::optional<smtp::ClientFailure>& failure() const { return failure_; }
  // STARTTLS was tried and the handshake failed.
  bool tls_failed() const { return tls_failed_; }
  // Whether the server offers DSN (RFC 3461), once greeted.
  bool peer_offers_dsn() const { return session_.capabilities().dsn; }
  std::string tls_version() const;
  std::string tls_cipher() const;
  absl::Duration connect_time() const { return connect_time_; }
  absl::Duration tls_time() const { return tls_time_; }
  size_t jobs_done() const { return jobs_done_; }

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
  std::optional<smtp::ClientAction> StartTls();
  // Handles ciphertext during the handshake; returns the session's next
  // action, or nullopt while the handshake goes on.
  std::optional<smtp::ClientAction> ContinueHandshake();
  smtp::ClientAction SendNextChunk();
  void CollectResult();
  // Fails every recipient of the job in progress not yet sent.
  void FailRestOfJob(const smtp::ServerReply& reply);
  void FinishJob();
  void ArmTimer(absl::Duration timeout);
  void CancelTimer();
  void OnTimeout();
  void Finish();

  reactor::Reactor& reactor_;
  const Params params_;
  Owner* const owner_;
  smtp::ClientSession session_;
  reactor::TcpConnection* conn_ = nullptr;
  std::unique_ptr<tls::TlsSession> tls_;
  bool handshaking_ = false;
  bool tls_failed_ = false;
  bool reached_ready_ = false;
  bool tls_broken_ = false;  // the handshake failed: nothing more goes out
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
