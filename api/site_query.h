// SiteQuery: the view of GET /api/v1/sites that the dashboard and
// sluicectl page through, sorted and filtered here so that a client never
// has to fetch 10,000 sites to show twenty.
//
//   sort=ready|in_flight|connections|window|delivered_per_minute|site
//                        (default ready; ties in key order)
//   order=desc|asc       (default desc, or asc when sorting by site)
//   q=TEXT               sites or pools containing TEXT, ignoring ASCII case
//   suspended=true|false
//   limit=1..1000, offset=N   one page; without limit, every match
//
//   absl::StatusOr<SiteQuery> query = SiteQuery::Parse(target);
//   SitePage page = query->Apply(std::move(queues));
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/http_target.h"
#include "engine/delivery_control.h"

namespace sluice::api {

struct SitePage {
  size_t total = 0;   // sites matching the filters
  size_t offset = 0;  // of queues[0] among them
  std::vector<engine::QueueSnapshot> queues;
};

class SiteQuery {
 public:
  static constexpr size_t kMaxLimit = 1000;

  // Every queue, most ready first (ties in key order): the default.
  SiteQuery() = default;

  // InvalidArgument naming the parameter ("sort: ...") for an unknown one
  // or a bad value.
  static absl::StatusOr<SiteQuery> Parse(const HttpTarget& target);

  SitePage Apply(std::vector<engine::QueueSnapshot> queues) const;

 private:
  enum class Sort { kReady, kInFlight, kConnections, kWindow, kDeliveredPerMinute, kSite };

  bool Matches(const engine::QueueSnapshot& queue) const;

  Sort sort_ = Sort::kReady;
  bool descending_ = true;
  std::string text_;  // lower case
  std::optional<bool> suspended_;
  std::optional<size_t> limit_;
  size_t offset_ = 0;
};

}  // namespace sluice::api
