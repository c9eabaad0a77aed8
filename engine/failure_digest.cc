#include "engine/failure_digest.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace sluice::engine {
namespace {

constexpr size_t kMaxShape = 160;

}  // namespace

FailureDigest::FailureDigest(size_t max_groups, absl::Duration max_age)
    : max_groups_(std::max<size_t>(max_groups, 1)), max_age_(max_age) {}

std::string FailureDigest::Shape(std::string_view reply) {
  std::string shape;
  size_t at = 0;
  while (at < reply.size() && shape.size() < kMaxShape) {
    const size_t end = std::min(reply.find(' ', at), reply.size());
    const std::string_view word = reply.substr(at, end - at);
    at = end + 1;
    if (word.empty() || word.find('@') != std::string_view::npos) continue;
    if (!shape.empty()) shape.push_back(' ');
    for (const char c : word) {
      if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        if (shape.empty() || shape.back() != '#') shape.push_back('#');
      } else {
        shape.push_back(c);
      }
    }
  }
  if (shape.size() > kMaxShape) shape.resize(kMaxShape);
  return shape;
}

void FailureDigest::Record(const DeliveryEvent& event) {
  if (event.type != DeliveryEventType::kDeferred && event.type != DeliveryEventType::kBounced &&
      event.type != DeliveryEventType::kExpired) {
    return;
  }
  const std::string type(EventTypeName(event.type));
  std::string key = absl::StrCat(event.site, "\n", type, "\n", event.category, "\n", event.status,
                                 "\n", Shape(event.reply));
  auto it = groups_.find(key);
  if (it == groups_.end()) {
    if (groups_.size() >= max_groups_) MakeRoom(event.time);
    FailureGroup group;
    group.site = event.site;
    group.type = type;
    group.category = event.category;
    group.status = event.status;
    group.first = event.time;
    it = groups_.emplace(std::move(key), std::move(group)).first;
  }
  FailureGroup& group = it->second;
  ++group.count;
  group.reply = event.reply;
  group.last = std::max(group.last, event.time);
}

std::vector<FailureGroup> FailureDigest::Groups(absl::Time now) const {
  std::vector<FailureGroup> out;
  out.reserve(groups_.size());
  for (const auto& [key, group] : groups_) {
    if (now - group.last <= max_age_) out.push_back(group);
  }
  return out;
}

void FailureDigest::MakeRoom(absl::Time now) {
  absl::erase_if(groups_, [&](const auto& entry) { return now - entry.second.last > max_age_; });
  if (groups_.size() < max_groups_) return;
  std::vector<absl::Time> seen;
  seen.reserve(groups_.size());
  for (const auto& [key, group] : groups_) seen.push_back(group.last);
  const size_t drop = std::max<size_t>(groups_.size() / 10, 1);
  std::nth_element(seen.begin(), seen.begin() + (drop - 1), seen.end());
  const absl::Time cutoff = seen[drop - 1];
  size_t dropped = 0;
  absl::erase_if(groups_, [&](const auto& entry) {
    if (dropped >= drop || entry.second.last > cutoff) return false;
    ++dropped;
    return true;
  });
}

}  // namespace sluice::engine
