// FailureDigest: one shard's recent deferrals, bounces and expiries,
// grouped the way an operator reads them: "mx.example: 421 4.7.0 try again
// later, 1,204 times since 10:02" rather than 1,204 log lines. Replies that
// differ only in what varies from one message to the next fall in one
// group: the group key is the site, the event type, the category, the
// enhanced status and the reply text with digits masked and addresses
// dropped (queue ids, IP addresses, counters, the recipient).
//
// Bounded: at most `max_groups` groups, each keeping the latest reply as
// sent; groups not seen for `max_age` are dropped, and when the digest is
// full the tenth seen longest ago make room (so a storm of unique replies
// costs amortised constant time per event). Used on one shard.
//
//   FailureDigest digest;
//   digest.Record(event);                          // deferred, bounced, expired
//   std::vector<FailureGroup> recent = digest.Groups(now);
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "engine/delivery_control.h"
#include "engine/delivery_event.h"

namespace sluice::engine {

class FailureDigest {
 public:
  explicit FailureDigest(size_t max_groups = 2000, absl::Duration max_age = absl::Hours(1));

  // Counts a deferred, bounced or expired event; ignores the other types.
  void Record(const DeliveryEvent& event);
  // The groups seen within max_age of `now`, in no particular order.
  std::vector<FailureGroup> Groups(absl::Time now) const;
  size_t size() const { return groups_.size(); }

  // The part of a reply that identifies its group: digits masked as '#'
  // (a run as one), words holding an '@' (addresses) dropped, at most 160
  // bytes.
  static std::string Shape(std::string_view reply);

 private:
  // Drops the groups older than max_age, then, if still full, the oldest
  // tenth.
  void MakeRoom(absl::Time now);

  const size_t max_groups_;
  const absl::Duration max_age_;
  absl::flat_hash_map<std::string, FailureGroup> groups_;
};

}  // namespace sluice::engine
