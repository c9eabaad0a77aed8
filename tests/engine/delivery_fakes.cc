#include "tests/engine/delivery_fakes.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "queue/spool_keys.h"

namespace sluice::engine::testing {

common::MessageId FakeSpool::Put(const std::string& domain,
                                 const std::vector<std::string>& recipients, int64_t due_unix_ms) {
  const common::MessageId id = ids_.Next();
  queue::StoredMessage stored;
  queue::Envelope& e = stored.envelope;
  e.set_id(queue::IdKey(id));
  e.set_body_id(queue::IdKey(ids_.Next()));
  e.set_sender("sender@example.org");
  e.set_domain(domain);
  e.set_created_unix_ms(absl::ToUnixMillis(absl::Now()));
  e.set_next_due_unix_ms(due_unix_ms);
  for (const std::string& address : recipients) {
    queue::proto::Recipient* recipient = e.add_recipients();
    recipient->set_address(address);
    recipient->set_state(queue::proto::PENDING);
  }
  stored.body = "From: sender@example.org\r\nSubject: test\r\n\r\nHello.\r\n";
  e.set_size(stored.body.size());
  stored_[id] = std::move(stored);
  return id;
}

void FakeSpool::SetBody(const common::MessageId& id, std::string body, const std::string& queue) {
  queue::StoredMessage& stored = stored_.at(id);
  stored.body = std::move(body);
  stored.envelope.set_size(stored.body.size());
  stored.envelope.set_queue(queue);
}

std::optional<queue::Envelope> FakeSpool::Find(const common::MessageId& id) const {
  auto it = stored_.find(id);
  if (it == stored_.end()) return std::nullopt;
  return it->second.envelope;
}

void FakeSpool::Enqueue(queue::NewMessage message, Done done) {
  for (const queue::Envelope& envelope : message.envelopes) {
    writes_.push_back(absl::StrCat("enqueue ", envelope.id()));
  }
  enqueued_.push_back(std::move(message));
  reactor_.Defer([done = std::move(done)]() mutable { done(absl::OkStatus()); });
}

void FakeSpool::Update(queue::Envelope envelope, Done done) {
  writes_.push_back(absl::StrCat("update ", envelope.id()));
  absl::Status status = absl::OkStatus();
  absl::StatusOr<common::MessageId> id = queue::ParseIdKey(envelope.id());
  auto it = id.ok() ? stored_.find(*id) : stored_.end();
  if (it == stored_.end()) {
    status = absl::NotFoundError("no such envelope");
  } else {
    it->second.envelope = std::move(envelope);
  }
  reactor_.Defer([done = std::move(done), status]() mutable { done(status); });
}

void FakeSpool::Remove(common::MessageId id, Done done) {
  writes_.push_back(absl::StrCat("remove ", queue::IdKey(id)));
  const absl::Status status =
      stored_.erase(id) > 0 ? absl::OkStatus() : absl::NotFoundError("no such envelope");
  reactor_.Defer([done = std::move(done), status]() mutable { done(status); });
}

void FakeSpool::Read(common::MessageId id,
                     absl::AnyInvocable<void(absl::StatusOr<queue::StoredMessage>)> done) {
  ++reads_;
  absl::StatusOr<queue::StoredMessage> stored = absl::NotFoundError("no such envelope");
  if (auto it = stored_.find(id); it != stored_.end()) stored = it->second;
  reactor_.Defer(
      [done = std::move(done), stored = std::move(stored)]() mutable { done(std::move(stored)); });
}

FakeConnection::FakeConnection(FakeConnector& connector, reactor::Reactor& reactor, Params params,
                               Owner* owner)
    : connector_(connector), reactor_(reactor), params_(std::move(params)), owner_(owner) {}

void FakeConnection::Ready() { owner_->OnIdle(*this); }

void FakeConnection::Send(DeliveryJob job) {
  job_ = std::move(job);
  if (connector_.on_send_) {
    reactor_.Defer([this] {
      if (!closed_ && job_.has_value()) connector_.on_send_(*this);
    });
  }
}

namespace {

std::vector<smtp::RecipientResult> Same(size_t count, smtp::RecipientStatus status,
                                        const smtp::ServerReply& reply) {
  return std::vector<smtp::RecipientResult>(count, smtp::RecipientResult{status, reply});
}

}  // namespace

void FakeConnection::EndJob(std::vector<smtp::RecipientResult> results) {
  DeliveryJob job = *std::move(job_);
  job_.reset();
  smtp::DeliveryResult result;
  result.final_reply = results.empty() ? smtp::ServerReply() : results.back().reply;
  result.data_sent = true;
  result.recipients = std::move(results);
  ++jobs_done_;
  owner_->OnJobDone(*this, std::move(job), std::move(result));
}

void FakeConnection::Finish(smtp::RecipientStatus status, const smtp::ServerReply& reply) {
  Finish(Same(job_->attempted.size(), status, reply));
}

void FakeConnection::Finish(std::vector<smtp::RecipientResult> results) {
  EndJob(std::move(results));
  if (!quitting_ && !closed_) owner_->OnIdle(*this);
}

void FakeConnection::Break(const smtp::ServerReply& reply, bool tls_failed) {
  failure_ = smtp::ClientFailure{false, reply, "broken by the test"};
  tls_failed_ = tls_failed;
  if (job_.has_value()) {
    EndJob(Same(job_->attempted.size(), smtp::RecipientStatus::kTemporaryFailure, reply));
  }
  Close();
}

void FakeConnection::Quit() {
  quitting_ = true;
  reactor_.Defer([this] { Close(); });
}

void FakeConnection::Abort() {
  if (closed_) return;
  if (job_.has_value()) {
    EndJob(Same(job_->attempted.size(), smtp::RecipientStatus::kTemporaryFailure,
                smtp::ServerReply::Local(421, "4.4.2", "connection aborted")));
  }
  Close();
}

void FakeConnection::Close() {
  if (closed_) return;
  closed_ = true;
  auto& open = connector_.open_;
  open.erase(std::remove(open.begin(), open.end(), this), open.end());
  owner_->OnConnectionClosed(*this);
}

ConnectFunction FakeConnector::Function() {
  return [this](reactor::Reactor& reactor, OutboundConnection::Params params,
                OutboundConnection::Owner* owner) -> OutboundConnection* {
    opened_.push_back(params.host.address.ToString());
    auto* connection = owned_
                           .emplace_back(std::make_unique<FakeConnection>(*this, reactor,
                                                                          std::move(params), owner))
                           .get();
    open_.push_back(connection);
    if (on_open_) {
      reactor.Defer([this, connection] {
        if (std::find(open_.begin(), open_.end(), connection) != open_.end()) {
          on_open_(*connection);
        }
      });
    }
    return connection;
  };
}

std::vector<FakeConnection*> FakeConnector::open() const { return open_; }

bool RunUntil(reactor::Reactor& reactor, const std::function<bool()>& done, absl::Duration limit) {
  if (done()) return true;
  const absl::Time deadline = absl::Now() + limit;
  bool met = false;
  std::function<void()> check;
  check = [&] {
    if (done()) {
      met = true;
      reactor.RequestStop();
      return;
    }
    if (absl::Now() >= deadline) {
      reactor.RequestStop();
      return;
    }
    reactor.RunAfter(absl::Milliseconds(1), check);
  };
  reactor.RunAfter(absl::ZeroDuration(), check);
  reactor.Run();
  return met;
}

std::unique_ptr<reactor::Reactor> MakeReactor() {
  reactor::ReactorOptions options;
  options.ring_entries = 64;
  options.recv_buffer_count = 8;
  options.recv_buffer_size = 4096;
  return reactor::Reactor::Create(options).value();
}

void AddResultCounters(common::MetricsRegistry& registry, DeliveryMetrics& metrics) {
  auto counter = [&registry](const char* result) {
    return registry.AddCounter("sluice_test_recipients_total", "Test.", {{"result", result}})
        .value();
  };
  metrics.delivered = counter("delivered");
  metrics.deferred = counter("deferred");
  metrics.bounced = counter("bounced");
}

DeliveryPolicy MakePolicy(const std::string& toml) {
  absl::StatusOr<common::Config> config = common::LoadConfig(toml, "test.toml");
  if (!config.ok()) return DeliveryPolicy();
  absl::StatusOr<DeliveryPolicy> policy = DeliveryPolicy::Create(*config, "mta.example.org");
  return policy.ok() ? *std::move(policy) : DeliveryPolicy();
}

DeliveryTest::DeliveryTest(const std::string& policy_toml)
    : reactor_(MakeReactor()), spool_(*reactor_), policy_(MakePolicy(policy_toml)) {
  shared_.spool = &spool_;
  shared_.policy = &policy_;
  shared_.connect = connector_.Function();
  shared_.reporting_mta = "mta.example.org";
  AddResultCounters(registry_, shared_.metrics);
}

}  // namespace sluice::engine::testing
