#include "api/suppression_admin.h"

#include <simdjson.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/http_json.h"

namespace sluice::api {
namespace {

std::string ScopeOf(const HttpTarget& target) {
  const std::string* tenant = target.Param("tenant");
  return tenant == nullptr ? std::string() : *tenant;
}

bool Unavailable(const queue::SuppressionList* list, HttpReply& reply) {
  if (list != nullptr) return false;
  reply(HttpResponse::Error(503, "no spool: the suppression list is unavailable"));
  return true;
}

// An error of the list, as an HTTP answer.
HttpResponse Failed(const absl::Status& status) {
  const int code = absl::IsInvalidArgument(status) ? 400 : 503;
  return HttpResponse::Error(code, status.message());
}

void AppendTime(std::string* out, int64_t unix_ms) {
  if (unix_ms == 0) {
    out->append("null");
    return;
  }
  AppendJsonString(out, absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(unix_ms),
                                         absl::UTCTimeZone()));
}

void AppendEntry(std::string* out, const queue::SuppressionEntry& entry) {
  out->append("{\"address\":");
  AppendJsonString(out, entry.address);
  out->append(",\"tenant\":");
  AppendJsonString(out, entry.scope);
  out->append(",\"source\":");
  AppendJsonString(out, queue::SuppressionSourceName(entry.source));
  out->append(",\"reason\":");
  AppendJsonString(out, entry.reason);
  out->append(",\"created\":");
  AppendTime(out, entry.created_unix_ms);
  out->append(",\"expires\":");
  AppendTime(out, entry.expires_unix_ms);
  out->push_back('}');
}

absl::Status FieldError(std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(absl::string_view(field.data(), field.size()), ": ",
                   absl::string_view(problem.data(), problem.size())));
}

}  // namespace

struct SuppressionAdmin::Parser {
  simdjson::dom::parser json;

  // The entries of an add request, each made now by an operator.
  absl::StatusOr<std::vector<queue::SuppressionEntry>> Entries(std::string_view body,
                                                               absl::Time now) {
    simdjson::dom::element root;
    if (auto error = json.parse(body.data(), body.size()).get(root); error != simdjson::SUCCESS) {
      return FieldError("body", absl::StrCat("invalid JSON: ", simdjson::error_message(error)));
    }
    simdjson::dom::object top;
    if (root.get_object().get(top) != simdjson::SUCCESS) {
      return FieldError("body", "must be a JSON object");
    }
    std::string scope;
    std::optional<simdjson::dom::array> list;
    for (auto field : top) {
      if (field.key == "tenant") {
        std::string_view tenant;
        if (field.value.get_string().get(tenant) != simdjson::SUCCESS) {
          return FieldError("tenant", "must be a string");
        }
        if (tenant.find('\0') != std::string_view::npos) {
          return FieldError("tenant", "must not contain NUL");
        }
        scope = std::string(tenant);
      } else if (field.key == "entries") {
        simdjson::dom::array entries;
        if (field.value.get_array().get(entries) != simdjson::SUCCESS) {
          return FieldError("entries", "must be an array");
        }
        list = entries;
      } else {
        return FieldError(field.key, "unknown field");
      }
    }
    if (!list.has_value() || list->size() == 0) {
      return FieldError("entries", "at least one entry is needed");
    }
    if (list->size() > kMaxEntriesPerAdd) {
      return FieldError(
          "entries", absl::StrCat("more than ", kMaxEntriesPerAdd, "; import a CSV file instead"));
    }
    std::vector<queue::SuppressionEntry> out;
    out.reserve(list->size());
    size_t i = 0;
    for (simdjson::dom::element item : *list) {
      const std::string path = absl::StrCat("entries[", i++, "]");
      simdjson::dom::object object;
      if (item.get_object().get(object) != simdjson::SUCCESS) {
        return FieldError(path, "must be an object");
      }
      queue::SuppressionEntry entry;
      entry.scope = scope;
      entry.source = queue::SuppressionSource::kOperator;
      entry.created_unix_ms = absl::ToUnixMillis(now);
      for (auto field : object) {
        std::string_view text;
        if (field.value.get_string().get(text) != simdjson::SUCCESS) {
          return FieldError(
              absl::StrCat(path, ".", absl::string_view(field.key.data(), field.key.size())),
              "must be a string");
        }
        if (field.key == "address") {
          entry.address = queue::NormalizeSuppressedAddress(text);
          if (entry.address.empty()) {
            return FieldError(absl::StrCat(path, ".address"), "not an address (local@domain)");
          }
        } else if (field.key == "reason") {
          entry.reason = std::string(text.substr(0, 1000));
        } else if (field.key == "expires") {
          absl::Time time;
          std::string error;
          if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &time, &error)) {
            return FieldError(absl::StrCat(path, ".expires"), "must be an RFC 3339 time");
          }
          entry.expires_unix_ms = absl::ToUnixMillis(time);
        } else {
          return FieldError(
              absl::StrCat(path, ".", absl::string_view(field.key.data(), field.key.size())),
              "unknown field");
        }
      }
      if (entry.address.empty()) return FieldError(absl::StrCat(path, ".address"), "missing");
      out.push_back(std::move(entry));
    }
    return out;
  }
};

SuppressionAdmin::SuppressionAdmin(queue::SuppressionList* list, const common::Clock* clock)
    : list_(list), clock_(clock), parser_(std::make_unique<Parser>()) {}

SuppressionAdmin::~SuppressionAdmin() = default;

void SuppressionAdmin::List(const HttpTarget& target, HttpReply reply) {
  if (Unavailable(list_, reply)) return;
  size_t limit = kDefaultPage;
  if (const std::string* text = target.Param("limit"); text != nullptr) {
    if (!absl::SimpleAtoi(*text, &limit) || limit == 0 || limit > kMaxPage) {
      reply(HttpResponse::Error(400, absl::StrCat("limit: must be 1 to ", kMaxPage)));
      return;
    }
  }
  const std::string* prefix = target.Param("prefix");
  const std::string* after = target.Param("after");
  list_->ListSuppressed(ScopeOf(target), prefix == nullptr ? "" : *prefix,
                        after == nullptr ? "" : *after, limit,
                        [reply = std::move(reply),
                         limit](absl::StatusOr<std::vector<queue::SuppressionEntry>> page) mutable {
                          if (!page.ok()) {
                            reply(Failed(page.status()));
                            return;
                          }
                          std::string body = "{\"entries\":[";
                          for (size_t i = 0; i < page->size(); ++i) {
                            if (i > 0) body.push_back(',');
                            AppendEntry(&body, (*page)[i]);
                          }
                          body.append("],\"next\":");
                          if (page->size() == limit) {
                            AppendJsonString(&body, page->back().address);
                          } else {
                            body.append("null");
                          }
                          body.append("}\n");
                          reply(HttpResponse::Json(200, std::move(body)));
                        });
}

void SuppressionAdmin::Add(const HttpRequest& request, HttpReply reply) {
  if (Unavailable(list_, reply)) return;
  absl::StatusOr<std::vector<queue::SuppressionEntry>> entries =
      parser_->Entries(request.body, clock_->Now());
  if (!entries.ok()) {
    reply(HttpResponse::Error(400, entries.status().message()));
    return;
  }
  const size_t added = entries->size();
  list_->Suppress(*std::move(entries),
                  [reply = std::move(reply), added](absl::Status status) mutable {
                    if (!status.ok()) {
                      reply(Failed(status));
                      return;
                    }
                    reply(HttpResponse::Json(200, absl::StrCat("{\"added\":", added, "}\n")));
                  });
}

void SuppressionAdmin::Remove(std::string_view address, const HttpTarget& target, HttpReply reply) {
  if (Unavailable(list_, reply)) return;
  if (queue::NormalizeSuppressedAddress(address).empty()) {
    reply(HttpResponse::Error(400, "address: not an address (local@domain)"));
    return;
  }
  list_->Unsuppress(ScopeOf(target), {std::string(address)},
                    [reply = std::move(reply)](absl::StatusOr<uint64_t> removed) mutable {
                      if (!removed.ok()) {
                        reply(Failed(removed.status()));
                      } else if (*removed == 0) {
                        reply(HttpResponse::Error(404, "address: not on this scope's list"));
                      } else {
                        reply(HttpResponse::Json(200, "{\"removed\":1}\n"));
                      }
                    });
}

void SuppressionAdmin::Check(const HttpTarget& target, HttpReply reply) {
  if (Unavailable(list_, reply)) return;
  const std::string* address = target.Param("address");
  if (address == nullptr || queue::NormalizeSuppressedAddress(*address).empty()) {
    reply(HttpResponse::Error(400, "address: a recipient address is needed"));
    return;
  }
  list_->LookUpSuppressed(
      ScopeOf(target), {*address},
      [reply = std::move(reply)](
          absl::StatusOr<std::vector<std::optional<queue::SuppressionEntry>>> found) mutable {
        if (!found.ok()) {
          reply(Failed(found.status()));
          return;
        }
        std::string body = "{\"suppressed\":";
        if (found->empty() || !(*found)[0].has_value()) {
          body.append("false,\"entry\":null}\n");
        } else {
          body.append("true,\"entry\":");
          AppendEntry(&body, *(*found)[0]);
          body.append("}\n");
        }
        reply(HttpResponse::Json(200, std::move(body)));
      });
}

void SuppressionAdmin::Import(HttpRequest& request, const HttpTarget& target, HttpReply reply) {
  if (Unavailable(list_, reply)) return;
  list_->ImportSuppressions(
      ScopeOf(target), std::move(request.body),
      [reply = std::move(reply)](absl::StatusOr<queue::SuppressionImport> result) mutable {
        if (!result.ok()) {
          reply(Failed(result.status()));
          return;
        }
        std::string body = absl::StrCat("{\"imported\":", result->imported,
                                        ",\"refused\":", result->refused, ",\"errors\":[");
        for (size_t i = 0; i < result->errors.size(); ++i) {
          if (i > 0) body.push_back(',');
          AppendJsonString(&body, result->errors[i]);
        }
        body.append("]}\n");
        reply(HttpResponse::Json(200, std::move(body)));
      });
}

void SuppressionAdmin::Export(const HttpTarget& target, HttpReply reply) {
  if (Unavailable(list_, reply)) return;
  list_->ExportSuppressions(ScopeOf(target),
                            [reply = std::move(reply)](absl::StatusOr<std::string> csv) mutable {
                              if (!csv.ok()) {
                                reply(Failed(csv.status()));
                                return;
                              }
                              HttpResponse response = HttpResponse::Text(200, *std::move(csv));
                              response.content_type = "text/csv; charset=utf-8";
                              reply(std::move(response));
                            });
}

}  // namespace sluice::api
