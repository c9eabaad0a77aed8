#include "engine/site_queue.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace sluice::engine {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
const absl::Duration kHostBackoff = absl::Minutes(5);
const absl::Duration kThrottleBackoff = absl::Minutes(1);

SiteLimits Limits(int initial, int max) {
  SiteLimits limits;
  limits.initial_connections = initial;
  limits.max_connections = max;
  return limits;
}

SiteQueue MakeQueue(const SiteLimits& limits) {
  return SiteQueue("mx:mx1.example.net", limits, kHostBackoff, kThrottleBackoff);
}

ReadyMessage Message(uint64_t n) { return {common::MessageId(1, n), "example.com"}; }

reactor::SocketAddress Address(const char* text) {
  absl::StatusOr<reactor::SocketAddress> address = reactor::SocketAddress::Parse(text);
  EXPECT_TRUE(address.ok()) << address.status();
  return address.ok() ? *address : reactor::SocketAddress();
}

dns::DestinationHost Host(std::string name, std::vector<reactor::SocketAddress> addresses) {
  dns::DestinationHost host;
  host.host = std::move(name);
  host.addresses = std::move(addresses);
  return host;
}

// Takes connections until MayConnect refuses; returns how many it allowed.
int OpenWhileAllowed(SiteQueue& queue, absl::Time now) {
  int opened = 0;
  while (queue.MayConnect(now) && opened < 10'000) {
    queue.ConnectionOpened();
    ++opened;
  }
  return opened;
}

// --- Ready queue -----------------------------------------------------------

TEST(SiteQueueTest, PopReturnsMessagesInFifoOrder) {
  SiteQueue queue = MakeQueue(SiteLimits());
  EXPECT_FALSE(queue.Pop().has_value());
  for (uint64_t n = 1; n <= 3; ++n) queue.Push(Message(n));
  EXPECT_EQ(queue.ready(), 3u);
  for (uint64_t n = 1; n <= 3; ++n) {
    std::optional<ReadyMessage> message = queue.Pop();
    ASSERT_TRUE(message.has_value());
    EXPECT_EQ(message->id, common::MessageId(1, n));
  }
  EXPECT_FALSE(queue.Pop().has_value());
  EXPECT_EQ(queue.ready(), 0u);
}

TEST(SiteQueueTest, PushFrontPutsAMessageBeforeTheOthers) {
  SiteQueue queue = MakeQueue(SiteLimits());
  queue.Push(Message(1));
  queue.Push(Message(2));
  queue.PushFront(Message(9));
  EXPECT_EQ(queue.Pop()->id, common::MessageId(1, 9));
  EXPECT_EQ(queue.Pop()->id, common::MessageId(1, 1));
  EXPECT_EQ(queue.Pop()->id, common::MessageId(1, 2));
}

TEST(SiteQueueTest, TakeAllEmptiesTheQueueInOrder) {
  SiteQueue queue = MakeQueue(SiteLimits());
  queue.Push(Message(1));
  queue.Push(Message(2));
  std::deque<ReadyMessage> all = queue.TakeAll();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, common::MessageId(1, 1));
  EXPECT_EQ(all[1].id, common::MessageId(1, 2));
  EXPECT_EQ(queue.ready(), 0u);
}

// --- Concurrency window ----------------------------------------------------

TEST(SiteQueueTest, WindowStartsAtInitialConnections) {
  EXPECT_EQ(MakeQueue(Limits(4, 32)).window(), 4);
  EXPECT_EQ(MakeQueue(Limits(1, 32)).window(), 1);
}

TEST(SiteQueueTest, WindowStartIsClampedToMaxConnections) {
  EXPECT_EQ(MakeQueue(Limits(10, 3)).window(), 3);
}

TEST(SiteQueueTest, WindowStartIsAtLeastOne) { EXPECT_EQ(MakeQueue(Limits(0, 3)).window(), 1); }

TEST(SiteQueueTest, WindowGrowsByOneOverWindowPerDelivery) {
  SiteQueue queue = MakeQueue(Limits(4, 32));
  // The same arithmetic as Postfix's slow start: each delivery adds
  // 1/window, so the window grows by about one per window's worth.
  double expected = 4;
  for (int delivered = 1; delivered <= 60; ++delivered) {
    queue.OnDelivered();
    expected += 1.0 / expected;
    EXPECT_EQ(queue.window(), static_cast<int>(expected)) << "after " << delivered;
  }
  // Concretely: 4 deliveries are not yet enough (4 + 1/4 + 1/4.25 + ...),
  // the fifth makes it 5.
  SiteQueue fresh = MakeQueue(Limits(4, 32));
  for (int i = 0; i < 4; ++i) fresh.OnDelivered();
  EXPECT_EQ(fresh.window(), 4);
  fresh.OnDelivered();
  EXPECT_EQ(fresh.window(), 5);
}

TEST(SiteQueueTest, WindowGrowthStopsAtMaxConnections) {
  SiteQueue queue = MakeQueue(Limits(1, 3));
  for (int i = 0; i < 1000; ++i) queue.OnDelivered();
  EXPECT_EQ(queue.window(), 3);
  EXPECT_EQ(OpenWhileAllowed(queue, kT0), 3);
}

TEST(SiteQueueTest, ThrottleHalvesTheWindow) {
  SiteQueue queue = MakeQueue(Limits(8, 32));
  queue.OnThrottled(kT0);
  EXPECT_EQ(queue.window(), 4);
  queue.OnThrottled(kT0);
  EXPECT_EQ(queue.window(), 2);
}

TEST(SiteQueueTest, ThrottleNeverTakesTheWindowBelowOne) {
  SiteQueue queue = MakeQueue(Limits(2, 32));
  for (int i = 0; i < 10; ++i) queue.OnThrottled(kT0);
  EXPECT_EQ(queue.window(), 1);
  EXPECT_EQ(OpenWhileAllowed(queue, kT0 + kThrottleBackoff), 1);
}

TEST(SiteQueueTest, ThrottlePausesNewConnectionsUntilTheBackoffPasses) {
  SiteQueue queue = MakeQueue(Limits(8, 32));
  EXPECT_EQ(queue.paused_until(), absl::InfinitePast());
  queue.OnThrottled(kT0);
  EXPECT_EQ(queue.paused_until(), kT0 + kThrottleBackoff);
  EXPECT_FALSE(queue.MayConnect(kT0));
  EXPECT_FALSE(queue.MayConnect(kT0 + kThrottleBackoff - absl::Milliseconds(1)));
  EXPECT_TRUE(queue.MayConnect(kT0 + kThrottleBackoff));
}

TEST(SiteQueueTest, AnEarlierThrottleDoesNotShortenThePause) {
  SiteQueue queue = MakeQueue(Limits(8, 32));
  queue.OnThrottled(kT0 + absl::Seconds(30));
  queue.OnThrottled(kT0);  // a reply that arrived late, timestamped earlier
  EXPECT_EQ(queue.paused_until(), kT0 + absl::Seconds(30) + kThrottleBackoff);
}

TEST(SiteQueueTest, WindowGrowsAgainAfterAThrottle) {
  SiteQueue queue = MakeQueue(Limits(4, 32));
  queue.OnThrottled(kT0);
  EXPECT_EQ(queue.window(), 2);
  queue.OnDelivered();  // 2.5
  EXPECT_EQ(queue.window(), 2);
  queue.OnDelivered();  // 2.9
  queue.OnDelivered();  // 3.24...
  EXPECT_EQ(queue.window(), 3);
}

TEST(SiteQueueTest, MayConnectHonoursTheWindow) {
  SiteQueue queue = MakeQueue(Limits(2, 32));
  EXPECT_TRUE(queue.MayConnect(kT0));
  queue.ConnectionOpened();
  EXPECT_TRUE(queue.MayConnect(kT0));
  queue.ConnectionOpened();
  EXPECT_EQ(queue.connections(), 2);
  EXPECT_FALSE(queue.MayConnect(kT0));
  queue.ConnectionClosed();
  EXPECT_TRUE(queue.MayConnect(kT0));
}

TEST(SiteQueueTest, MayConnectHonoursSuspension) {
  SiteQueue queue = MakeQueue(Limits(2, 32));
  queue.set_suspended(true);
  EXPECT_TRUE(queue.suspended());
  EXPECT_FALSE(queue.MayConnect(kT0));
  queue.set_suspended(false);
  EXPECT_TRUE(queue.MayConnect(kT0));
}

TEST(SiteQueueTest, ThrottleBelowOpenConnectionsRefusesNewOnesAfterThePause) {
  SiteQueue queue = MakeQueue(Limits(8, 32));
  EXPECT_EQ(OpenWhileAllowed(queue, kT0), 8);
  queue.OnThrottled(kT0);
  // The pause is over, but 8 are still open against a window of 4.
  EXPECT_FALSE(queue.MayConnect(kT0 + kThrottleBackoff));
  for (int i = 0; i < 5; ++i) queue.ConnectionClosed();
  EXPECT_TRUE(queue.MayConnect(kT0 + kThrottleBackoff));
}

// --- Message rates ---------------------------------------------------------

TEST(SiteQueueTest, NoRateLimitAlwaysGivesATokenNow) {
  SiteQueue queue = MakeQueue(SiteLimits());
  for (int i = 0; i < 10'000; ++i) ASSERT_EQ(queue.TakeRateToken(kT0), absl::ZeroDuration());
}

TEST(SiteQueueTest, PerSecondRateAllowsABurstOfOneSecondsWorth) {
  SiteLimits limits;
  limits.messages_per_second = 10;
  SiteQueue queue = MakeQueue(limits);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(queue.TakeRateToken(kT0), absl::ZeroDuration()) << i;
  }
  EXPECT_EQ(queue.TakeRateToken(kT0), absl::Milliseconds(100));
  // One interval later, one more (and only one).
  EXPECT_EQ(queue.TakeRateToken(kT0 + absl::Milliseconds(100)), absl::ZeroDuration());
  EXPECT_EQ(queue.TakeRateToken(kT0 + absl::Milliseconds(100)), absl::Milliseconds(100));
}

TEST(SiteQueueTest, PerSecondRateHoldsTheAverageOverTime) {
  SiteLimits limits;
  limits.messages_per_second = 10;
  SiteQueue queue = MakeQueue(limits);
  // Ten seconds of asking every millisecond: the burst plus 10 per second.
  int taken = 0;
  for (int ms = 0; ms < 10'000; ++ms) {
    if (queue.TakeRateToken(kT0 + absl::Milliseconds(ms)) == absl::ZeroDuration()) ++taken;
  }
  EXPECT_EQ(taken, 10 + 99);  // the burst, then one per 100 ms from 100 to 9900
}

TEST(SiteQueueTest, PerMinuteRateSpacesMessagesWithoutBurst) {
  SiteLimits limits;
  limits.messages_per_minute = 6;
  SiteQueue queue = MakeQueue(limits);
  EXPECT_EQ(queue.TakeRateToken(kT0), absl::ZeroDuration());
  EXPECT_EQ(queue.TakeRateToken(kT0), absl::Seconds(10));
  EXPECT_EQ(queue.TakeRateToken(kT0 + absl::Seconds(4)), absl::Seconds(6));
  EXPECT_EQ(queue.TakeRateToken(kT0 + absl::Seconds(10)), absl::ZeroDuration());
}

TEST(SiteQueueTest, PerHourRateSpacesMessagesWithoutBurst) {
  SiteLimits limits;
  limits.messages_per_hour = 2;
  SiteQueue queue = MakeQueue(limits);
  EXPECT_EQ(queue.TakeRateToken(kT0), absl::ZeroDuration());
  EXPECT_EQ(queue.TakeRateToken(kT0), absl::Minutes(30));
  EXPECT_EQ(queue.TakeRateToken(kT0 + absl::Minutes(30)), absl::ZeroDuration());
}

TEST(SiteQueueTest, RefusedTokenCostsNothing) {
  SiteLimits limits;
  limits.messages_per_minute = 6;
  SiteQueue queue = MakeQueue(limits);
  ASSERT_EQ(queue.TakeRateToken(kT0), absl::ZeroDuration());
  // Many refusals in between do not push the next token further away.
  for (int s = 0; s < 10; ++s) {
    EXPECT_GT(queue.TakeRateToken(kT0 + absl::Seconds(s)), absl::ZeroDuration());
  }
  EXPECT_EQ(queue.TakeRateToken(kT0 + absl::Seconds(10)), absl::ZeroDuration());
}

TEST(SiteQueueTest, RefusalByOneLimitTakesNothingFromTheOthers) {
  SiteLimits limits;
  limits.messages_per_second = 100;
  limits.messages_per_hour = 2;
  SiteQueue queue = MakeQueue(limits);
  ASSERT_EQ(queue.TakeRateToken(kT0), absl::ZeroDuration());
  ASSERT_EQ(queue.TakeRateToken(kT0 + absl::Minutes(30)), absl::ZeroDuration());
  // The hour refuses; the per-second limit must not be charged for these.
  for (int i = 0; i < 500; ++i) {
    ASSERT_GT(queue.TakeRateToken(kT0 + absl::Minutes(30)), absl::ZeroDuration());
  }
  // The wait reported is the longest of the limits.
  EXPECT_EQ(queue.TakeRateToken(kT0 + absl::Minutes(30)), absl::Minutes(30));
  // When the hour allows again, so does the second: its burst is intact.
  EXPECT_EQ(queue.TakeRateToken(kT0 + absl::Minutes(60)), absl::ZeroDuration());
}

TEST(SiteQueueTest, TheStrictestRateDecides) {
  SiteLimits limits;
  limits.messages_per_second = 10;
  limits.messages_per_minute = 5;
  SiteQueue queue = MakeQueue(limits);
  EXPECT_EQ(queue.TakeRateToken(kT0), absl::ZeroDuration());
  EXPECT_EQ(queue.TakeRateToken(kT0), absl::Seconds(12));
}

// --- Hosts -----------------------------------------------------------------

dns::Destination TwoMx() {
  dns::Destination destination;
  destination.site.key = "mx:mx1.example.net,mx2.example.net";
  destination.hosts.push_back(
      Host("mx1.example.net", {Address("192.0.2.1:25"), Address("[2001:db8::1]:25")}));
  destination.hosts.push_back(Host("mx2.example.net", {Address("192.0.2.2:25")}));
  return destination;
}

TEST(SiteQueueTest, NoDestinationMeansNoHost) {
  SiteQueue queue = MakeQueue(SiteLimits());
  EXPECT_FALSE(queue.has_destination());
  EXPECT_FALSE(queue.ChooseHost(kT0).has_value());
}

TEST(SiteQueueTest, ChooseHostReturnsTheFirstAddressInMxOrder) {
  SiteQueue queue = MakeQueue(SiteLimits());
  queue.SetDestination(TwoMx());
  ASSERT_TRUE(queue.has_destination());
  std::optional<HostChoice> choice = queue.ChooseHost(kT0);
  ASSERT_TRUE(choice.has_value());
  EXPECT_EQ(choice->host, "mx1.example.net");
  EXPECT_EQ(choice->address, Address("192.0.2.1:25"));
  // Choosing does not consume anything.
  EXPECT_EQ(queue.ChooseHost(kT0)->address, Address("192.0.2.1:25"));
}

TEST(SiteQueueTest, ChooseHostFailsOverAddressByAddressThenToTheNextMx) {
  SiteQueue queue = MakeQueue(SiteLimits());
  queue.SetDestination(TwoMx());
  queue.MarkHostFailed(Address("192.0.2.1:25"), kT0);
  std::optional<HostChoice> choice = queue.ChooseHost(kT0);
  ASSERT_TRUE(choice.has_value());
  EXPECT_EQ(choice->host, "mx1.example.net");
  EXPECT_EQ(choice->address, Address("[2001:db8::1]:25"));

  queue.MarkHostFailed(Address("[2001:db8::1]:25"), kT0);
  choice = queue.ChooseHost(kT0);
  ASSERT_TRUE(choice.has_value());
  EXPECT_EQ(choice->host, "mx2.example.net");
  EXPECT_EQ(choice->address, Address("192.0.2.2:25"));
}

TEST(SiteQueueTest, ChooseHostReturnsNulloptWhenEveryAddressIsFailing) {
  SiteQueue queue = MakeQueue(SiteLimits());
  queue.SetDestination(TwoMx());
  queue.MarkHostFailed(Address("192.0.2.1:25"), kT0);
  queue.MarkHostFailed(Address("[2001:db8::1]:25"), kT0);
  queue.MarkHostFailed(Address("192.0.2.2:25"), kT0 + absl::Seconds(1));
  EXPECT_FALSE(queue.ChooseHost(kT0 + absl::Seconds(2)).has_value());
}

TEST(SiteQueueTest, FailedAddressComesBackWhenTheBackoffPasses) {
  SiteQueue queue = MakeQueue(SiteLimits());
  queue.SetDestination(TwoMx());
  queue.MarkHostFailed(Address("192.0.2.1:25"), kT0);
  EXPECT_EQ(queue.ChooseHost(kT0 + kHostBackoff - absl::Milliseconds(1))->address,
            Address("[2001:db8::1]:25"));
  EXPECT_EQ(queue.ChooseHost(kT0 + kHostBackoff)->address, Address("192.0.2.1:25"));
}

TEST(SiteQueueTest, HostFailureIsPerAddressAndPort) {
  SiteQueue queue = MakeQueue(SiteLimits());
  dns::Destination destination;
  destination.hosts.push_back(Host("mx.example.net", {Address("192.0.2.1:25")}));
  destination.hosts.push_back(Host("alt.example.net", {Address("192.0.2.1:2525")}));
  queue.SetDestination(destination);
  queue.MarkHostFailed(Address("192.0.2.1:25"), kT0);
  std::optional<HostChoice> choice = queue.ChooseHost(kT0);
  ASSERT_TRUE(choice.has_value());
  EXPECT_EQ(choice->address, Address("192.0.2.1:2525"));
}

TEST(SiteQueueTest, SetDestinationSkipsHostsWithoutAddresses) {
  SiteQueue queue = MakeQueue(SiteLimits());
  dns::Destination destination;
  dns::DestinationHost unresolved = Host("mx0.example.net", {});
  unresolved.status = absl::UnavailableError("SERVFAIL");
  destination.hosts.push_back(unresolved);
  destination.hosts.push_back(Host("mx1.example.net", {Address("192.0.2.1:25")}));
  queue.SetDestination(destination);
  std::optional<HostChoice> choice = queue.ChooseHost(kT0);
  ASSERT_TRUE(choice.has_value());
  EXPECT_EQ(choice->host, "mx1.example.net");
}

TEST(SiteQueueTest, DestinationWithNoAddressesAtAllIsNoDestination) {
  SiteQueue queue = MakeQueue(SiteLimits());
  dns::Destination destination;
  destination.hosts.push_back(Host("mx0.example.net", {}));
  queue.SetDestination(destination);
  EXPECT_FALSE(queue.has_destination());
  EXPECT_FALSE(queue.ChooseHost(kT0).has_value());
}

TEST(SiteQueueTest, SetDestinationReplacesTheHostsButKeepsFailureMemory) {
  SiteQueue queue = MakeQueue(SiteLimits());
  queue.SetDestination(TwoMx());
  queue.MarkHostFailed(Address("192.0.2.2:25"), kT0);
  dns::Destination renewed;
  renewed.hosts.push_back(Host("mx2.example.net", {Address("192.0.2.2:25")}));
  renewed.hosts.push_back(Host("mx3.example.net", {Address("192.0.2.3:25")}));
  queue.SetDestination(renewed);
  std::optional<HostChoice> choice = queue.ChooseHost(kT0);
  ASSERT_TRUE(choice.has_value());
  EXPECT_EQ(choice->host, "mx3.example.net");
}

TEST(SiteQueueTest, TlsFailureMemoryExpiresAfterTheHostBackoff) {
  SiteQueue queue = MakeQueue(SiteLimits());
  const reactor::SocketAddress address = Address("192.0.2.1:25");
  EXPECT_FALSE(queue.TlsFailedRecently(address, kT0));
  queue.MarkTlsFailed(address, kT0);
  EXPECT_TRUE(queue.TlsFailedRecently(address, kT0));
  EXPECT_TRUE(queue.TlsFailedRecently(address, kT0 + kHostBackoff - absl::Milliseconds(1)));
  EXPECT_FALSE(queue.TlsFailedRecently(address, kT0 + kHostBackoff));
  EXPECT_FALSE(queue.TlsFailedRecently(Address("192.0.2.2:25"), kT0));
}

TEST(SiteQueueTest, TlsFailureDoesNotMakeTheHostFail) {
  SiteQueue queue = MakeQueue(SiteLimits());
  queue.SetDestination(TwoMx());
  queue.MarkTlsFailed(Address("192.0.2.1:25"), kT0);
  EXPECT_EQ(queue.ChooseHost(kT0)->address, Address("192.0.2.1:25"));
}

TEST(SiteQueueTest, KeepsKeyLimitsAndLastError) {
  SiteQueue queue = MakeQueue(Limits(2, 7));
  EXPECT_EQ(queue.key(), "mx:mx1.example.net");
  EXPECT_EQ(queue.limits().max_connections, 7);
  EXPECT_EQ(queue.last_error(), "");
  queue.set_last_error("connection refused");
  EXPECT_EQ(queue.last_error(), "connection refused");
}

}  // namespace
}  // namespace sluice::engine
