// SiteQueue: the shaping state of one outbound queue (a site, reached
// through one egress pool) on the shard that owns it: its ready messages,
// how many connections it may open now, its message rate, and which of its
// hosts failed recently.
//
// Connections: at most min(window, max_connections) at once. The window
// starts at initial_connections and grows by one for every `window`
// messages delivered (Postfix's slow start); a throttling reply halves it
// and pauses new connections for `throttle_backoff`, after which it grows
// again on its own.
//
// Hosts: the destination's hosts in MX order, each with its addresses. A
// host address that failed (refused, timed out, broke before a message) is
// skipped for `host_failure_backoff`, so the next connection fails over to
// the next address or MX; when every address is failing the queue cannot
// connect at all and its messages are deferred by the caller.
//
// Single-threaded and clock-free: every call that depends on time takes
// `now`, which keeps it testable without a reactor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/gcra.h"
#include "common/message_id.h"
#include "dns/site.h"
#include "engine/site_limits.h"
#include "reactor/socket_address.h"

namespace sluice::engine {

// A message waiting in a ready queue.
struct ReadyMessage {
  common::MessageId id;
  std::string domain;
};

// Where the next connection goes.
struct HostChoice {
  std::string host;  // MX host name (for TLS SNI and verification)
  reactor::SocketAddress address;
};

class SiteQueue {
 public:
  SiteQueue(std::string key, const SiteLimits& limits, absl::Duration host_failure_backoff,
            absl::Duration throttle_backoff);

  const std::string& key() const { return key_; }
  const SiteLimits& limits() const { return limits_; }

  // Ready messages, first in first out.
  void Push(ReadyMessage message) { ready_.push_back(std::move(message)); }
  void PushFront(ReadyMessage message) { ready_.push_front(std::move(message)); }
  std::optional<ReadyMessage> Pop();
  size_t ready() const { return ready_.size(); }
  std::deque<ReadyMessage> TakeAll();

  // The message rate: zero if a message may go now (and it is counted),
  // else how long until one may.
  absl::Duration TakeRateToken(absl::Time now);

  // Whether a new connection may open now: under the window and the
  // maximum, not paused by a throttle, not suspended.
  bool MayConnect(absl::Time now) const;
  // When a paused queue may connect again (InfinitePast if not paused).
  absl::Time paused_until() const { return paused_until_; }
  void ConnectionOpened() { ++connections_; }
  void ConnectionClosed() { --connections_; }
  int connections() const { return connections_; }
  // The current concurrency window (whole connections).
  int window() const;

  // A message was delivered: the window grows.
  void OnDelivered();
  // A throttling reply: the window halves and new connections pause.
  void OnThrottled(absl::Time now);

  // The destination (refreshed whenever a message is routed here).
  void SetDestination(const dns::Destination& destination);
  bool has_destination() const { return !hosts_.empty(); }
  // The first host address, in MX order, that is not failing; nullopt when
  // all are.
  std::optional<HostChoice> ChooseHost(absl::Time now) const;
  void MarkHostFailed(const reactor::SocketAddress& address, absl::Time now);
  // Addresses where a TLS handshake failed: opportunistic TLS skips
  // STARTTLS there for host_failure_backoff.
  void MarkTlsFailed(const reactor::SocketAddress& address, absl::Time now);
  bool TlsFailedRecently(const reactor::SocketAddress& address, absl::Time now) const;

  void set_suspended(bool suspended) { suspended_ = suspended; }
  bool suspended() const { return suspended_; }
  void set_last_error(std::string error) { last_error_ = std::move(error); }
  const std::string& last_error() const { return last_error_; }

 private:
  struct Host {
    std::string name;
    std::vector<reactor::SocketAddress> addresses;
  };

  const std::string key_;
  const SiteLimits limits_;
  const absl::Duration host_failure_backoff_;
  const absl::Duration throttle_backoff_;
  std::deque<ReadyMessage> ready_;
  std::vector<common::Gcra> rates_;
  int connections_ = 0;
  double window_;
  absl::Time paused_until_ = absl::InfinitePast();
  std::vector<Host> hosts_;
  absl::flat_hash_map<std::string, absl::Time> failed_until_;      // by address text
  absl::flat_hash_map<std::string, absl::Time> tls_failed_until_;  // by address text
  bool suspended_ = false;
  std::string last_error_;
};

}  // namespace sluice::engine
