#include "engine/delivery_engine.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "queue/spool_keys.h"
#include "tests/engine/delivery_fakes.h"

namespace sluice::engine {
namespace {

using testing::FakeConnection;
using testing::FakeConnector;
using testing::FakeSpool;
using testing::RunUntil;

using testing::kLater;
using testing::kOk;
const smtp::ServerReply kOperator = smtp::ServerReply::Local(550, "5.0.0", "bounced by operator");

class DeliveryEngineTest : public testing::DeliveryTest {
 protected:
  DeliveryEngineTest() {
    shared_.dns.servers = {"127.0.0.1:1"};  // never asked: the route is static
    shared_.dns.static_routes = {{"example.com", {"127.0.0.1:2525"}}};
    shared_.shards = 1;
    shared_.post = [this](int, absl::AnyInvocable<void(DeliveryEngine&)> task) {
      reactor_->Defer([this, task = std::move(task)]() mutable {
        if (engine_ != nullptr) task(*engine_);
      });
    };
  }

  void Start() {
    absl::StatusOr<std::unique_ptr<DeliveryEngine>> engine =
        DeliveryEngine::Create(*reactor_, 0, &shared_);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
  }

  // Stores a message for example.com and hands it to the engine as due.
  common::MessageId Schedule(const std::vector<std::string>& recipients) {
    const common::MessageId id = spool_.Put("example.com", recipients);
    queue::ScheduledMessage message;
    message.id = id;
    message.domain = "example.com";
    message.due_unix_ms = absl::ToUnixMillis(absl::Now());
    engine_->AddScheduled({message});
    return id;
  }

  FakeConnection* Busy() {
    for (FakeConnection* c : connector_.open()) {
      if (c->job().has_value()) return c;
    }
    return nullptr;
  }

  std::optional<bool> Bounce(const common::MessageId& id) {
    std::optional<bool> answer;
    engine_->BounceNow(id, kOperator, [&answer](bool bounced) { answer = bounced; });
    EXPECT_TRUE(RunUntil(*reactor_, [&] { return answer.has_value(); }));
    return answer;
  }

  std::unique_ptr<DeliveryEngine> engine_;
};

TEST_F(DeliveryEngineTest, DeliversADueMessageAndRemovesIt) {
  Start();
  connector_.set_on_open([](FakeConnection& c) { c.Ready(); });
  connector_.set_on_send(
      [](FakeConnection& c) { c.Finish(smtp::RecipientStatus::kDelivered, kOk); });
  const common::MessageId id = Schedule({"a@example.com"});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return !spool_.Find(id).has_value(); }));
  EXPECT_EQ(connector_.opened(), (std::vector<std::string>{"127.0.0.1:2525"}));
  EXPECT_EQ(shared_.metrics.delivered->Value(), 1u);
  const std::vector<QueueSnapshot> queues = engine_->Snapshot();
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(queues[0].site, "static:"));
}

// The race of issue 15: an operator bounces a message while a connection
// is delivering it. The bounce waits for the attempt and applies to what
// the attempt left, so the delivered recipient is not bounced too.
TEST_F(DeliveryEngineTest, AnOperatorBounceWaitsForTheAttemptOnAConnection) {
  Start();
  connector_.set_on_open([](FakeConnection& c) { c.Ready(); });
  const common::MessageId id = Schedule({"a@example.com", "b@example.com"});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return Busy() != nullptr; }));
  std::optional<bool> answer;
  engine_->BounceNow(id, kOperator, [&answer](bool bounced) { answer = bounced; });
  // Every shard has answered, and the bounce still waits for the attempt.
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return spool_.reads() == 1; }));
  RunUntil(
      *reactor_, [] { return false; }, absl::Milliseconds(20));
  EXPECT_FALSE(answer.has_value());
  EXPECT_TRUE(spool_.enqueued().empty());
  Busy()->Finish({{smtp::RecipientStatus::kDelivered, kOk},
                  {smtp::RecipientStatus::kTemporaryFailure, kLater}});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return answer.has_value(); }));
  EXPECT_TRUE(*answer);
  EXPECT_EQ(shared_.metrics.delivered->Value(), 1u);
  EXPECT_EQ(shared_.metrics.bounced->Value(), 1u);
  ASSERT_EQ(spool_.enqueued().size(), 1u);
  const std::string& report = spool_.enqueued()[0].body;
  EXPECT_TRUE(absl::StrContains(report, "Final-Recipient: rfc822; b@example.com"));
  EXPECT_FALSE(absl::StrContains(report, "Final-Recipient: rfc822; a@example.com"));
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return !spool_.Find(id).has_value(); }));
}

TEST_F(DeliveryEngineTest, AnOperatorBounceTakesAWaitingMessageOutOfItsQueue) {
  Start();
  connector_.set_on_open([](FakeConnection& c) { c.Ready(); });
  engine_->SetSuspended(SuspendScope::kSite, "static:127.0.0.1:2525", true);
  const common::MessageId id = Schedule({"a@example.com"});
  ASSERT_TRUE(RunUntil(*reactor_, [&] {
    const std::vector<QueueSnapshot> queues = engine_->Snapshot();
    return queues.size() == 1 && queues[0].ready == 1;
  })) << (engine_->Snapshot().empty() ? "" : engine_->Snapshot()[0].site);
  EXPECT_EQ(Bounce(id), true);
  EXPECT_EQ(engine_->Snapshot()[0].ready, 0u);
  engine_->SetSuspended(SuspendScope::kSite, "static:127.0.0.1:2525", false);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return !spool_.Find(id).has_value(); }));
  RunUntil(
      *reactor_, [] { return false; }, absl::Milliseconds(20));
  EXPECT_TRUE(connector_.opened().empty());
  EXPECT_EQ(shared_.metrics.bounced->Value(), 1u);
}

// The domain is suspended only after the message was routed: the engine
// learns it when it reads the envelope to send it, holds it there, and
// sends it once the domain is resumed.
TEST_F(DeliveryEngineTest, MailOfADomainSuspendedWhileQueuedIsHeldAndSentOnResume) {
  Start();
  connector_.set_on_open([](FakeConnection& c) { c.Ready(); });
  connector_.set_on_send(
      [](FakeConnection& c) { c.Finish(smtp::RecipientStatus::kDelivered, kOk); });
  engine_->SetSuspended(SuspendScope::kSite, "static:127.0.0.1:2525", true);
  const common::MessageId id = Schedule({"a@example.com"});
  ASSERT_TRUE(RunUntil(*reactor_, [&] {
    const std::vector<QueueSnapshot> queues = engine_->Snapshot();
    return queues.size() == 1 && queues[0].ready == 1;
  }));
  engine_->SetSuspended(SuspendScope::kDomain, "example.com", true);
  engine_->SetSuspended(SuspendScope::kSite, "static:127.0.0.1:2525", false);
  // The pool opens a connection and reads the envelope, which is held.
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return spool_.reads() >= 1; }));
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return engine_->Snapshot()[0].ready == 0; }));
  EXPECT_TRUE(spool_.Find(id).has_value());
  EXPECT_EQ(shared_.metrics.delivered->Value(), 0u);
  engine_->SetSuspended(SuspendScope::kDomain, "example.com", false);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return !spool_.Find(id).has_value(); }));
  EXPECT_EQ(shared_.metrics.delivered->Value(), 1u);
}

TEST_F(DeliveryEngineTest, AnOperatorBounceOfAMessageAtRestBouncesItFromTheSpool) {
  Start();
  const common::MessageId id = spool_.Put("example.com", {"a@example.com"});
  EXPECT_EQ(Bounce(id), true);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return !spool_.Find(id).has_value(); }));
  EXPECT_EQ(spool_.enqueued().size(), 1u);
  EXPECT_EQ(Bounce(id), false);  // gone now
}

TEST_F(DeliveryEngineTest, StopLetsABusyConnectionFinishItsMessage) {
  shared_.stop_grace = absl::Seconds(30);
  Start();
  connector_.set_on_open([](FakeConnection& c) { c.Ready(); });
  const common::MessageId id = Schedule({"a@example.com"});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return Busy() != nullptr; }));
  bool stopped = false;
  engine_->Stop([&stopped] { stopped = true; });
  RunUntil(
      *reactor_, [] { return false; }, absl::Milliseconds(20));
  EXPECT_FALSE(stopped);
  Busy()->Finish(smtp::RecipientStatus::kDelivered, kOk);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return stopped; }));
  EXPECT_FALSE(spool_.Find(id).has_value());
}

TEST_F(DeliveryEngineTest, StopAbortsWhatIsStillBusyAfterTheGraceAndKeepsItDue) {
  shared_.stop_grace = absl::Milliseconds(50);
  Start();
  connector_.set_on_open([](FakeConnection& c) { c.Ready(); });
  const common::MessageId id = Schedule({"a@example.com"});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return Busy() != nullptr; }));
  const queue::Envelope before = *spool_.Find(id);
  bool stopped = false;
  engine_->Stop([&stopped] { stopped = true; });
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return stopped; }));
  EXPECT_TRUE(connector_.open().empty());
  // Cut short, not failed: the spool still has it as before, due.
  ASSERT_TRUE(spool_.Find(id).has_value());
  EXPECT_EQ(spool_.Find(id)->SerializeAsString(), before.SerializeAsString());
  EXPECT_TRUE(spool_.writes().empty());
}

}  // namespace
}  // namespace sluice::engine
