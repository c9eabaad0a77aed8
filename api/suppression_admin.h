// SuppressionAdmin: the suppression list's endpoints of the HTTP API,
// without the transport. `tenant` selects the scope everywhere; absent or
// empty is the global scope (every tenant). Errors name the parameter or
// field; a missing list answers 503.
//
//   GET    /api/v1/suppressions         List: ?prefix=&after=&limit= (default
//                                       100, at most 1000), in address order;
//                                       "next" is the `after` of the next page
//   POST   /api/v1/suppressions         Add: {"tenant","entries":[{"address",
//                                       "reason","expires"}]} (at most 10,000;
//                                       more is an import), source "operator"
//   DELETE /api/v1/suppressions/{addr}  Remove: 404 when it was not there
//   GET    /api/v1/suppressions/check   Check: ?address=, what refuses it to
//                                       the tenant (its scope, then global)
//   POST   /api/v1/suppressions/import  Import: a CSV body (queue/suppression_csv.h)
//   GET    /api/v1/suppressions/export  Export: the scope as CSV
//
// The list does the work on the spool's threads; this only parses and
// formats. Used on one shard.
#pragma once

#include <memory>
#include <string_view>

#include "api/http1_session.h"
#include "api/http_response.h"
#include "api/http_target.h"
#include "common/clock.h"
#include "queue/suppression.h"

namespace sluice::api {

class SuppressionAdmin {
 public:
  static constexpr size_t kMaxEntriesPerAdd = 10'000;
  // Entries per page of a listing: by default, and at most.
  static constexpr size_t kDefaultPage = 100;
  static constexpr size_t kMaxPage = 1000;

  SuppressionAdmin(queue::SuppressionList* list, const common::Clock* clock);
  ~SuppressionAdmin();
  SuppressionAdmin(const SuppressionAdmin&) = delete;
  SuppressionAdmin& operator=(const SuppressionAdmin&) = delete;

  void List(const HttpTarget& target, HttpReply reply);
  void Add(const HttpRequest& request, HttpReply reply);
  void Remove(std::string_view address, const HttpTarget& target, HttpReply reply);
  void Check(const HttpTarget& target, HttpReply reply);
  void Import(HttpRequest& request, const HttpTarget& target, HttpReply reply);
  void Export(const HttpTarget& target, HttpReply reply);

 private:
  struct Parser;

  queue::SuppressionList* const list_;
  const common::Clock* const clock_;
  std::unique_ptr<Parser> parser_;
};

}  // namespace sluice::api
