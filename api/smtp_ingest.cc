#include "api/smtp_ingest.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mime/message_builder.h"
#include "queue/spool_keys.h"

namespace sluice::api {
namespace {

constexpr size_t kFoldWidth = 78;

// Appends `words` to a header, folding before a word that would take the
// line past kFoldWidth.
void AppendFolded(std::string* header, size_t* line_length, const std::vector<std::string>& words) {
  for (const std::string& word : words) {
    if (word.empty()) continue;
    if (*line_length + 1 + word.size() > kFoldWidth) {
      header->append("\r\n\t");
      *line_length = 1;
    } else {
      header->push_back(' ');
      ++*line_length;
    }
    header->append(word);
    *line_length += word.size();
  }
}

bool HasHeader(absl::string_view headers, absl::string_view name) {
  size_t pos = 0;
  while (pos < headers.size()) {
    const size_t eol = headers.find("\r\n", pos);
    const absl::string_view line =
        headers.substr(pos, eol == absl::string_view::npos ? absl::string_view::npos : eol - pos);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        absl::EqualsIgnoreCase(line.substr(0, name.size()), name)) {
      return true;
    }
    if (eol == absl::string_view::npos) break;
    pos = eol + 2;
  }
  return false;
}

std::string LowerDomain(const smtp::Address& address) {
  return absl::AsciiStrToLower(address.domain);
}

uint32_t NotifyBits(uint8_t notify) {
  uint32_t bits = 0;
  if (notify & smtp::kNotifyNever) bits |= queue::proto::NOTIFY_NEVER;
  if (notify & smtp::kNotifySuccess) bits |= queue::proto::NOTIFY_SUCCESS;
  if (notify & smtp::kNotifyFailure) bits |= queue::proto::NOTIFY_FAILURE;
  if (notify & smtp::kNotifyDelay) bits |= queue::proto::NOTIFY_DELAY;
  return bits;
}

}  // namespace

std::string FormatReceived(const ReceivedInfo& info) {
  std::string header = "Received:";
  size_t line_length = header.size();
  std::vector<std::string> words = {"from", info.helo.empty() ? "unknown" : info.helo,
                                    absl::StrCat("([", info.client_ip, "])")};
  words.insert(words.end(), {"by", info.by, "(sluice)"});
  if (!info.tls.empty()) words.push_back(absl::StrCat("(", info.tls, ")"));
  words.insert(words.end(), {"with", info.protocol, "id", info.id});
  if (!info.for_recipient.empty()) {
    words.insert(words.end(), {"for", absl::StrCat("<", info.for_recipient, ">;")});
  } else {
    words.back() += ";";
  }
  AppendFolded(&header, &line_length, words);
  AppendFolded(&header, &line_length, {mime::FormatDate(info.time)});
  header.append("\r\n");
  return header;
}

std::string AddMissingSubmissionHeaders(std::string message, absl::string_view hostname,
                                        absl::string_view id, absl::Time now) {
  const std::string_view section = mime::HeaderSection(message);
  const size_t header_end = section.size();
  const absl::string_view headers(section.data(), section.size());
  std::string added;
  if (!HasHeader(headers, "Message-ID")) {
    added += absl::StrCat("Message-ID: <", id, "@", hostname, ">\r\n");
  }
  if (!HasHeader(headers, "Date")) added += absl::StrCat("Date: ", mime::FormatDate(now), "\r\n");
  if (added.empty()) return message;
  // After our own trace lines, before the client's headers.
  size_t insert_at = 0;
  while (insert_at < header_end &&
         absl::StartsWithIgnoreCase(absl::string_view(message).substr(insert_at), "Received:")) {
    size_t eol = message.find("\r\n", insert_at);
    // A folded Received header continues on lines starting with white space.
    while (eol != std::string::npos && eol + 2 < message.size() &&
           (message[eol + 2] == ' ' || message[eol + 2] == '\t')) {
      eol = message.find("\r\n", eol + 2);
    }
    if (eol == std::string::npos) break;
    insert_at = eol + 2;
  }
  message.insert(insert_at, added);
  return message;
}

queue::NewMessage BuildSpoolMessage(const smtp::Envelope& envelope, std::string body,
                                    const common::MessageId& body_id,
                                    common::MessageIdGenerator& ids, absl::Time now,
                                    const IngestContext& context) {
  queue::NewMessage message;
  message.body_id = body_id;
  message.body = std::move(body);
  // Ordered, so envelopes come out in a stable order (tests, logs).
  std::map<std::string, std::vector<const smtp::Recipient*>> by_domain;
  for (const smtp::Recipient& recipient : envelope.recipients) {
    by_domain[LowerDomain(recipient.address)].push_back(&recipient);
  }
  const int64_t now_ms = absl::ToUnixMillis(now);
  for (const auto& [domain, recipients] : by_domain) {
    queue::Envelope& out = message.envelopes.emplace_back();
    out.set_id(queue::IdKey(ids.Next()));
    out.set_body_id(queue::IdKey(body_id));
    out.set_sender(envelope.mail_from.ToString());
    for (const smtp::Recipient* recipient : recipients) {
      queue::proto::Recipient* r = out.add_recipients();
      r->set_address(recipient->address.ToString());
      r->set_state(queue::proto::PENDING);
      r->set_notify(NotifyBits(recipient->notify));
      if (!recipient->orcpt.empty()) {
        r->set_orcpt(absl::StrCat(recipient->orcpt_type, ";", recipient->orcpt));
      }
    }
    out.set_created_unix_ms(now_ms);
    out.set_next_due_unix_ms(now_ms);
    out.set_size(message.body.size());
    switch (envelope.ret) {
      case smtp::DsnRet::kFull:
        out.set_ret(queue::proto::RET_FULL);
        break;
      case smtp::DsnRet::kHeaders:
        out.set_ret(queue::proto::RET_HDRS);
        break;
      case smtp::DsnRet::kUnspecified:
        break;
    }
    out.set_envid(envelope.envid);
    out.set_tenant(context.tenant);
    out.set_domain(domain);
    if (context.bounce_domains != nullptr && context.bounce_domains->contains(domain)) {
      out.set_queue("bounces");
    }
  }
  return message;
}

}  // namespace sluice::api
