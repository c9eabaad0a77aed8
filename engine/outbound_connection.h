// OutboundConnection: what a site pool needs from one outbound SMTP
// connection, so the pool can be driven by fakes in tests.
// DeliveryConnection (engine/delivery_connection.h) is the real one.
//
// The owner hears about three things: the session is idle and can take a
// job (OnIdle: call Send() or Quit(), now or later), a job is done
// (OnJobDone), and the connection is gone (OnConnectionClosed, the last
// call; the object is deleted right after). A job in progress when the
// connection breaks ends with every recipient not yet decided failed
// temporarily with the reason. Abort() closes at once (the owner still
// gets OnJobDone for a job in progress, then OnConnectionClosed).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "common/metrics.h"
#include "engine/delivery_job.h"
#include "engine/site_queue.h"
#include "reactor/socket_address.h"
#include "smtp/client_options.h"
#include "smtp/client_session.h"
#include "tls/client_context.h"

namespace sluice::engine {

class OutboundConnection {
 public:
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual void OnIdle(OutboundConnection& connection) = 0;
    virtual void OnJobDone(OutboundConnection& connection, DeliveryJob job,
                           smtp::DeliveryResult result) = 0;
    virtual void OnConnectionClosed(OutboundConnection& connection) = 0;
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

  virtual ~OutboundConnection() = default;

  // Only after OnIdle: sends the job's recipients.
  virtual void Send(DeliveryJob job) = 0;
  // Only after OnIdle: QUIT and close.
  virtual void Quit() = 0;
  // Closes now.
  virtual void Abort() = 0;

  virtual const HostChoice& host() const = 0;
  // Why the connection ended, if it failed (set before OnConnectionClosed).
  virtual const std::optional<smtp::ClientFailure>& failure() const = 0;
  // STARTTLS was tried and the handshake failed.
  virtual bool tls_failed() const = 0;
  // Whether the server offers DSN (RFC 3461), once greeted.
  virtual bool peer_offers_dsn() const = 0;
  virtual std::string tls_version() const = 0;
  virtual std::string tls_cipher() const = 0;
  virtual absl::Duration connect_time() const = 0;
  virtual absl::Duration tls_time() const = 0;
  virtual size_t jobs_done() const = 0;
};

}  // namespace sluice::engine
