#include "queue/schedule_window.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sluice::queue {
namespace {

ScheduledMessage At(uint64_t id, int64_t due, std::string domain = "example.com") {
  return ScheduledMessage{common::MessageId(id, 0), due, std::move(domain), "", "", "", ""};
}

std::vector<uint64_t> Ids(const std::vector<ScheduledMessage>& messages) {
  std::vector<uint64_t> ids;
  for (const ScheduledMessage& message : messages) ids.push_back(message.id.hi());
  return ids;
}

TEST(ScheduleWindowTest, PopsOnlyWhatIsDueInDueThenIdOrder) {
  ScheduleWindow window;
  window.Add(At(3, 200));
  window.Add(At(1, 100));
  window.Add(At(2, 100));
  window.Add(At(4, 300));
  EXPECT_EQ(window.NextDue(), 100);

  std::vector<ScheduledMessage> out;
  EXPECT_EQ(window.PopDue(99, 10, &out), 0u);
  EXPECT_EQ(window.PopDue(200, 10, &out), 3u);
  EXPECT_EQ(Ids(out), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(window.size(), 1u);
  EXPECT_EQ(window.NextDue(), 300);
}

TEST(ScheduleWindowTest, PopRespectsTheLimit) {
  ScheduleWindow window;
  for (uint64_t i = 1; i <= 5; ++i) window.Add(At(i, 10));
  std::vector<ScheduledMessage> out;
  EXPECT_EQ(window.PopDue(10, 2, &out), 2u);
  EXPECT_EQ(window.PopDue(10, 10, &out), 3u);
  EXPECT_EQ(Ids(out), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_FALSE(window.NextDue().has_value());
}

TEST(ScheduleWindowTest, AddingAHeldIdMovesItInsteadOfDuplicatingIt) {
  ScheduleWindow window;
  window.Add(At(1, 500, "old.example"));
  window.Add(At(1, 100, "new.example"));
  EXPECT_EQ(window.size(), 1u);
  std::vector<ScheduledMessage> out;
  window.PopDue(1000, 10, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].due_unix_ms, 100);
  EXPECT_EQ(out[0].domain, "new.example");
}

TEST(ScheduleWindowTest, RemovedIdIsNeverPopped) {
  ScheduleWindow window;
  window.Add(At(1, 100));
  window.Add(At(2, 100));
  EXPECT_TRUE(window.Remove(common::MessageId(1, 0)));
  EXPECT_FALSE(window.Remove(common::MessageId(1, 0)));
  std::vector<ScheduledMessage> out;
  window.PopDue(100, 10, &out);
  EXPECT_EQ(Ids(out), (std::vector<uint64_t>{2}));
}

TEST(ScheduleWindowTest, RouteNamesAreSharedAndReleased) {
  ScheduleWindow window;
  for (uint64_t i = 1; i <= 1000; ++i) {
    window.Add(At(i, 100, "a-rather-long-domain-name.example.com"));
  }
  std::vector<ScheduledMessage> out;
  window.PopDue(100, 1000, &out);
  for (const ScheduledMessage& message : out) {
    EXPECT_EQ(message.domain, "a-rather-long-domain-name.example.com");
  }
  // A domain reused after every user left gets a fresh, correct route.
  window.Add(At(5000, 100, "other.example"));
  out.clear();
  window.PopDue(100, 10, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].domain, "other.example");
}

TEST(ScheduleWindowTest, HoldsAHundredThousandEntriesInUnderAHundredBytesEach) {
  ScheduleWindow window;
  constexpr int kEntries = 100'000;
  for (int i = 0; i < kEntries; ++i) {
    window.Add(At(i + 1, 1000 + i % 5000, absl::StrCat("domain", i % 500, ".example.com")));
  }
  const double per_entry = static_cast<double>(window.MemoryBytes()) / kEntries;
  EXPECT_LT(per_entry, 100.0) << per_entry;
  std::vector<ScheduledMessage> out;
  EXPECT_EQ(window.PopDue(1'000'000, kEntries, &out), static_cast<size_t>(kEntries));
  for (size_t i = 1; i < out.size(); ++i) {
    ASSERT_LE(out[i - 1].due_unix_ms, out[i].due_unix_ms);
  }
}

}  // namespace
}  // namespace sluice::queue
