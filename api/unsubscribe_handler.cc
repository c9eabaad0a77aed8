#include "api/unsubscribe_handler.h"

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/http_json.h"
#include "mime/template.h"

namespace sluice::api {
namespace {

// RFC 8058 section 3.1: the POST body names the one-click action, form
// encoded among possibly other fields.
bool IsOneClick(absl::string_view body) {
  for (absl::string_view field : absl::StrSplit(body, '&')) {
    if (absl::StripAsciiWhitespace(field) == "List-Unsubscribe=One-Click") return true;
  }
  return false;
}

}  // namespace

std::string UnsubscribeHandler::EventJson(const Unsubscribe& who, absl::Time time) {
  std::string out = "{\"type\":\"unsubscribe\",\"time\":";
  AppendJsonString(&out, absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone()));
  out.append(",\"tenant\":");
  AppendJsonString(&out, who.tenant);
  out.append(",\"recipient\":");
  AppendJsonString(&out, who.recipient);
  out.append(",\"campaign\":");
  AppendJsonString(&out, who.campaign);
  out.push_back('}');
  return out;
}

std::optional<Unsubscribe> UnsubscribeHandler::Verify(std::string_view token,
                                                      HttpReply& reply) const {
  if (tokens_ == nullptr) {
    reply(HttpResponse::Error(404, "unsubscribe: one-click unsubscribe is not configured"));
    return std::nullopt;
  }
  absl::StatusOr<Unsubscribe> who = tokens_->Verify(absl::string_view(token.data(), token.size()));
  if (!who.ok()) {
    reply(HttpResponse::Error(400, absl::StrCat("token: ", who.status().message())));
    return std::nullopt;
  }
  return *std::move(who);
}

void UnsubscribeHandler::Post(std::string_view token, const HttpRequest& request, HttpReply reply) {
  std::optional<Unsubscribe> who = Verify(token, reply);
  if (!who.has_value()) return;
  if (!IsOneClick(request.body)) {
    reply(HttpResponse::Error(400, "body: must be List-Unsubscribe=One-Click (RFC 8058)"));
    return;
  }
  if (!record_ || !record_(EventJson(*who, clock_->Now()))) {
    reply(HttpResponse::Error(503, "unsubscribe: the event log is full; try again",
                              {{"Retry-After", "1"}}));
    return;
  }
  if (unsubscribed_ != nullptr) unsubscribed_->Add(1);
  if (suppression_ == nullptr) {
    reply(HttpResponse::Text(200, "unsubscribed\n"));
    return;
  }
  const absl::Time now = clock_->Now();
  queue::SuppressionEntry entry;
  entry.scope = who->tenant;
  entry.address = who->recipient;
  entry.source = queue::SuppressionSource::kUnsubscribe;
  entry.reason = who->campaign.empty()
                     ? "one-click unsubscribe"
                     : absl::StrCat("one-click unsubscribe, campaign ", who->campaign);
  entry.created_unix_ms = absl::ToUnixMillis(now);
  if (expiry_ > absl::ZeroDuration()) entry.expires_unix_ms = absl::ToUnixMillis(now + expiry_);
  suppression_->Suppress(
      {std::move(entry)}, [reply = std::move(reply)](absl::Status status) mutable {
        if (!status.ok()) {
          reply(HttpResponse::Error(
              503, absl::StrCat("unsubscribe: not stored (", status.message(), "); try again"),
              {{"Retry-After", "1"}}));
          return;
        }
        reply(HttpResponse::Text(200, "unsubscribed\n"));
      });
}

void UnsubscribeHandler::Confirm(std::string_view token, HttpReply reply) {
  std::optional<Unsubscribe> who = Verify(token, reply);
  if (!who.has_value()) return;
  std::string page =
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head>"
      "<body><form method=\"post\"><p>Stop mail to ";
  mime::AppendHtmlEscaped(who->recipient, &page);
  page.append(
      "?</p><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
      "<button type=\"submit\">Unsubscribe</button></form></body></html>\n");
  HttpResponse response = HttpResponse::Text(200, std::move(page));
  response.content_type = "text/html; charset=utf-8";
  reply(std::move(response));
}

}  // namespace sluice::api
