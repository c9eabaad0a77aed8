#include "api/grpc_admin.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "api/api_key_store.h"
#include "api/grpc_injection.h"
#include "api/http_admin.h"
#include "api/site_query.h"
#include "api/suppression_admin.h"
#include "common/message_id.h"
#include "queue/spool_keys.h"

namespace sluice::api {
namespace {

constexpr std::string_view kPrefix = "/sluice.v1.Admin/";
constexpr size_t kDefaultPage = SuppressionAdmin::kDefaultPage;
constexpr size_t kMaxPage = SuppressionAdmin::kMaxPage;
constexpr size_t kMaxEntriesPerAdd = SuppressionAdmin::kMaxEntriesPerAdd;

void Answer(HttpReply& reply, const google::protobuf::Message& message) {
  reply(GrpcMessageResponse(message.SerializeAsString()));
}

void Fail(HttpReply& reply, const absl::Status& status) { reply(GrpcStatusResponse(status)); }

// A backend's failure as the client should see it.
absl::Status Unavailable(const absl::Status& status) {
  if (absl::IsInvalidArgument(status) || absl::IsNotFound(status)) return status;
  return absl::UnavailableError(status.message());
}

queue::SpoolFilter FilterOf(const sluice::v1::Filter& filter) {
  return queue::SpoolFilter{.site = filter.site(),
                            .domain = filter.domain(),
                            .tenant = filter.tenant(),
                            .campaign = filter.campaign(),
                            .queue = filter.queue()};
}

// Answers a spool or delivery operation's count as Affected.
absl::AnyInvocable<void(absl::StatusOr<uint64_t>)> AffectedAnswer(HttpReply reply) {
  return [reply = std::move(reply)](absl::StatusOr<uint64_t> count) mutable {
    if (!count.ok()) {
      Fail(reply, Unavailable(count.status()));
      return;
    }
    sluice::v1::Affected affected;
    affected.set_count(*count);
    Answer(reply, affected);
  };
}

void CopyEntry(const queue::SuppressionEntry& entry, sluice::v1::Suppression* out) {
  out->set_address(entry.address);
  out->set_tenant(entry.scope);
  out->set_source(std::string(queue::SuppressionSourceName(entry.source)));
  out->set_reason(entry.reason);
  out->set_created_unix_ms(entry.created_unix_ms);
  out->set_expires_unix_ms(entry.expires_unix_ms);
}

absl::Status Missing(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, " is unavailable"));
}

}  // namespace

const GrpcAdmin::Method* GrpcAdmin::Find(std::string_view path) {
  using namespace sluice::v1;  // NOLINT: the request types
  constexpr uint32_t kRead = kScopeRead | kScopeAdmin;
  static constexpr Method kMethods[] = {
      {"GetMessage", kRead, &Call<GetMessageRequest, &GrpcAdmin::GetMessage>},
      {"CountQueues", kRead, &Call<CountQueuesRequest, &GrpcAdmin::CountQueues>},
      {"ListSites", kRead, &Call<ListSitesRequest, &GrpcAdmin::ListSites>},
      {"ListSuppressions", kRead, &Call<ListSuppressionsRequest, &GrpcAdmin::ListSuppressions>},
      {"CheckSuppression", kRead, &Call<CheckSuppressionRequest, &GrpcAdmin::CheckSuppression>},
      {"Retry", kScopeAdmin, &Call<Filter, &GrpcAdmin::Retry>},
      {"Purge", kScopeAdmin, &Call<Filter, &GrpcAdmin::Purge>},
      {"Bounce", kScopeAdmin, &Call<BounceRequest, &GrpcAdmin::Bounce>},
      {"Suspend", kScopeAdmin, &Call<Filter, &GrpcAdmin::Suspend>},
      {"Resume", kScopeAdmin, &Call<Filter, &GrpcAdmin::Resume>},
      {"AddSuppressions", kScopeAdmin, &Call<AddSuppressionsRequest, &GrpcAdmin::AddSuppressions>},
      {"RemoveSuppression", kScopeAdmin,
       &Call<RemoveSuppressionRequest, &GrpcAdmin::RemoveSuppression>},
  };
  if (path.substr(0, kPrefix.size()) != kPrefix) return nullptr;
  const std::string_view name = path.substr(kPrefix.size());
  for (const Method& method : kMethods) {
    if (method.name == name) return &method;
  }
  return nullptr;
}

uint32_t GrpcAdmin::ScopesOf(std::string_view path) {
  const Method* method = Find(path);
  return method == nullptr ? 0 : method->scopes;
}

void GrpcAdmin::Serve(std::string_view path, const std::string& message, HttpReply reply) {
  if (const Method* method = Find(path)) {
    method->serve(*this, message, std::move(reply));
    return;
  }
  Fail(reply, absl::UnimplementedError(absl::StrCat(absl::string_view(path.data(), path.size()),
                                                    " is not a method sluice serves")));
}

void GrpcAdmin::GetMessage(const sluice::v1::GetMessageRequest& request, HttpReply reply) {
  absl::StatusOr<common::MessageId> id = common::MessageId::Parse(request.id());
  if (!id.ok()) {
    Fail(reply, absl::InvalidArgumentError(absl::StrCat("id: ", id.status().message())));
    return;
  }
  if (spool_ == nullptr) {
    Fail(reply, Missing("the spool"));
    return;
  }
  spool_->Read(*id,
               [reply = std::move(reply)](absl::StatusOr<queue::StoredMessage> stored) mutable {
                 if (!stored.ok()) {
                   Fail(reply, Unavailable(stored.status()));
                   return;
                 }
                 const queue::Envelope& envelope = stored->envelope;
                 sluice::v1::MessageStatus status;
                 const absl::StatusOr<common::MessageId> id = queue::ParseIdKey(envelope.id());
                 status.set_id(id.ok() ? id->ToString() : "");
                 status.set_sender(envelope.sender());
                 status.set_tenant(envelope.tenant());
                 status.set_campaign(envelope.campaign());
                 status.set_domain(envelope.domain());
                 status.set_queue(envelope.queue());
                 status.set_site(envelope.site());
                 status.set_created_unix_ms(envelope.created_unix_ms());
                 status.set_next_due_unix_ms(envelope.next_due_unix_ms());
                 status.set_attempts(envelope.attempts());
                 status.set_last_reply(envelope.last_reply());
                 for (const queue::proto::Recipient& r : envelope.recipients()) {
                   sluice::v1::RecipientStatus* recipient = status.add_recipients();
                   recipient->set_address(r.address());
                   recipient->set_state(std::string(HttpAdmin::StateName(r.state())));
                   recipient->set_last_reply(r.last_reply());
                 }
                 Answer(reply, status);
               });
}

void GrpcAdmin::CountQueues(const sluice::v1::CountQueuesRequest& request, HttpReply reply) {
  queue::SpoolGroupBy group_by = queue::SpoolGroupBy::kDomain;
  const std::string& name = request.group_by();
  if (name == "site") {
    group_by = queue::SpoolGroupBy::kSite;
  } else if (name == "tenant") {
    group_by = queue::SpoolGroupBy::kTenant;
  } else if (name == "campaign") {
    group_by = queue::SpoolGroupBy::kCampaign;
  } else if (!name.empty() && name != "domain") {
    Fail(reply, absl::InvalidArgumentError("group_by: must be site, domain, tenant or campaign"));
    return;
  }
  if (operations_ == nullptr) {
    Fail(reply, Missing("spool operations"));
    return;
  }
  operations_->Count(
      FilterOf(request.filter()), group_by,
      [reply = std::move(reply)](absl::StatusOr<std::vector<queue::SpoolCount>> counts) mutable {
        if (!counts.ok()) {
          Fail(reply, Unavailable(counts.status()));
          return;
        }
        sluice::v1::CountQueuesResponse response;
        for (const queue::SpoolCount& count : *counts) {
          sluice::v1::QueueCount* group = response.add_groups();
          group->set_key(count.key);
          group->set_envelopes(count.envelopes);
          group->set_recipients(count.recipients);
          response.set_envelopes(response.envelopes() + count.envelopes);
          response.set_recipients(response.recipients() + count.recipients);
        }
        Answer(reply, response);
      });
}

void GrpcAdmin::ListSites(const sluice::v1::ListSitesRequest& /*request*/, HttpReply reply) {
  if (delivery_ == nullptr) {
    Fail(reply, Missing("delivery"));
    return;
  }
  delivery_->Queues([reply = std::move(reply)](std::vector<engine::QueueSnapshot> queues) mutable {
    sluice::v1::ListSitesResponse response;
    // In GET /api/v1/sites' default order: most ready first.
    for (const engine::QueueSnapshot& q : SiteQuery().Apply(std::move(queues)).queues) {
      sluice::v1::Site* site = response.add_sites();
      site->set_site(q.site);
      site->set_pool(q.pool);
      site->set_ready(q.ready);
      site->set_in_flight(q.in_flight);
      site->set_connections(q.connections);
      site->set_window(q.window);
      site->set_delivered_per_minute(q.delivered_per_minute);
      site->set_suspended(q.suspended);
      site->set_last_error(q.last_error);
    }
    Answer(reply, response);
  });
}

void GrpcAdmin::Retry(const sluice::v1::Filter& request, HttpReply reply) {
  if (operations_ == nullptr) {
    Fail(reply, Missing("spool operations"));
    return;
  }
  operations_->RescheduleNow(FilterOf(request), AffectedAnswer(std::move(reply)));
}

void GrpcAdmin::Purge(const sluice::v1::Filter& request, HttpReply reply) {
  const queue::SpoolFilter filter = FilterOf(request);
  if (filter.Empty()) {
    Fail(reply, absl::InvalidArgumentError(
                    "filter: a purge needs at least one of site, domain, tenant, campaign, queue"));
    return;
  }
  if (operations_ == nullptr) {
    Fail(reply, Missing("spool operations"));
    return;
  }
  operations_->Purge(filter, AffectedAnswer(std::move(reply)));
}

void GrpcAdmin::Bounce(const sluice::v1::BounceRequest& request, HttpReply reply) {
  const queue::SpoolFilter filter = FilterOf(request.filter());
  if (filter.Empty()) {
    Fail(reply,
         absl::InvalidArgumentError(
             "filter: a bounce needs at least one of site, domain, tenant, campaign, queue"));
    return;
  }
  if (delivery_ == nullptr) {
    Fail(reply, Missing("delivery"));
    return;
  }
  delivery_->Bounce(filter, request.reason(), AffectedAnswer(std::move(reply)));
}

void GrpcAdmin::Suspend(const sluice::v1::Filter& request, HttpReply reply) {
  SetSuspended(request, true, std::move(reply));
}

void GrpcAdmin::Resume(const sluice::v1::Filter& request, HttpReply reply) {
  SetSuspended(request, false, std::move(reply));
}

void GrpcAdmin::SetSuspended(const sluice::v1::Filter& request, bool suspended, HttpReply reply) {
  const std::pair<engine::SuspendScope, const std::string*> fields[] = {
      {engine::SuspendScope::kSite, &request.site()},
      {engine::SuspendScope::kDomain, &request.domain()},
      {engine::SuspendScope::kTenant, &request.tenant()},
      {engine::SuspendScope::kCampaign, &request.campaign()},
  };
  int given = 0;
  engine::SuspendScope scope = engine::SuspendScope::kSite;
  std::string name;
  for (const auto& [field_scope, value] : fields) {
    if (value->empty()) continue;
    ++given;
    scope = field_scope;
    name = *value;
  }
  if (given != 1 || !request.queue().empty()) {
    Fail(reply,
         absl::InvalidArgumentError("filter: give exactly one of site, domain, tenant, campaign"));
    return;
  }
  if (delivery_ == nullptr) {
    Fail(reply, Missing("delivery"));
    return;
  }
  delivery_->SetSuspended(scope, name, suspended);
  sluice::v1::Suspension answer;
  *answer.mutable_suspended() = request;
  Answer(reply, answer);
}

void GrpcAdmin::ListSuppressions(const sluice::v1::ListSuppressionsRequest& request,
                                 HttpReply reply) {
  const size_t limit = request.limit() == 0 ? kDefaultPage : request.limit();
  if (limit > kMaxPage) {
    Fail(reply, absl::InvalidArgumentError(absl::StrCat("limit: must be 1 to ", kMaxPage)));
    return;
  }
  if (suppression_ == nullptr) {
    Fail(reply, Missing("the suppression list"));
    return;
  }
  suppression_->ListSuppressed(
      request.tenant(), request.prefix(), request.after(), limit,
      [reply = std::move(reply),
       limit](absl::StatusOr<std::vector<queue::SuppressionEntry>> page) mutable {
        if (!page.ok()) {
          Fail(reply, Unavailable(page.status()));
          return;
        }
        sluice::v1::ListSuppressionsResponse response;
        for (const queue::SuppressionEntry& entry : *page) CopyEntry(entry, response.add_entries());
        if (page->size() == limit) response.set_next(page->back().address);
        Answer(reply, response);
      });
}

void GrpcAdmin::CheckSuppression(const sluice::v1::CheckSuppressionRequest& request,
                                 HttpReply reply) {
  if (queue::NormalizeSuppressedAddress(request.address()).empty()) {
    Fail(reply, absl::InvalidArgumentError("address: a recipient address is needed"));
    return;
  }
  if (suppression_ == nullptr) {
    Fail(reply, Missing("the suppression list"));
    return;
  }
  suppression_->LookUpSuppressed(
      request.tenant(), {request.address()},
      [reply = std::move(reply)](
          absl::StatusOr<std::vector<std::optional<queue::SuppressionEntry>>> found) mutable {
        if (!found.ok()) {
          Fail(reply, Unavailable(found.status()));
          return;
        }
        sluice::v1::CheckSuppressionResponse response;
        if (!found->empty() && (*found)[0].has_value()) {
          response.set_suppressed(true);
          CopyEntry(*(*found)[0], response.mutable_entry());
        }
        Answer(reply, response);
      });
}

void GrpcAdmin::AddSuppressions(const sluice::v1::AddSuppressionsRequest& request,
                                HttpReply reply) {
  if (request.entries_size() == 0 ||
      static_cast<size_t>(request.entries_size()) > kMaxEntriesPerAdd) {
    Fail(reply, absl::InvalidArgumentError(
                    absl::StrCat("entries: give 1 to ", kMaxEntriesPerAdd, " (import for more)")));
    return;
  }
  const int64_t now = absl::ToUnixMillis(clock_->Now());
  std::vector<queue::SuppressionEntry> entries;
  entries.reserve(request.entries_size());
  for (int i = 0; i < request.entries_size(); ++i) {
    const sluice::v1::Suppression& given = request.entries(i);
    queue::SuppressionEntry entry;
    entry.scope = request.tenant();
    entry.address = queue::NormalizeSuppressedAddress(given.address());
    if (entry.address.empty()) {
      Fail(reply, absl::InvalidArgumentError(
                      absl::StrCat("entries[", i, "].address: not an address (local@domain)")));
      return;
    }
    if (given.expires_unix_ms() != 0 && given.expires_unix_ms() <= now) {
      Fail(reply, absl::InvalidArgumentError(
                      absl::StrCat("entries[", i, "].expires_unix_ms: already passed")));
      return;
    }
    entry.source = queue::SuppressionSource::kOperator;
    entry.reason = given.reason();
    entry.created_unix_ms = now;
    entry.expires_unix_ms = given.expires_unix_ms();
    entries.push_back(std::move(entry));
  }
  if (suppression_ == nullptr) {
    Fail(reply, Missing("the suppression list"));
    return;
  }
  const uint64_t added = entries.size();
  suppression_->Suppress(std::move(entries),
                         [reply = std::move(reply), added](absl::Status status) mutable {
                           if (!status.ok()) {
                             Fail(reply, Unavailable(status));
                             return;
                           }
                           sluice::v1::AddSuppressionsResponse response;
                           response.set_added(added);
                           Answer(reply, response);
                         });
}

void GrpcAdmin::RemoveSuppression(const sluice::v1::RemoveSuppressionRequest& request,
                                  HttpReply reply) {
  if (queue::NormalizeSuppressedAddress(request.address()).empty()) {
    Fail(reply, absl::InvalidArgumentError("address: not an address (local@domain)"));
    return;
  }
  if (suppression_ == nullptr) {
    Fail(reply, Missing("the suppression list"));
    return;
  }
  suppression_->Unsuppress(request.tenant(), {request.address()},
                           [reply = std::move(reply)](absl::StatusOr<uint64_t> removed) mutable {
                             if (!removed.ok()) {
                               Fail(reply, Unavailable(removed.status()));
                             } else if (*removed == 0) {
                               Fail(reply,
                                    absl::NotFoundError("address: not on this scope's list"));
                             } else {
                               sluice::v1::Affected affected;
                               affected.set_count(*removed);
                               Answer(reply, affected);
                             }
                           });
}

}  // namespace sluice::api
