// Fakes for driving the delivery components without a network or RocksDB:
// an in-memory spool that answers on the reactor's loop (as the real one
// answers on the calling shard), outbound connections the test scripts,
// and a loop runner that waits for a condition.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/message_id.h"
#include "common/metrics.h"
#include "engine/delivery_policy.h"
#include "engine/delivery_shared.h"
#include "engine/outbound_connection.h"
#include "gtest/gtest.h"
#include "queue/spool.h"
#include "queue/suppression.h"
#include "reactor/reactor.h"

namespace sluice::engine::testing {

// Records what is added; every add succeeds at once. Nothing else is used
// by delivery, so the rest answers Unimplemented.
class FakeSuppressionList final : public queue::SuppressionList {
 public:
  bool MayHaveSuppressions() const override { return !entries.empty(); }
  void Suppress(std::vector<queue::SuppressionEntry> added, SuppressDone done) override {
    for (queue::SuppressionEntry& entry : added) entries.push_back(std::move(entry));
    done(absl::OkStatus());
  }
  void LookUpSuppressed(std::string, std::vector<std::string>, LookupDone done) override {
    done(absl::UnimplementedError("fake"));
  }
  void Unsuppress(std::string, std::vector<std::string>, RemovedDone done) override {
    done(absl::UnimplementedError("fake"));
  }
  void ListSuppressed(std::string, std::string, std::string, size_t, EntriesDone done) override {
    done(absl::UnimplementedError("fake"));
  }
  void ImportSuppressions(std::string, std::string, ImportDone done) override {
    done(absl::UnimplementedError("fake"));
  }
  void ExportSuppressions(std::string, TextDone done) override {
    done(absl::UnimplementedError("fake"));
  }

  std::vector<queue::SuppressionEntry> entries;
};

class FakeSpool final : public queue::Spool {
 public:
  explicit FakeSpool(reactor::Reactor& reactor) : reactor_(reactor) {}

  // Stores an envelope (its id set to a new one) with `recipients` pending
  // and returns the id.
  common::MessageId Put(const std::string& domain, const std::vector<std::string>& recipients,
                        int64_t due_unix_ms = 0);
  std::optional<queue::Envelope> Find(const common::MessageId& id) const;
  // Replaces the body of a stored message, and puts its envelope in `queue`.
  void SetBody(const common::MessageId& id, std::string body, const std::string& queue = "");
  // DSNs and other messages enqueued, in order.
  const std::vector<queue::NewMessage>& enqueued() const { return enqueued_; }
  // "update <id>", "remove <id>", "enqueue <id>", in the order asked.
  const std::vector<std::string>& writes() const { return writes_; }
  size_t reads() const { return reads_; }

  void Enqueue(queue::NewMessage message, Done done) override;
  void Update(queue::Envelope envelope, Done done) override;
  void Remove(common::MessageId id, Done done) override;
  void Read(common::MessageId id,
            absl::AnyInvocable<void(absl::StatusOr<queue::StoredMessage>)> done) override;

 private:
  reactor::Reactor& reactor_;
  common::MessageIdGenerator ids_{common::Clock::Real(), 0, 7};
  absl::flat_hash_map<common::MessageId, queue::StoredMessage> stored_;
  std::vector<queue::NewMessage> enqueued_;
  std::vector<std::string> writes_;
  size_t reads_ = 0;
};

class FakeConnector;

// An OutboundConnection that does what the test says. Unlike the real one
// it does not delete itself once closed: its FakeConnector owns it, so a
// test may still look at it afterwards and nothing leaks when the loop
// stops before a deferred delete would have run.
class FakeConnection final : public OutboundConnection {
 public:
  FakeConnection(FakeConnector& connector, reactor::Reactor& reactor, Params params, Owner* owner);

  const Params& params() const { return params_; }
  // The job handed over by Send, until Finish.
  const std::optional<DeliveryJob>& job() const { return job_; }
  bool quitting() const { return quitting_; }

  // Greeted, EHLO done: the owner may Send.
  void Ready();
  // Ends the job in progress: every recipient gets `status` and `reply`.
  // Then idle again (OnIdle), unless the owner quit meanwhile.
  void Finish(smtp::RecipientStatus status, const smtp::ServerReply& reply);
  // The same with one result per recipient sent.
  void Finish(std::vector<smtp::RecipientResult> results);
  // The connection breaks with `reply` (refused, a 421, a lost connection):
  // a job in progress fails temporarily with it, then the owner hears it
  // closed.
  void Break(const smtp::ServerReply& reply, bool tls_failed = false);

  void Send(DeliveryJob job) override;
  void Quit() override;
  void Abort() override;
  const HostChoice& host() const override { return params_.host; }
  const std::optional<smtp::ClientFailure>& failure() const override { return failure_; }
  bool tls_failed() const override { return tls_failed_; }
  bool peer_offers_dsn() const override { return true; }
  std::string tls_version() const override { return ""; }
  std::string tls_cipher() const override { return ""; }
  absl::Duration connect_time() const override { return absl::ZeroDuration(); }
  absl::Duration tls_time() const override { return absl::ZeroDuration(); }
  size_t jobs_done() const override { return jobs_done_; }

 private:
  void EndJob(std::vector<smtp::RecipientResult> results);
  void Close();

  FakeConnector& connector_;
  reactor::Reactor& reactor_;
  const Params params_;
  Owner* const owner_;
  std::optional<DeliveryJob> job_;
  std::optional<smtp::ClientFailure> failure_;
  bool tls_failed_ = false;
  bool quitting_ = false;
  bool closed_ = false;
  size_t jobs_done_ = 0;
};

// DeliveryShared::connect for tests: keeps track of every connection.
class FakeConnector {
 public:
  using Script = std::function<void(FakeConnection&)>;

  ConnectFunction Function();
  // Runs on the loop right after each connection opens (default: nothing;
  // the test drives it).
  void set_on_open(Script script) { on_open_ = std::move(script); }
  // Runs on the loop right after a connection is handed a job.
  void set_on_send(Script script) { on_send_ = std::move(script); }

  // Connections open now, oldest first.
  std::vector<FakeConnection*> open() const;
  // The address of each connection ever opened, in order.
  const std::vector<std::string>& opened() const { return opened_; }

 private:
  friend class FakeConnection;

  Script on_open_;
  Script on_send_;
  std::vector<std::unique_ptr<FakeConnection>> owned_;  // every one opened
  std::vector<FakeConnection*> open_;
  std::vector<std::string> opened_;
};

// Runs `reactor` until `done()` holds (checked after every callback batch,
// every millisecond at least) or `limit` passes; false on the limit.
bool RunUntil(reactor::Reactor& reactor, const std::function<bool()>& done,
              absl::Duration limit = absl::Seconds(10));

std::unique_ptr<reactor::Reactor> MakeReactor();

// Replies a fake server gives.
inline const smtp::ServerReply kOk = smtp::ServerReply::Local(250, "2.0.0", "ok");
inline const smtp::ServerReply kLater = smtp::ServerReply::Local(451, "4.3.0", "try later");

// Registers the delivered, deferred and bounced counters of `metrics` in
// `registry`.
void AddResultCounters(common::MetricsRegistry& registry, DeliveryMetrics& metrics);

// A DeliveryPolicy from TOML layered over the embedded defaults.
DeliveryPolicy MakePolicy(const std::string& toml);

// The usual setting of a delivery test: a loop, a fake spool and
// connector, a policy, result counters, and DeliveryShared wired to them.
class DeliveryTest : public ::testing::Test {
 protected:
  explicit DeliveryTest(const std::string& policy_toml = "");

  std::unique_ptr<reactor::Reactor> reactor_;
  FakeSpool spool_;
  FakeConnector connector_;
  DeliveryPolicy policy_;
  common::MetricsRegistry registry_{1};
  DeliveryShared shared_;
};

}  // namespace sluice::engine::testing
