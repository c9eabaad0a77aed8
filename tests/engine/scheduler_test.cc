#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "dns/dns_error.h"
#include "tests/engine/delivery_fakes.h"

namespace sluice::engine {
namespace {

using testing::RunUntil;

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() : reactor_(testing::MakeReactor()), policy_(testing::MakePolicy("")) {
    shared_.policy = &policy_;
    shared_.shards = 4;
    scheduler_ = std::make_unique<Scheduler>(
        *reactor_, shared_, ops_,
        [this](std::string_view domain,
               absl::AnyInvocable<void(absl::StatusOr<dns::Destination>)> done) {
          lookups_.push_back(std::string(domain));
          absl::StatusOr<dns::Destination> answer = absl::NotFoundError("no answer configured");
          if (auto it = answers_.find(std::string(domain)); it != answers_.end())
            answer = it->second;
          // Answers come later, like the resolver's.
          auto reply = [done = std::move(done), answer]() mutable { done(answer); };
          if (hold_answers_) {
            held_answers_.push_back(std::move(reply));
          } else {
            reactor_->Defer(std::move(reply));
          }
        },
        [this](int owner, Routed routed) {
          routed_.push_back({owner, std::move(routed)});
        },
        [this](const common::MessageId& id, const smtp::ServerReply& reply) {
          failed_.push_back({id, reply});
        });
  }

  void Answer(const std::string& domain, const std::string& site_key) {
    dns::Destination destination;
    destination.site.key = site_key;
    destination.site.domain = domain;
    answers_[domain] = destination;
  }

  queue::ScheduledMessage Due(const std::string& domain, std::string tenant = "") {
    queue::ScheduledMessage message;
    message.id = ids_.Next();
    message.due_unix_ms = absl::ToUnixMillis(absl::Now());
    message.domain = domain;
    message.tenant = std::move(tenant);
    return message;
  }

  void Add(std::vector<queue::ScheduledMessage> messages) { scheduler_->Add(std::move(messages)); }

  void ReleaseAnswers() {
    hold_answers_ = false;
    for (auto& reply : held_answers_) reactor_->Defer(std::move(reply));
    held_answers_.clear();
  }

  std::unique_ptr<reactor::Reactor> reactor_;
  DeliveryPolicy policy_;
  PendingOps ops_;
  DeliveryShared shared_;
  common::MessageIdGenerator ids_{common::Clock::Real(), 0, 9};
  absl::flat_hash_map<std::string, absl::StatusOr<dns::Destination>> answers_;
  std::vector<std::string> lookups_;
  bool hold_answers_ = false;
  std::vector<absl::AnyInvocable<void()>> held_answers_;
  std::vector<std::pair<int, Routed>> routed_;
  std::vector<std::pair<common::MessageId, smtp::ServerReply>> failed_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, RoutesADueMessageToTheShardThatOwnsItsSite) {
  Answer("example.com", "mx:mx.example.com");
  const queue::ScheduledMessage message = Due("example.com");
  Add({message});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return routed_.size() == 1; }));
  EXPECT_EQ(routed_[0].first, Scheduler::ShardForSite("mx:mx.example.com", 4));
  const Routed& r = routed_[0].second;
  EXPECT_EQ(r.message.id, message.id);
  EXPECT_EQ(r.site_key, "mx:mx.example.com");
  EXPECT_EQ(r.queue_key, "mx:mx.example.com|default|-1");
  EXPECT_EQ(scheduler_->scheduled(), 0u);
}

TEST_F(SchedulerTest, AMessageDueLaterWaitsInTheWindow) {
  Answer("example.com", "mx:mx.example.com");
  queue::ScheduledMessage later = Due("example.com");
  later.due_unix_ms = absl::ToUnixMillis(absl::Now() + absl::Hours(1));
  queue::ScheduledMessage now = Due("example.com");
  Add({later, now});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return routed_.size() == 1; }));
  EXPECT_EQ(routed_[0].second.message.id, now.id);
  EXPECT_EQ(scheduler_->scheduled(), 1u);
}

TEST_F(SchedulerTest, DnsFailuresDeferOrBounceByKind) {
  answers_["temp.example"] = dns::DnsError(dns::DnsFailure::kServFail, "temp.example");
  answers_["gone.example"] = dns::DnsError(dns::DnsFailure::kNxDomain, "gone.example");
  answers_["nullmx.example"] = dns::DnsError(dns::DnsFailure::kNullMx, "nullmx.example");
  Add({Due("temp.example")});
  Add({Due("gone.example")});
  Add({Due("nullmx.example")});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return failed_.size() == 3; }));
  absl::flat_hash_map<int, std::string> codes;
  for (const auto& [id, reply] : failed_) codes[reply.code] = reply.enhanced;
  EXPECT_EQ(codes[451], "4.4.3");   // try again later
  EXPECT_EQ(codes[550], "5.1.2");   // no such domain
  EXPECT_EQ(codes[556], "5.1.10");  // RFC 7505
  EXPECT_TRUE(routed_.empty());
}

TEST_F(SchedulerTest, InboundBouncesAreNotDelivered) {
  queue::ScheduledMessage bounce = Due("example.com");
  bounce.queue = "bounces";
  Add({bounce});
  EXPECT_EQ(scheduler_->scheduled(), 0u);
  EXPECT_TRUE(lookups_.empty());
}

TEST_F(SchedulerTest, ASuspendedTenantIsHeldAndRoutedOnResume) {
  Answer("example.com", "mx:mx.example.com");
  scheduler_->SetSuspended(SuspendScope::kTenant, "acme", true);
  Add({Due("example.com", "acme"), Due("example.com", "other")});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return routed_.size() == 1; }));
  EXPECT_EQ(scheduler_->held(), 1u);
  EXPECT_TRUE(scheduler_->IsSuspended("example.com", "acme", ""));
  scheduler_->SetSuspended(SuspendScope::kTenant, "acme", false);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return routed_.size() == 2; }));
  EXPECT_EQ(scheduler_->held(), 0u);
}

TEST_F(SchedulerTest, ABlockedMessageIsParkedAndRoutedIfTheBounceLeftIt) {
  Answer("example.com", "mx:mx.example.com");
  const queue::ScheduledMessage message = Due("example.com");
  Add({message});
  scheduler_->Block(message.id);
  Add({message});  // handed out again meanwhile: parked too
  const queue::ScheduledMessage other = Due("example.com");
  Add({other});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return routed_.size() == 1; }));
  EXPECT_EQ(routed_[0].second.message.id, other.id);
  scheduler_->Unblock(message.id, /*finished=*/false);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return routed_.size() == 2; }));
  EXPECT_EQ(routed_[1].second.message.id, message.id);
}

TEST_F(SchedulerTest, ABlockedMessageIsForgottenWhenTheBounceFinishedIt) {
  Answer("example.com", "mx:mx.example.com");
  const queue::ScheduledMessage message = Due("example.com");
  Add({message});
  scheduler_->Block(message.id);
  scheduler_->Unblock(message.id, /*finished=*/true);
  const queue::ScheduledMessage other = Due("example.com");
  Add({other});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return routed_.size() == 1; }));
  EXPECT_EQ(routed_[0].second.message.id, other.id);
  EXPECT_EQ(scheduler_->scheduled(), 0u);
}

TEST_F(SchedulerTest, ABounceThatBeginsDuringTheLookupParksTheMessage) {
  Answer("example.com", "mx:mx.example.com");
  const queue::ScheduledMessage message = Due("example.com");
  hold_answers_ = true;
  Add({message});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return lookups_.size() == 1; }));
  scheduler_->Block(message.id);  // the answer is still on its way
  ReleaseAnswers();
  const queue::ScheduledMessage other = Due("example.com");
  Add({other});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return routed_.size() == 1; }));
  EXPECT_EQ(routed_[0].second.message.id, other.id);
}

TEST_F(SchedulerTest, TheLoaderBatchIsSplitByDomainShard) {
  std::vector<queue::ScheduledMessage> due;
  for (int i = 0; i < 50; ++i) due.push_back(Due("d" + std::to_string(i) + ".example"));
  const std::vector<std::vector<queue::ScheduledMessage>> by_shard =
      Scheduler::ByDomainShard(due, 4);
  ASSERT_EQ(by_shard.size(), 4u);
  size_t total = 0;
  for (int shard = 0; shard < 4; ++shard) {
    for (const queue::ScheduledMessage& m : by_shard[shard]) {
      EXPECT_EQ(Scheduler::ShardForDomain(m.domain, 4), shard);
    }
    total += by_shard[shard].size();
  }
  EXPECT_EQ(total, 50u);
}

TEST_F(SchedulerTest, AStoppedSchedulerDropsLookupsInFlight) {
  Answer("example.com", "mx:mx.example.com");
  hold_answers_ = true;
  Add({Due("example.com")});
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return lookups_.size() == 1; }));
  scheduler_->Stop();
  ReleaseAnswers();
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return ops_.count() == 0; }));
  EXPECT_TRUE(routed_.empty());
}

}  // namespace
}  // namespace sluice::engine
