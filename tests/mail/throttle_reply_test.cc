#include "mail/throttle_reply.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::mail {
namespace {

smtp::ServerReply Reply(int code, std::string enhanced, std::string text) {
  smtp::ServerReply reply;
  reply.code = code;
  reply.enhanced = std::move(enhanced);
  reply.lines = {std::move(text)};
  return reply;
}

TEST(ThrottleReplyTest, ServiceClosingIsAThrottle) {
  EXPECT_TRUE(IsThrottleReply(Reply(421, "4.7.0", "mx.example.com closing transmission channel")));
  EXPECT_TRUE(IsThrottleReply(Reply(421, "", "Service not available")));
}

TEST(ThrottleReplyTest, Rfc7372RateLimitCodesAreThrottles) {
  EXPECT_TRUE(IsThrottleReply(Reply(450, "4.7.28", "rate limited for this sender")));
  EXPECT_TRUE(IsThrottleReply(Reply(451, "4.7.0", "Temporary server error, try again later")));
}

TEST(ThrottleReplyTest, ProviderDeferralTextsAreThrottles) {
  EXPECT_TRUE(IsThrottleReply(Reply(
      451, "", "Message temporarily deferred due to unresolvable RFC.5321 from domain [TS03]")));
  EXPECT_TRUE(IsThrottleReply(Reply(451, "4.3.2", "Too many connections, slow down")));
  EXPECT_TRUE(IsThrottleReply(Reply(450, "4.2.1", "User is receiving mail at a rate limit")));
  EXPECT_TRUE(IsThrottleReply(Reply(452, "4.3.1", "Throttled: try later")));
}

TEST(ThrottleReplyTest, TooManyRecipientsAsksForAnotherTransactionNotFewerConnections) {
  EXPECT_FALSE(IsThrottleReply(Reply(452, "4.5.3", "Error: too many recipients")));
}

TEST(ThrottleReplyTest, OrdinaryDeferralsBouncesAndSuccessesAreNot) {
  EXPECT_FALSE(IsThrottleReply(Reply(451, "4.3.0", "Error: queue file write error")));
  EXPECT_FALSE(IsThrottleReply(Reply(450, "4.2.0", "Mailbox busy")));
  EXPECT_FALSE(IsThrottleReply(Reply(550, "5.7.1", "Too many complaints from your IP")));
  EXPECT_FALSE(IsThrottleReply(Reply(250, "2.0.0", "Ok: queued, too many to count")));
}

TEST(ThrottleReplyTest, OurOwnRepliesAreNeverThrottles) {
  EXPECT_FALSE(IsThrottleReply(smtp::ServerReply::Local(421, "4.4.2", "connection closed")));
  EXPECT_FALSE(IsThrottleReply(smtp::ServerReply::Local(451, "4.4.1", "too many failures")));
}

}  // namespace
}  // namespace sluice::mail
