#include "smtp/client_wait.h"

#include <gtest/gtest.h>

#include <utility>

namespace sluice::smtp {
namespace {

TEST(ClientWaitTest, NamesTheCommandWaitedOn) {
  EXPECT_EQ(ClientWaitName(ClientWait::kNone), "nothing");
  EXPECT_EQ(ClientWaitName(ClientWait::kHelo), "EHLO/HELO");
  EXPECT_EQ(ClientWaitName(ClientWait::kRcpt), "RCPT TO");
  EXPECT_EQ(ClientWaitName(ClientWait::kDataInitiation), "DATA");
  EXPECT_EQ(ClientWaitName(ClientWait::kDataTermination), "end of data");
}

TEST(ClientWaitTest, EachWaitHasItsRfc5321Timeout) {
  ClientTimeouts timeouts;
  timeouts.greeting = absl::Seconds(1);
  timeouts.mail = absl::Seconds(2);
  timeouts.rcpt = absl::Seconds(3);
  timeouts.data_initiation = absl::Seconds(4);
  timeouts.data_block = absl::Seconds(5);
  timeouts.data_termination = absl::Seconds(6);
  timeouts.command = absl::Seconds(7);
  const std::pair<ClientWait, absl::Duration> cases[] = {
      {ClientWait::kNone, absl::InfiniteDuration()},
      {ClientWait::kGreeting, absl::Seconds(1)},
      {ClientWait::kHelo, absl::Seconds(7)},
      {ClientWait::kStartTls, absl::Seconds(7)},
      {ClientWait::kRset, absl::Seconds(7)},
      {ClientWait::kMail, absl::Seconds(2)},
      {ClientWait::kRcpt, absl::Seconds(3)},
      {ClientWait::kDataInitiation, absl::Seconds(4)},
      {ClientWait::kBdat, absl::Seconds(5)},
      {ClientWait::kDataTermination, absl::Seconds(6)},
      {ClientWait::kQuit, absl::Seconds(7)},
  };
  for (const auto& [wait, timeout] : cases) {
    EXPECT_EQ(ClientWaitTimeout(wait, timeouts), timeout) << ClientWaitName(wait);
  }
}

}  // namespace
}  // namespace sluice::smtp
