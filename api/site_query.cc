#include "api/site_query.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sluice::api {
namespace {

// 0 when equal: the queues' order under `sort`, before the tie-break.
template <typename T>
int Compare(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

absl::StatusOr<SiteQuery> SiteQuery::Parse(const HttpTarget& target) {
  SiteQuery query;
  bool order_given = false;
  for (const auto& [name, value] : target.params) {
    if (name == "sort") {
      static constexpr std::pair<absl::string_view, Sort> kSorts[] = {
          {"ready", Sort::kReady},
          {"in_flight", Sort::kInFlight},
          {"connections", Sort::kConnections},
          {"window", Sort::kWindow},
          {"delivered_per_minute", Sort::kDeliveredPerMinute},
          {"site", Sort::kSite},
      };
      const auto* found = std::find_if(std::begin(kSorts), std::end(kSorts),
                                       [&](const auto& sort) { return sort.first == value; });
      if (found == std::end(kSorts)) {
        return absl::InvalidArgumentError(
            "sort: must be ready, in_flight, connections, window, delivered_per_minute or site");
      }
      query.sort_ = found->second;
    } else if (name == "order") {
      if (value != "asc" && value != "desc") {
        return absl::InvalidArgumentError("order: must be asc or desc");
      }
      query.descending_ = value == "desc";
      order_given = true;
    } else if (name == "q") {
      query.text_ = absl::AsciiStrToLower(value);
    } else if (name == "suspended") {
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError("suspended: must be true or false");
      }
      query.suspended_ = value == "true";
    } else if (name == "limit") {
      size_t limit = 0;
      if (!absl::SimpleAtoi(value, &limit) || limit == 0 || limit > kMaxLimit) {
        return absl::InvalidArgumentError(absl::StrCat("limit: must be 1 to ", kMaxLimit));
      }
      query.limit_ = limit;
    } else if (name == "offset") {
      if (!absl::SimpleAtoi(value, &query.offset_)) {
        return absl::InvalidArgumentError("offset: must be a whole number");
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": unknown parameter (sort, order, q, suspended, limit or offset)"));
    }
  }
  if (!order_given) query.descending_ = query.sort_ != Sort::kSite;
  return query;
}

bool SiteQuery::Matches(const engine::QueueSnapshot& queue) const {
  if (suspended_.has_value() && queue.suspended != *suspended_) return false;
  if (text_.empty()) return true;
  return absl::StrContains(absl::AsciiStrToLower(queue.site), text_) ||
         absl::StrContains(absl::AsciiStrToLower(queue.pool), text_);
}

SitePage SiteQuery::Apply(std::vector<engine::QueueSnapshot> queues) const {
  queues.erase(std::remove_if(queues.begin(), queues.end(),
                              [this](const engine::QueueSnapshot& q) { return !Matches(q); }),
               queues.end());
  auto compare = [this](const engine::QueueSnapshot& a, const engine::QueueSnapshot& b) {
    int order = 0;
    switch (sort_) {
      case Sort::kReady:
        order = Compare(a.ready, b.ready);
        break;
      case Sort::kInFlight:
        order = Compare(a.in_flight, b.in_flight);
        break;
      case Sort::kConnections:
        order = Compare(a.connections, b.connections);
        break;
      case Sort::kWindow:
        order = Compare(a.window, b.window);
        break;
      case Sort::kDeliveredPerMinute:
        order = Compare(a.delivered_per_minute, b.delivered_per_minute);
        break;
      case Sort::kSite:
        order = Compare(a.site, b.site);
        break;
    }
    if (order != 0) return descending_ ? order > 0 : order < 0;
    return a.key < b.key;
  };
  SitePage page;
  page.total = queues.size();
  page.offset = std::min(offset_, queues.size());
  const size_t end =
      limit_.has_value() ? std::min(queues.size(), page.offset + *limit_) : queues.size();
  // Only the page needs to be in order.
  std::partial_sort(queues.begin(), queues.begin() + end, queues.end(), compare);
  page.queues.assign(std::make_move_iterator(queues.begin() + page.offset),
                     std::make_move_iterator(queues.begin() + end));
  return page;
}

}  // namespace sluice::api
