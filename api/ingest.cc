#include "api/ingest.h"

#include <algorithm>
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

// The domain of local@domain (after the last @), in lower case.
std::string LowerDomain(absl::string_view address) {
  const size_t at = address.rfind('@');
  return absl::AsciiStrToLower(at == absl::string_view::npos ? "" : address.substr(at + 1));
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

IngestEnvelope FromSmtp(const smtp::Envelope& envelope, std::string tenant) {
  IngestEnvelope out;
  out.sender = envelope.mail_from.ToString();
  out.tenant = std::move(tenant);
  switch (envelope.ret) {
    case smtp::DsnRet::kFull:
      out.ret = queue::proto::RET_FULL;
      break;
    case smtp::DsnRet::kHeaders:
      out.ret = queue::proto::RET_HDRS;
      break;
    case smtp::DsnRet::kUnspecified:
      break;
  }
  out.envid = envelope.envid;
  out.recipients.reserve(envelope.recipients.size());
  for (const smtp::Recipient& recipient : envelope.recipients) {
    IngestRecipient& r = out.recipients.emplace_back();
    r.address = recipient.address.ToString();
    r.notify = NotifyBits(recipient.notify);
    if (!recipient.orcpt.empty())
      r.orcpt = absl::StrCat(recipient.orcpt_type, ";", recipient.orcpt);
  }
  return out;
}

queue::NewMessage BuildSpoolMessage(const IngestEnvelope& envelope, std::string body,
                                    const common::MessageId& body_id,
                                    common::MessageIdGenerator& ids, absl::Time now,
                                    const IngestOptions& options,
                                    std::vector<std::string>* envelope_ids) {
  queue::NewMessage message;
  message.body_id = body_id;
  message.body = std::move(body);
  // Ordered, so envelopes come out in a stable order (tests, logs).
  std::map<std::string, std::vector<size_t>> by_domain;
  for (size_t i = 0; i < envelope.recipients.size(); ++i) {
    by_domain[LowerDomain(envelope.recipients[i].address)].push_back(i);
  }
  if (envelope_ids != nullptr) envelope_ids->assign(envelope.recipients.size(), "");
  const size_t chunk = options.max_recipients_per_envelope == 0
                           ? envelope.recipients.size()
                           : options.max_recipients_per_envelope;
  const int64_t now_ms = absl::ToUnixMillis(now);
  const std::string body_key = queue::IdKey(body_id);
  const bool bounces = options.bounce_domains != nullptr;
  for (const auto& [domain, members] : by_domain) {
    for (size_t start = 0; start < members.size(); start += chunk) {
      const common::MessageId id = ids.Next();
      queue::Envelope& out = message.envelopes.emplace_back();
      out.set_id(queue::IdKey(id));
      out.set_body_id(body_key);
      out.set_sender(envelope.sender);
      out.set_created_unix_ms(now_ms);
      out.set_next_due_unix_ms(now_ms);
      out.set_size(message.body.size());
      out.set_ret(envelope.ret);
      out.set_envid(envelope.envid);
      out.set_tenant(envelope.tenant);
      out.set_campaign(envelope.campaign);
      out.set_pool(envelope.pool);
      out.set_domain(domain);
      if (bounces && options.bounce_domains->contains(domain)) out.set_queue("bounces");
      const std::string id_text = envelope_ids != nullptr ? id.ToString() : "";
      for (size_t k = start; k < std::min(members.size(), start + chunk); ++k) {
        const IngestRecipient& recipient = envelope.recipients[members[k]];
        queue::proto::Recipient* r = out.add_recipients();
        r->set_address(recipient.address);
        r->set_state(queue::proto::PENDING);
        r->set_notify(recipient.notify);
        if (!recipient.orcpt.empty()) r->set_orcpt(recipient.orcpt);
        if (envelope_ids != nullptr) (*envelope_ids)[members[k]] = id_text;
      }
    }
  }
  return message;
}

}  // namespace sluice::api
