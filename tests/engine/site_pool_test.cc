#include "engine/site_pool.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "tests/engine/delivery_fakes.h"

namespace sluice::engine {
namespace {

using testing::FakeConnection;
using testing::FakeConnector;
using testing::FakeSpool;
using testing::RunUntil;

using testing::kOk;

// What the pool told its engine.
class RecordingDelegate final : public SitePool::Delegate {
 public:
  struct Attempt {
    DeliveryJob job;
    smtp::DeliveryResult result;
    AttemptInfo info;
  };

  void OnAttempt(SitePool&, DeliveryJob job, smtp::DeliveryResult result,
                 AttemptInfo info) override {
    attempts.push_back({std::move(job), std::move(result), std::move(info)});
  }
  void OnUnsent(SitePool&, const common::MessageId& id, const smtp::ServerReply& reply) override {
    unsent.push_back({id, reply});
  }
  void OnReleased(const common::MessageId& id) override { released.push_back(id); }
  bool MaySend(const common::MessageId&) override { return true; }
  bool HoldIfSuspended(const common::MessageId&, const queue::Envelope&) override { return false; }
  void OnConnectionGone(SitePool&) override {}

  std::vector<Attempt> attempts;
  std::vector<std::pair<common::MessageId, smtp::ServerReply>> unsent;
  std::vector<common::MessageId> released;
};

class SitePoolTest : public testing::DeliveryTest {
 protected:
  explicit SitePoolTest(const std::string& toml = "") : DeliveryTest(toml) {}

  // A site whose MX hosts are `hosts` ("name=address:port"), in order.
  Routed Route(const common::MessageId& id, const std::vector<std::string>& hosts) {
    Routed routed;
    routed.site_key = "mx:test";
    routed.pool = &policy_.PoolFor("", "");
    routed.queue_key = "mx:test|default|-1";
    routed.destination.site.key = routed.site_key;
    for (const std::string& host : hosts) {
      const size_t eq = host.find('=');
      const size_t colon = host.rfind(':');
      dns::DestinationHost& h = routed.destination.hosts.emplace_back();
      h.host = host.substr(0, eq);
      h.addresses.push_back(reactor::SocketAddress::FromHostPort(
                                host.substr(eq + 1, colon - eq - 1),
                                static_cast<uint16_t>(std::stoi(host.substr(colon + 1))))
                                .value());
    }
    routed.message = {id, "example.com"};
    return routed;
  }

  SitePool& Pool(const Routed& first) {
    pool_ = std::make_unique<SitePool>(*reactor_, shared_, ops_, delegate_, log_limit_, first);
    return *pool_;
  }

  PendingOps ops_;
  RecordingDelegate delegate_;
  common::LogLimiter log_limit_{100, 100};
  std::unique_ptr<SitePool> pool_;
};

const std::vector<std::string> kTwoMx = {"mx1.example.com=127.0.0.1:2501",
                                         "mx2.example.com=127.0.0.2:2502"};

TEST_F(SitePoolTest, DeliversAReadyMessageOverANewConnection) {
  const common::MessageId id = spool_.Put("example.com", {"a@example.com"});
  connector_.set_on_open([](FakeConnection& c) { c.Ready(); });
  connector_.set_on_send(
      [](FakeConnection& c) { c.Finish(smtp::RecipientStatus::kDelivered, kOk); });
  const Routed routed = Route(id, kTwoMx);
  Pool(routed).Add(routed);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return delegate_.attempts.size() == 1; }));
  const RecordingDelegate::Attempt& attempt = delegate_.attempts[0];
  EXPECT_EQ(attempt.job.envelope.site(), "mx:test");  // for operators' filters
  EXPECT_EQ(attempt.result.recipients[0].status, smtp::RecipientStatus::kDelivered);
  EXPECT_EQ(attempt.info.remote_host, "mx1.example.com");
  EXPECT_EQ(attempt.info.reporting_mta, "mta.example.org");
  EXPECT_EQ(connector_.opened(), (std::vector<std::string>{"127.0.0.1:2501"}));
}

TEST_F(SitePoolTest, FailsOverToTheNextMxWhenAConnectionFailsBeforeItsFirstMessage) {
  const common::MessageId id = spool_.Put("example.com", {"a@example.com"});
  connector_.set_on_open([](FakeConnection& c) {
    if (c.host().host == "mx1.example.com") {
      c.Break(smtp::ServerReply::Local(421, "4.4.1", "connection refused"));
    } else {
      c.Ready();
    }
  });
  connector_.set_on_send(
      [](FakeConnection& c) { c.Finish(smtp::RecipientStatus::kDelivered, kOk); });
  const Routed routed = Route(id, kTwoMx);
  SitePool& pool = Pool(routed);
  pool.Add(routed);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return delegate_.attempts.size() == 1; }));
  EXPECT_EQ(connector_.opened(), (std::vector<std::string>{"127.0.0.1:2501", "127.0.0.2:2502"}));
  EXPECT_EQ(delegate_.attempts[0].info.remote_host, "mx2.example.com");
  EXPECT_TRUE(absl::StrContains(pool.Snapshot(absl::Now()).last_error, "connection refused"));
}

TEST_F(SitePoolTest, DefersReadyMailWhenNoMailExchangerIsReachable) {
  const common::MessageId id = spool_.Put("example.com", {"a@example.com"});
  connector_.set_on_open([](FakeConnection& c) {
    c.Break(smtp::ServerReply::Local(421, "4.4.1", "connection refused"));
  });
  const Routed routed = Route(id, kTwoMx);
  Pool(routed).Add(routed);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return delegate_.unsent.size() == 1; }));
  EXPECT_EQ(delegate_.unsent[0].first, id);
  EXPECT_EQ(delegate_.unsent[0].second.code, 451);
  EXPECT_TRUE(absl::StrContains(delegate_.unsent[0].second.Text(), "no mail exchanger reachable"));
  EXPECT_EQ(connector_.opened().size(), 2u);  // each MX once
  EXPECT_TRUE(delegate_.attempts.empty());
}

class ThrottledSitePoolTest : public SitePoolTest {
 protected:
  ThrottledSitePoolTest()
      : SitePoolTest(
            "[delivery]\nthrottle_backoff = \"1h\"\n"
            "[delivery.limits]\ninitial_connections = 4\n") {}
};

TEST_F(ThrottledSitePoolTest, AThrottleReplyHalvesTheWindowAndPausesNewConnections) {
  std::vector<Routed> routed;
  for (int i = 0; i < 8; ++i) {
    routed.push_back(Route(spool_.Put("example.com", {"a@example.com"}), kTwoMx));
  }
  connector_.set_on_open([](FakeConnection& c) { c.Ready(); });
  SitePool& pool = Pool(routed[0]);
  for (Routed& r : routed) pool.Add(r);
  // The window (4) opens four connections; each takes a message.
  ASSERT_TRUE(RunUntil(*reactor_, [&] {
    int busy = 0;
    for (FakeConnection* c : connector_.open()) busy += c->job().has_value();
    return busy == 4;
  }));
  EXPECT_EQ(pool.Snapshot(absl::Now()).window, 4);
  EXPECT_EQ(connector_.opened().size(), 4u);
  // One answers with a throttle; every connection then breaks.
  const smtp::ServerReply throttle{421, "4.7.28", {"rate limited, try again later"}};
  connector_.open()[0]->Finish(smtp::RecipientStatus::kTemporaryFailure, throttle);
  EXPECT_EQ(pool.Snapshot(absl::Now()).window, 2);
  for (FakeConnection* c : connector_.open()) {
    c->Break(smtp::ServerReply::Local(421, "4.4.2", "lost connection"));
  }
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return connector_.open().empty(); }));
  // Paused for throttle_backoff: nothing new opens, mail waits.
  EXPECT_EQ(connector_.opened().size(), 4u);
  EXPECT_GT(pool.Snapshot(absl::Now()).ready, 0u);
  EXPECT_EQ(delegate_.attempts[0].result.recipients[0].reply.enhanced, "4.7.28");
}

TEST_F(SitePoolTest, AMessageRescheduledMeanwhileDoesNotGo) {
  const int64_t later = absl::ToUnixMillis(absl::Now() + absl::Hours(1));
  const common::MessageId id = spool_.Put("example.com", {"a@example.com"}, later);
  connector_.set_on_open([](FakeConnection& c) { c.Ready(); });
  const Routed routed = Route(id, kTwoMx);
  Pool(routed).Add(routed);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return delegate_.released.size() == 1; }));
  EXPECT_EQ(delegate_.released[0], id);
  EXPECT_TRUE(delegate_.attempts.empty());
  for (FakeConnection* c : connector_.open()) EXPECT_FALSE(c->job().has_value());
}

TEST_F(SitePoolTest, AWithdrawnMessageIsSkippedWhenItsTurnComes) {
  const common::MessageId first = spool_.Put("example.com", {"a@example.com"});
  const common::MessageId second = spool_.Put("example.com", {"b@example.com"});
  connector_.set_on_open([](FakeConnection& c) { c.Ready(); });
  connector_.set_on_send(
      [](FakeConnection& c) { c.Finish(smtp::RecipientStatus::kDelivered, kOk); });
  const Routed a = Route(first, kTwoMx);
  SitePool& pool = Pool(a);
  pool.SetSuspended(true);
  pool.Add(a);
  pool.Add(Route(second, kTwoMx));
  EXPECT_TRUE(pool.Withdraw(first));
  EXPECT_EQ(pool.Snapshot(absl::Now()).ready, 1u);
  pool.SetSuspended(false);
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return delegate_.attempts.size() == 1; }));
  EXPECT_EQ(delegate_.attempts[0].job.envelope.recipients(0).address(), "b@example.com");
  EXPECT_EQ(spool_.reads(), 1u);  // the withdrawn one was not even read
}

TEST_F(SitePoolTest, StopQuitsIdleConnectionsAndLetsBusyOnesFinish) {
  const common::MessageId id = spool_.Put("example.com", {"a@example.com"});
  connector_.set_on_open([](FakeConnection& c) { c.Ready(); });
  const Routed routed = Route(id, kTwoMx);
  SitePool& pool = Pool(routed);
  pool.Add(routed);
  ASSERT_TRUE(RunUntil(*reactor_, [&] {
    return !connector_.open().empty() && connector_.open()[0]->job().has_value();
  }));
  FakeConnection* busy = connector_.open()[0];
  pool.Stop();
  EXPECT_FALSE(busy->quitting());
  busy->Finish(smtp::RecipientStatus::kDelivered, kOk);
  ASSERT_EQ(delegate_.attempts.size(), 1u);  // a final result is still recorded
  ASSERT_TRUE(RunUntil(*reactor_, [&] { return !pool.has_connections(); }));
}

}  // namespace
}  // namespace sluice::engine
