// HttpAdmin: the admin and read endpoints of the HTTP API, without the
// transport. Each handler answers through its reply exactly once, now (a
// bad filter, a missing component) or when the spool or the delivery
// engine has answered. Filters are the query parameters site, domain,
// tenant, campaign and queue; errors name the parameter.
//
//   GET    /api/v1/messages/{id}  ReadMessage: the envelope and its recipients
//   GET    /api/v1/queues         CountQueues, grouped by ?group_by=
//   POST   /api/v1/retry          Retry: matching envelopes due now
//   DELETE /api/v1/messages       Purge (a filter required)
//   POST   /api/v1/bounce         Bounce, with DSNs (a filter required)
//   POST   /api/v1/suspend|resume Suspend: one site, domain, tenant or campaign
//   GET    /api/v1/messages       ListMessages: envelopes by filter, paged
//   GET    /api/v1/sites          Sites: the live delivery queues, sorted,
//                                 filtered and paged (api/site_query.h)
//   GET    /api/v1/failures       Failures: recent deferral and bounce
//                                 reasons grouped by site (?site=, ?limit=)
//   GET    /readyz                Ready: the spool's writer accepts writes
//
// Used on one shard; every pointer may be null (those endpoints answer
// 503), and what is set must outlive the answers.
#pragma once

#include <optional>
#include <string_view>

#include "absl/strings/string_view.h"
#include "api/http_response.h"
#include "api/http_target.h"
#include "api/site_query.h"
#include "engine/delivery_control.h"
#include "queue/spool.h"
#include "queue/spool_admin.h"

namespace sluice::api {

class HttpAdmin {
 public:
  HttpAdmin(queue::Spool* spool, queue::SpoolAdmin* operations, engine::DeliveryControl* delivery)
      : spool_(spool), operations_(operations), delivery_(delivery) {}

  void ReadMessage(std::string_view id_text, HttpReply reply);
  void CountQueues(const HttpTarget& target, HttpReply reply);
  void Retry(const HttpTarget& target, HttpReply reply);
  void Purge(const HttpTarget& target, HttpReply reply);
  void Bounce(const HttpTarget& target, HttpReply reply);
  void Suspend(const HttpTarget& target, bool suspended, HttpReply reply);
  void Sites(const HttpTarget& target, HttpReply reply);
  // ?limit= (1-1000, default 100) and ?after=ID (the last of the previous
  // page) besides the filters; "next" is "" once a page comes back short.
  void ListMessages(const HttpTarget& target, HttpReply reply);
  void Failures(const HttpTarget& target, HttpReply reply);
  // 503 while `stopping`, without a spool, or when its writer fails.
  void Ready(bool stopping, HttpReply reply);

  // "pending", "deferred", "delivered", "bounced", "expired".
  static std::string_view StateName(queue::proto::RecipientState state);

 private:
  // The filter of an admin request, or nullopt after answering 400. A
  // non-empty `action` ("purge") refuses an empty filter.
  static std::optional<queue::SpoolFilter> AdminFilter(const HttpTarget& target,
                                                       absl::string_view action,
                                                       absl::string_view also_allowed,
                                                       HttpReply& reply);

  queue::Spool* const spool_;
  queue::SpoolAdmin* const operations_;
  engine::DeliveryControl* const delivery_;
};

}  // namespace sluice::api
