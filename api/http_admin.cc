#include "api/http_admin.h"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "api/http_json.h"
#include "common/message_id.h"
#include "queue/spool_keys.h"

namespace sluice::api {
namespace {

std::string_view Std(absl::string_view text) { return std::string_view(text.data(), text.size()); }

}  // namespace

std::string_view HttpAdmin::StateName(queue::proto::RecipientState state) {
  switch (state) {
    case queue::proto::PENDING:
      return "pending";
    case queue::proto::DEFERRED:
      return "deferred";
    case queue::proto::DELIVERED:
      return "delivered";
    case queue::proto::BOUNCED:
      return "bounced";
    case queue::proto::EXPIRED:
      return "expired";
    default:
      return "unspecified";
  }
}

namespace {

// ,"name":"value" for each field, escaped.
void AppendStringFields(
    std::string* out,
    std::initializer_list<std::pair<absl::string_view, const std::string*>> fields) {
  for (const auto& [name, value] : fields) {
    absl::StrAppend(out, ",\"", name, "\":");
    AppendJsonString(out, *value);
  }
}

std::string EnvelopeJson(const queue::Envelope& envelope) {
  std::string out = "{\"id\":";
  const absl::StatusOr<common::MessageId> id = queue::ParseIdKey(envelope.id());
  const absl::StatusOr<common::MessageId> body_id = queue::ParseIdKey(envelope.body_id());
  AppendJsonString(&out, id.ok() ? id->ToString() : "");
  out.append(",\"body_id\":");
  AppendJsonString(&out, body_id.ok() ? body_id->ToString() : "");
  out.append(",\"sender\":");
  AppendJsonString(&out, envelope.sender());
  absl::StrAppend(&out, ",\"created_unix_ms\":", envelope.created_unix_ms(),
                  ",\"next_due_unix_ms\":", envelope.next_due_unix_ms(),
                  ",\"attempts\":", envelope.attempts(), ",\"size\":", envelope.size());
  AppendStringFields(&out, {
                               {"last_reply", &envelope.last_reply()},
                               {"tenant", &envelope.tenant()},
                               {"campaign", &envelope.campaign()},
                               {"pool", &envelope.pool()},
                               {"queue", &envelope.queue()},
                               {"domain", &envelope.domain()},
                               {"site", &envelope.site()},
                               {"envid", &envelope.envid()},
                           });
  out.append(",\"recipients\":[");
  for (int i = 0; i < envelope.recipients_size(); ++i) {
    const queue::proto::Recipient& r = envelope.recipients(i);
    if (i > 0) out.push_back(',');
    out.append("{\"address\":");
    AppendJsonString(&out, r.address());
    out.append(",\"state\":");
    AppendJsonString(&out, HttpAdmin::StateName(r.state()));
    absl::StrAppend(&out, ",\"attempts\":", r.attempts(), ",\"last_reply\":");
    AppendJsonString(&out, r.last_reply());
    out.push_back('}');
  }
  out.append("]}\n");
  return out;
}

// {"envelopes":N,"recipients":N,"ages":[...]} without the braces.
void AppendCount(std::string* body, const queue::SpoolCount& count) {
  absl::StrAppend(body, "\"envelopes\":", count.envelopes, ",\"recipients\":", count.recipients,
                  ",\"ages\":[", absl::StrJoin(count.ages, ","), "]");
}

std::string CountsJson(absl::string_view group_name, const std::vector<queue::SpoolCount>& counts) {
  std::string body = "{\"group_by\":";
  AppendJsonString(&body, Std(group_name));
  absl::StrAppend(&body, ",\"age_buckets_minutes\":[",
                  absl::StrJoin(queue::kSpoolAgeBucketsMinutes, ","), "],\"groups\":[");
  queue::SpoolCount total;
  for (size_t i = 0; i < counts.size(); ++i) {
    const queue::SpoolCount& count = counts[i];
    if (i > 0) body.push_back(',');
    body.append("{\"key\":");
    AppendJsonString(&body, count.key);
    body.push_back(',');
    AppendCount(&body, count);
    body.push_back('}');
    total.envelopes += count.envelopes;
    total.recipients += count.recipients;
    for (size_t age = 0; age < total.ages.size(); ++age) total.ages[age] += count.ages[age];
  }
  body.append("],\"total\":{");
  AppendCount(&body, total);
  body.append("}}\n");
  return body;
}

std::string SitesJson(const SitePage& page) {
  std::string body =
      absl::StrCat("{\"total\":", page.total, ",\"offset\":", page.offset, ",\"queues\":[");
  for (size_t i = 0; i < page.queues.size(); ++i) {
    const engine::QueueSnapshot& q = page.queues[i];
    if (i > 0) body += ",";
    body += "{\"site\":";
    AppendJsonString(&body, q.site);
    body += ",\"pool\":";
    AppendJsonString(&body, q.pool);
    absl::StrAppend(&body, ",\"ready\":", q.ready, ",\"in_flight\":", q.in_flight,
                    ",\"connections\":", q.connections, ",\"window\":", q.window,
                    ",\"delivered_per_minute\":", absl::StrFormat("%.1f", q.delivered_per_minute),
                    ",\"suspended\":", q.suspended ? "true" : "false", ",\"last_error\":");
    AppendJsonString(&body, q.last_error);
    body += "}";
  }
  body += "]}\n";
  return body;
}

// The listing of GET /api/v1/messages: one summary per envelope.
std::string ListJson(const std::vector<queue::Envelope>& envelopes, size_t limit) {
  std::string body = "{\"messages\":[";
  std::string last;
  for (size_t i = 0; i < envelopes.size(); ++i) {
    const queue::Envelope& envelope = envelopes[i];
    const absl::StatusOr<common::MessageId> id = queue::ParseIdKey(envelope.id());
    last = id.ok() ? id->ToString() : "";
    if (i > 0) body.push_back(',');
    body.append("{\"id\":");
    AppendJsonString(&body, last);
    body.append(",\"sender\":");
    AppendJsonString(&body, envelope.sender());
    absl::StrAppend(&body, ",\"created_unix_ms\":", envelope.created_unix_ms(),
                    ",\"next_due_unix_ms\":", envelope.next_due_unix_ms(),
                    ",\"attempts\":", envelope.attempts(), ",\"size\":", envelope.size(),
                    ",\"recipients\":", envelope.recipients_size());
    AppendStringFields(&body, {
                                  {"domain", &envelope.domain()},
                                  {"site", &envelope.site()},
                                  {"tenant", &envelope.tenant()},
                                  {"campaign", &envelope.campaign()},
                                  {"queue", &envelope.queue()},
                                  {"last_reply", &envelope.last_reply()},
                              });
    body.push_back('}');
  }
  // A short page is the last one.
  body.append("],\"next\":");
  AppendJsonString(&body, envelopes.size() < limit ? "" : last);
  body.append("}\n");
  return body;
}

std::string FailuresJson(std::vector<engine::FailureGroup> groups, size_t limit) {
  std::sort(groups.begin(), groups.end(),
            [](const engine::FailureGroup& a, const engine::FailureGroup& b) {
              return a.count != b.count
                         ? a.count > b.count
                         : std::tie(a.site, a.type, a.reply) < std::tie(b.site, b.type, b.reply);
            });
  if (groups.size() > limit) groups.resize(limit);
  std::string body = "{\"groups\":[";
  for (size_t i = 0; i < groups.size(); ++i) {
    const engine::FailureGroup& g = groups[i];
    if (i > 0) body.push_back(',');
    body.append("{\"site\":");
    AppendJsonString(&body, g.site);
    AppendStringFields(&body, {
                                  {"type", &g.type},
                                  {"category", &g.category},
                                  {"status", &g.status},
                                  {"reply", &g.reply},
                              });
    absl::StrAppend(&body, ",\"count\":", g.count,
                    ",\"first_unix_ms\":", absl::ToUnixMillis(g.first),
                    ",\"last_unix_ms\":", absl::ToUnixMillis(g.last), "}");
  }
  body.append("]}\n");
  return body;
}

// The filter named by the query; InvalidArgument for an unknown parameter.
absl::StatusOr<queue::SpoolFilter> FilterOf(const HttpTarget& target,
                                            absl::string_view also_allowed) {
  queue::SpoolFilter filter;
  for (const auto& [name, value] : target.params) {
    if (name == "site") {
      filter.site = value;
    } else if (name == "domain") {
      filter.domain = value;
    } else if (name == "tenant") {
      filter.tenant = value;
    } else if (name == "campaign") {
      filter.campaign = value;
    } else if (name == "queue") {
      filter.queue = value;
    } else if (name != also_allowed || also_allowed.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": unknown parameter (site, domain, tenant, campaign or queue)"));
    }
  }
  return filter;
}

// A spool operation's count as {"key":N}, or 503 with its error.
absl::AnyInvocable<void(absl::StatusOr<uint64_t>)> CountAnswer(absl::string_view key,
                                                               HttpReply reply) {
  return
      [key = std::string(key), reply = std::move(reply)](absl::StatusOr<uint64_t> count) mutable {
        if (!count.ok()) {
          reply(HttpResponse::Error(503, count.status().message()));
          return;
        }
        reply(HttpResponse::Json(200, absl::StrCat("{\"", key, "\":", *count, "}\n")));
      };
}

constexpr absl::string_view kNoOperations = "spool operations are unavailable";
constexpr absl::string_view kNoDelivery = "delivery is not running";
constexpr size_t kDefaultListLimit = 100;
constexpr size_t kMaxListLimit = 1000;
constexpr size_t kDefaultFailureLimit = 100;

}  // namespace

void HttpAdmin::ReadMessage(std::string_view id_text, HttpReply reply) {
  absl::StatusOr<common::MessageId> id =
      common::MessageId::Parse(absl::string_view(id_text.data(), id_text.size()));
  if (!id.ok()) {
    reply(HttpResponse::Error(400, absl::StrCat("id: ", id.status().message())));
    return;
  }
  if (spool_ == nullptr) {
    reply(HttpResponse::Error(503, "no spool"));
    return;
  }
  spool_->Read(*id,
               [reply = std::move(reply)](absl::StatusOr<queue::StoredMessage> stored) mutable {
                 if (!stored.ok()) {
                   const int status = absl::IsNotFound(stored.status())      ? 404
                                      : absl::IsUnavailable(stored.status()) ? 503
                                                                             : 500;
                   reply(HttpResponse::Error(status, stored.status().message()));
                   return;
                 }
                 reply(HttpResponse::Json(200, EnvelopeJson(stored->envelope)));
               });
}

void HttpAdmin::CountQueues(const HttpTarget& target, HttpReply reply) {
  absl::StatusOr<queue::SpoolFilter> filter = FilterOf(target, "group_by");
  if (!filter.ok()) {
    reply(HttpResponse::Error(400, filter.status().message()));
    return;
  }
  queue::SpoolGroupBy group_by = queue::SpoolGroupBy::kDomain;
  std::string group_name = "domain";
  if (const std::string* value = target.Param("group_by"); value != nullptr) {
    group_name = *value;
    if (*value == "site") {
      group_by = queue::SpoolGroupBy::kSite;
    } else if (*value == "tenant") {
      group_by = queue::SpoolGroupBy::kTenant;
    } else if (*value == "campaign") {
      group_by = queue::SpoolGroupBy::kCampaign;
    } else if (*value != "domain") {
      reply(HttpResponse::Error(400, "group_by: must be site, domain, tenant or campaign"));
      return;
    }
  }
  if (operations_ == nullptr) {
    reply(HttpResponse::Error(503, kNoOperations));
    return;
  }
  operations_->Count(*std::move(filter), group_by,
                     [group_name, reply = std::move(reply)](
                         absl::StatusOr<std::vector<queue::SpoolCount>> counts) mutable {
                       if (!counts.ok()) {
                         reply(HttpResponse::Error(503, counts.status().message()));
                         return;
                       }
                       reply(HttpResponse::Json(200, CountsJson(group_name, *counts)));
                     });
}

void HttpAdmin::Retry(const HttpTarget& target, HttpReply reply) {
  std::optional<queue::SpoolFilter> filter = AdminFilter(target, "", "", reply);
  if (!filter.has_value()) return;
  if (operations_ == nullptr) {
    reply(HttpResponse::Error(503, kNoOperations));
    return;
  }
  operations_->RescheduleNow(*std::move(filter), CountAnswer("rescheduled", std::move(reply)));
}

void HttpAdmin::Purge(const HttpTarget& target, HttpReply reply) {
  std::optional<queue::SpoolFilter> filter = AdminFilter(target, "purge", "", reply);
  if (!filter.has_value()) return;
  if (operations_ == nullptr) {
    reply(HttpResponse::Error(503, kNoOperations));
    return;
  }
  operations_->Purge(*std::move(filter), CountAnswer("purged", std::move(reply)));
}

void HttpAdmin::Bounce(const HttpTarget& target, HttpReply reply) {
  std::optional<queue::SpoolFilter> filter = AdminFilter(target, "bounce", "reason", reply);
  if (!filter.has_value()) return;
  if (delivery_ == nullptr) {
    reply(HttpResponse::Error(503, kNoDelivery));
    return;
  }
  const std::string* reason = target.Param("reason");
  delivery_->Bounce(*std::move(filter), reason != nullptr ? *reason : "",
                    CountAnswer("bounced", std::move(reply)));
}

void HttpAdmin::Suspend(const HttpTarget& target, bool suspended, HttpReply reply) {
  if (delivery_ == nullptr) {
    reply(HttpResponse::Error(503, kNoDelivery));
    return;
  }
  if (target.params.size() != 1) {
    reply(HttpResponse::Error(400, "filter: give exactly one of site, domain, tenant, campaign"));
    return;
  }
  const auto& [name, value] = target.params.front();
  engine::SuspendScope scope;
  if (name == "site") {
    scope = engine::SuspendScope::kSite;
  } else if (name == "domain") {
    scope = engine::SuspendScope::kDomain;
  } else if (name == "tenant") {
    scope = engine::SuspendScope::kTenant;
  } else if (name == "campaign") {
    scope = engine::SuspendScope::kCampaign;
  } else {
    reply(HttpResponse::Error(
        400, absl::StrCat(name, ": unknown parameter (site, domain, tenant or campaign)")));
    return;
  }
  if (value.empty()) {
    reply(HttpResponse::Error(400, absl::StrCat(name, ": must not be empty")));
    return;
  }
  delivery_->SetSuspended(scope, value, suspended);
  std::string body = absl::StrCat("{\"", suspended ? "suspended" : "resumed", "\":{");
  AppendJsonString(&body, name);
  body += ":";
  AppendJsonString(&body, value);
  body += "}}\n";
  reply(HttpResponse::Json(200, std::move(body)));
}

void HttpAdmin::Sites(const HttpTarget& target, HttpReply reply) {
  absl::StatusOr<SiteQuery> query = SiteQuery::Parse(target);
  if (!query.ok()) {
    reply(HttpResponse::Error(400, query.status().message()));
    return;
  }
  if (delivery_ == nullptr) {
    reply(HttpResponse::Error(503, kNoDelivery));
    return;
  }
  delivery_->Queues([query = *std::move(query),
                     reply = std::move(reply)](std::vector<engine::QueueSnapshot> queues) mutable {
    reply(HttpResponse::Json(200, SitesJson(query.Apply(std::move(queues)))));
  });
}

void HttpAdmin::ListMessages(const HttpTarget& target, HttpReply reply) {
  // limit and after are taken here; the rest is the filter.
  HttpTarget filters = target;
  size_t limit = kDefaultListLimit;
  common::MessageId after;
  std::erase_if(filters.params,
                [](const auto& param) { return param.first == "limit" || param.first == "after"; });
  if (const std::string* text = target.Param("limit"); text != nullptr) {
    if (!absl::SimpleAtoi(*text, &limit) || limit == 0 || limit > kMaxListLimit) {
      reply(HttpResponse::Error(400, absl::StrCat("limit: must be 1 to ", kMaxListLimit)));
      return;
    }
  }
  if (const std::string* text = target.Param("after"); text != nullptr && !text->empty()) {
    absl::StatusOr<common::MessageId> id = common::MessageId::Parse(*text);
    if (!id.ok()) {
      reply(HttpResponse::Error(400, absl::StrCat("after: ", id.status().message())));
      return;
    }
    after = *id;
  }
  std::optional<queue::SpoolFilter> filter = AdminFilter(filters, "", "", reply);
  if (!filter.has_value()) return;
  if (operations_ == nullptr) {
    reply(HttpResponse::Error(503, kNoOperations));
    return;
  }
  operations_->List(
      *std::move(filter), after, limit,
      [limit, reply = std::move(reply)](absl::StatusOr<std::vector<queue::Envelope>> page) mutable {
        if (!page.ok()) {
          reply(HttpResponse::Error(503, page.status().message()));
          return;
        }
        reply(HttpResponse::Json(200, ListJson(*page, limit)));
      });
}

void HttpAdmin::Failures(const HttpTarget& target, HttpReply reply) {
  std::string site;
  size_t limit = kDefaultFailureLimit;
  for (const auto& [name, value] : target.params) {
    if (name == "site") {
      site = value;
    } else if (name == "limit") {
      if (!absl::SimpleAtoi(value, &limit) || limit == 0 || limit > kMaxListLimit) {
        reply(HttpResponse::Error(400, absl::StrCat("limit: must be 1 to ", kMaxListLimit)));
        return;
      }
    } else {
      reply(HttpResponse::Error(400, absl::StrCat(name, ": unknown parameter (site or limit)")));
      return;
    }
  }
  if (delivery_ == nullptr) {
    reply(HttpResponse::Error(503, kNoDelivery));
    return;
  }
  delivery_->Failures(
      [site, limit, reply = std::move(reply)](std::vector<engine::FailureGroup> groups) mutable {
        if (!site.empty()) {
          std::erase_if(groups, [&](const engine::FailureGroup& g) { return g.site != site; });
        }
        reply(HttpResponse::Json(200, FailuresJson(std::move(groups), limit)));
      });
}

void HttpAdmin::Ready(bool stopping, HttpReply reply) {
  if (stopping || spool_ == nullptr) {
    reply(HttpResponse::Text(503, stopping ? "stopping\n" : "no spool\n"));
    return;
  }
  // Probe the writer with a remove of the all-zero id, which no message
  // has: kNotFound means the writer is running and writing.
  spool_->Remove(common::MessageId(), [reply = std::move(reply)](absl::Status status) mutable {
    if (status.ok() || absl::IsNotFound(status)) {
      reply(HttpResponse::Text(200, "ready\n"));
      return;
    }
    reply(HttpResponse::Text(503, absl::StrCat("spool: ", status.message(), "\n")));
  });
}

std::optional<queue::SpoolFilter> HttpAdmin::AdminFilter(const HttpTarget& target,
                                                         absl::string_view action,
                                                         absl::string_view also_allowed,
                                                         HttpReply& reply) {
  absl::StatusOr<queue::SpoolFilter> filter = FilterOf(target, also_allowed);
  if (!filter.ok()) {
    reply(HttpResponse::Error(400, filter.status().message()));
    return std::nullopt;
  }
  if (!action.empty() && filter->Empty()) {
    reply(HttpResponse::Error(
        400, absl::StrCat("filter: a ", action,
                          " needs at least one of site, domain, tenant, campaign, queue")));
    return std::nullopt;
  }
  return *std::move(filter);
}

}  // namespace sluice::api
