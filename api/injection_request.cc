#include "api/injection_request.h"

#include <simdjson.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/injection_address.h"
#include "mime/base64.h"
#include "mime/quoted_printable.h"

namespace sluice::api {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// The message of a status, as the std::string_view our code uses.
std::string_view Message(const absl::Status& status) {
  const absl::string_view message = status.message();
  return std::string_view(message.data(), message.size());
}

absl::Status FieldError(std::string_view path, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(Absl(path), ": ", Absl(problem)));
}

std::string Index(std::string_view path, size_t i) { return absl::StrCat(Absl(path), "[", i, "]"); }

std::string Member(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(Absl(path), ".", Absl(key));
}

absl::StatusOr<object> GetObject(element value, std::string_view path) {
  object result;
  if (value.get_object().get(result) != simdjson::SUCCESS) {
    return FieldError(path, "must be an object");
  }
  return result;
}

absl::StatusOr<array> GetArray(element value, std::string_view path) {
  array result;
  if (value.get_array().get(result) != simdjson::SUCCESS) {
    return FieldError(path, "must be an array");
  }
  return result;
}

absl::StatusOr<std::string_view> GetString(element value, std::string_view path, size_t max_bytes) {
  std::string_view result;
  if (value.get_string().get(result) != simdjson::SUCCESS) {
    return FieldError(path, "must be a string");
  }
  if (result.size() > max_bytes) {
    return FieldError(path, absl::StrCat("longer than ", max_bytes, " bytes"));
  }
  return result;
}

// Refuses a second occurrence of a key in one object.
class SeenKeys {
 public:
  absl::Status Add(std::string_view path, std::string_view key) {
    for (std::string_view seen : keys_) {
      if (seen == key) return FieldError(Member(path, key), "duplicate field");
    }
    keys_.push_back(key);
    return absl::OkStatus();
  }

 private:
  std::vector<std::string_view> keys_;
};

// Substitutions and metadata: an object of scalars, kept sorted.
absl::StatusOr<KeyValues> ParseKeyValues(element value, std::string_view path, size_t max_keys,
                                         size_t max_value_bytes) {
  absl::StatusOr<object> fields = GetObject(value, path);
  if (!fields.ok()) return fields.status();
  KeyValues result;
  result.reserve(fields->size());
  for (auto field : *fields) {
    const std::string_view key = field.key;
    if (result.size() == max_keys) {
      return FieldError(path, absl::StrCat("more than ", max_keys, " keys"));
    }
    if (key.empty()) return FieldError(Member(path, key), "empty key");
    std::string text;
    switch (field.value.type()) {
      case element_type::STRING: {
        std::string_view s;
        if (field.value.get_string().get(s) != simdjson::SUCCESS)
          return FieldError(path, "bad string");
        text = std::string(s);
        break;
      }
      case element_type::INT64:
      case element_type::UINT64:
      case element_type::DOUBLE:
      case element_type::BOOL:
        text = simdjson::minify(field.value);
        break;
      default:
        return FieldError(Member(path, key), "must be a string, number or boolean");
    }
    if (text.size() > max_value_bytes) {
      return FieldError(Member(path, key), absl::StrCat("longer than ", max_value_bytes, " bytes"));
    }
    result.emplace_back(std::string(key), std::move(text));
  }
  std::sort(result.begin(), result.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 1; i < result.size(); ++i) {
    if (result[i].first == result[i - 1].first) {
      return FieldError(Member(path, result[i].first), "duplicate field");
    }
  }
  return result;
}

// "from" and "reply_to": a mailbox string, or {"email", "name"}.
absl::StatusOr<InjectionAddress> ParseMailboxField(element value, std::string_view path) {
  if (value.type() == element_type::STRING) {
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) return FieldError(path, "bad string");
    absl::StatusOr<InjectionAddress> address = ParseInjectionMailbox(text);
    if (!address.ok()) return FieldError(path, Message(address.status()));
    return address;
  }
  if (value.type() != element_type::OBJECT) {
    return FieldError(path, "must be a string or an object with email and name");
  }
  object fields;
  if (value.get_object().get(fields) != simdjson::SUCCESS)
    return FieldError(path, "must be an object");
  std::optional<std::string_view> email;
  std::string_view name;
  SeenKeys seen;
  for (auto field : fields) {
    const std::string key_path = Member(path, field.key);
    if (absl::Status status = seen.Add(path, field.key); !status.ok()) return status;
    if (field.key == "email") {
      absl::StatusOr<std::string_view> s = GetString(field.value, key_path, 998);
      if (!s.ok()) return s.status();
      email = *s;
    } else if (field.key == "name") {
      absl::StatusOr<std::string_view> s = GetString(field.value, key_path, 256);
      if (!s.ok()) return s.status();
      if (!IsHeaderSafeText(*s)) return FieldError(key_path, "must not contain control characters");
      name = *s;
    } else {
      return FieldError(key_path, "unknown field");
    }
  }
  if (!email.has_value()) return FieldError(Member(path, "email"), "required");
  absl::StatusOr<InjectionAddress> address = ParseInjectionAddrSpec(*email);
  if (!address.ok()) return FieldError(Member(path, "email"), Message(address.status()));
  address->mailbox.display_name = std::string(name);
  return address;
}

// RFC 5322 field name: printable ASCII but ':'.
bool IsFieldName(std::string_view name) {
  if (name.empty() || name.size() > 76) return false;
  for (unsigned char c : name) {
    if (c < 33 || c > 126 || c == ':') return false;
  }
  return true;
}

// Fields the builder writes itself, or that belong to transport.
std::optional<std::string_view> ReservedHeaderHint(std::string_view name) {
  const absl::string_view n = Absl(name);
  if (absl::StartsWithIgnoreCase(n, "Content-")) return "set by the MIME structure";
  static constexpr std::pair<std::string_view, std::string_view> kReserved[] = {
      {"From", "use the from field"},
      {"Reply-To", "use the reply_to field"},
      {"To", "set per recipient"},
      {"Cc", "not supported, add a recipient"},
      {"Bcc", "not supported, add a recipient"},
      {"Subject", "use the subject field"},
      {"Date", "set by sluice"},
      {"Message-ID", "set by sluice"},
      {"MIME-Version", "set by the MIME structure"},
      {"Sender", "use envelope_sender"},
      {"Return-Path", "use envelope_sender"},
      {"Received", "set by sluice"},
      {"DKIM-Signature", "set by sluice"},
  };
  for (const auto& [reserved, hint] : kReserved) {
    if (absl::EqualsIgnoreCase(n, Absl(reserved))) return hint;
  }
  return std::nullopt;
}

// RFC 2045 token: printable ASCII without tspecials.
bool IsMimeToken(std::string_view text) {
  if (text.empty() || text.size() > 127) return false;
  for (unsigned char c : text) {
    if (c < 33 || c > 126) return false;
    if (std::string_view("()<>@,;:\\\"/[]?=").find(static_cast<char>(c)) !=
        std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool IsContentType(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  return IsMimeToken(text.substr(0, slash)) && IsMimeToken(text.substr(slash + 1));
}

// Raw content: CRLF line endings, lines within RFC 5322's 998 octets, and a
// header section that starts with a header field.
absl::StatusOr<std::string> CheckContent(std::string_view raw) {
  std::string content = mime::NormalizeLineEndings(raw);
  if (content.empty()) return FieldError("content", "must not be empty");
  const size_t first_end = content.find("\r\n");
  const std::string_view first(content.data(), first_end);
  const size_t colon = first.find(':');
  if (colon == std::string_view::npos || !IsFieldName(first.substr(0, colon))) {
    return FieldError("content", "must start with a header field");
  }
  if (content.find("\r\n\r\n") == std::string::npos) {
    return FieldError("content", "has no empty line after the header section");
  }
  size_t line = 1;
  size_t start = 0;
  while (start < content.size()) {
    const size_t end = content.find("\r\n", start);
    if (end - start > 998) {
      return FieldError("content", absl::StrCat("line ", line, " is longer than 998 octets"));
    }
    start = end + 2;
    ++line;
  }
  return content;
}

absl::Status CheckLabel(std::string_view value, std::string_view path, size_t max_bytes) {
  if (value.empty()) return FieldError(path, "must not be empty");
  if (value.size() > max_bytes) {
    return FieldError(path, absl::StrCat("longer than ", max_bytes, " bytes"));
  }
  if (!IsHeaderSafeText(value)) return FieldError(path, "must not contain control characters");
  return absl::OkStatus();
}

// The key the duplicate check compares: the local part as written and the
// normalised domain (RFC 5321 leaves local parts case-sensitive).
std::string RecipientKey(const mime::Mailbox& mailbox) { return mailbox.AddrSpec(); }

}  // namespace

struct InjectionRequestParser::Impl {
  simdjson::dom::parser parser;
};

InjectionRequestParser::InjectionRequestParser(InjectionLimits limits)
    : limits_(limits), impl_(std::make_unique<Impl>()) {}

InjectionRequestParser::~InjectionRequestParser() = default;

absl::StatusOr<InjectionRequest> InjectionRequestParser::Parse(std::string_view json) {
  if (json.size() > limits_.max_request_bytes) {
    return FieldError("body", absl::StrCat("longer than ", limits_.max_request_bytes, " bytes"));
  }
  element root;
  if (auto error = impl_->parser.parse(json.data(), json.size()).get(root);
      error != simdjson::SUCCESS) {
    return FieldError("body", absl::StrCat("invalid JSON: ", simdjson::error_message(error)));
  }
  object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) {
    return FieldError("body", "must be a JSON object");
  }

  InjectionRequest request;
  std::optional<element> from, reply_to, recipients;
  std::optional<std::string_view> envelope_sender;
  // Structured fields seen, for the "content" exclusion.
  std::vector<std::string_view> structured;
  size_t attachment_bytes = 0;
  SeenKeys seen;

  for (auto field : top) {
    const std::string_view key = field.key;
    const element value = field.value;
    if (absl::Status status = seen.Add("", key); !status.ok()) return status;
    if (key == "from") {
      from = value;
      structured.push_back(key);
    } else if (key == "reply_to") {
      reply_to = value;
      structured.push_back(key);
    } else if (key == "envelope_sender") {
      absl::StatusOr<std::string_view> s = GetString(value, key, 998);
      if (!s.ok()) return s.status();
      envelope_sender = *s;
    } else if (key == "subject") {
      absl::StatusOr<std::string_view> s = GetString(value, key, limits_.max_subject_bytes);
      if (!s.ok()) return s.status();
      if (!IsHeaderSafeText(*s)) {
        return FieldError(key, "must not contain line breaks or control characters");
      }
      request.subject = std::string(*s);
      structured.push_back(key);
    } else if (key == "text" || key == "html") {
      absl::StatusOr<std::string_view> s = GetString(value, key, limits_.max_body_bytes);
      if (!s.ok()) return s.status();
      (key == "text" ? request.text : request.html) = std::string(*s);
      structured.push_back(key);
    } else if (key == "headers") {
      absl::StatusOr<object> headers = GetObject(value, key);
      if (!headers.ok()) return headers.status();
      if (headers->size() > limits_.max_headers) {
        return FieldError(key, absl::StrCat("more than ", limits_.max_headers, " headers"));
      }
      for (auto header : *headers) {
        const std::string path = Member(key, header.key);
        if (!IsFieldName(header.key)) return FieldError(path, "not a valid header name");
        if (auto hint = ReservedHeaderHint(header.key)) {
          return FieldError(path, absl::StrCat("reserved header, ", Absl(*hint)));
        }
        for (const auto& [existing, unused] : request.headers) {
          if (absl::EqualsIgnoreCase(Absl(existing), Absl(header.key))) {
            return FieldError(path, "duplicate header");
          }
        }
        absl::StatusOr<std::string_view> s =
            GetString(header.value, path, limits_.max_header_value_bytes);
        if (!s.ok()) return s.status();
        if (!IsHeaderSafeText(*s)) {
          return FieldError(path, "must not contain line breaks or control characters");
        }
        request.headers.emplace_back(std::string(header.key), std::string(*s));
      }
      structured.push_back(key);
    } else if (key == "attachments") {
      absl::StatusOr<array> items = GetArray(value, key);
      if (!items.ok()) return items.status();
      if (items->size() > limits_.max_attachments) {
        return FieldError(key, absl::StrCat("more than ", limits_.max_attachments, " attachments"));
      }
      size_t i = 0;
      for (element item : *items) {
        const std::string path = Index(key, i++);
        absl::StatusOr<object> fields = GetObject(item, path);
        if (!fields.ok()) return fields.status();
        mime::Attachment attachment;
        attachment.content_type = "application/octet-stream";
        bool have_filename = false, have_content = false;
        SeenKeys attachment_seen;
        for (auto part : *fields) {
          const std::string part_path = Member(path, part.key);
          if (absl::Status status = attachment_seen.Add(path, part.key); !status.ok()) {
            return status;
          }
          if (part.key == "filename") {
            absl::StatusOr<std::string_view> s = GetString(part.value, part_path, 255);
            if (!s.ok()) return s.status();
            if (s->empty()) return FieldError(part_path, "must not be empty");
            if (!IsHeaderSafeText(*s) || s->find_first_of("/\\") != std::string_view::npos) {
              return FieldError(part_path, "must not contain control characters, '/' or '\\'");
            }
            attachment.filename = std::string(*s);
            have_filename = true;
          } else if (part.key == "content_type") {
            absl::StatusOr<std::string_view> s = GetString(part.value, part_path, 255);
            if (!s.ok()) return s.status();
            if (!IsContentType(*s)) return FieldError(part_path, "must be type/subtype");
            attachment.content_type = absl::AsciiStrToLower(Absl(*s));
            if (absl::StartsWith(attachment.content_type, "multipart/") ||
                absl::StartsWith(attachment.content_type, "message/")) {
              return FieldError(part_path, "multipart and message types are not allowed");
            }
          } else if (part.key == "content") {
            std::string_view encoded;
            if (part.value.get_string().get(encoded) != simdjson::SUCCESS) {
              return FieldError(part_path, "must be a string");
            }
            absl::StatusOr<std::string> decoded = mime::Base64Decode(encoded);
            if (!decoded.ok()) return FieldError(part_path, Message(decoded.status()));
            attachment_bytes += decoded->size();
            if (attachment_bytes > limits_.max_attachment_bytes) {
              return FieldError(part_path, absl::StrCat("attachments exceed ",
                                                        limits_.max_attachment_bytes, " bytes"));
            }
            attachment.data = *std::move(decoded);
            have_content = true;
          } else {
            return FieldError(part_path, "unknown field");
          }
        }
        if (!have_filename) return FieldError(Member(path, "filename"), "required");
        if (!have_content) return FieldError(Member(path, "content"), "required");
        request.attachments.push_back(std::move(attachment));
      }
      structured.push_back(key);
    } else if (key == "content") {
      absl::StatusOr<std::string_view> s = GetString(value, key, limits_.max_content_bytes);
      if (!s.ok()) return s.status();
      absl::StatusOr<std::string> content = CheckContent(*s);
      if (!content.ok()) return content.status();
      request.content = *std::move(content);
    } else if (key == "recipients") {
      recipients = value;
    } else if (key == "substitutions") {
      absl::StatusOr<KeyValues> values = ParseKeyValues(value, key, limits_.max_substitutions,
                                                        limits_.max_substitution_value_bytes);
      if (!values.ok()) return values.status();
      request.substitutions = *std::move(values);
    } else if (key == "to_header") {
      absl::StatusOr<std::string_view> s = GetString(value, key, 32);
      if (!s.ok()) return s.status();
      if (*s == "each") {
        request.to_header = ToHeader::kEach;
      } else if (*s == "undisclosed") {
        request.to_header = ToHeader::kUndisclosed;
      } else {
        return FieldError(key, "must be \"each\" or \"undisclosed\"");
      }
    } else if (key == "tenant" || key == "campaign" || key == "pool") {
      absl::StatusOr<std::string_view> s = GetString(value, key, limits_.max_label_bytes);
      if (!s.ok()) return s.status();
      if (absl::Status status = CheckLabel(*s, key, limits_.max_label_bytes); !status.ok()) {
        return status;
      }
      std::string& target =
          key == "tenant" ? request.tenant : (key == "campaign" ? request.campaign : request.pool);
      target = std::string(*s);
    } else if (key == "unsubscribe") {
      absl::StatusOr<std::string_view> s = GetString(value, key, 32);
      if (!s.ok()) return s.status();
      if (*s != "one-click") return FieldError(key, "must be \"one-click\"");
      request.one_click_unsubscribe = true;
      structured.push_back(key);
    } else if (key == "tags") {
      absl::StatusOr<array> items = GetArray(value, key);
      if (!items.ok()) return items.status();
      if (items->size() > limits_.max_tags) {
        return FieldError(key, absl::StrCat("more than ", limits_.max_tags, " tags"));
      }
      size_t i = 0;
      for (element item : *items) {
        const std::string path = Index(key, i++);
        absl::StatusOr<std::string_view> s = GetString(item, path, limits_.max_label_bytes);
        if (!s.ok()) return s.status();
        if (absl::Status status = CheckLabel(*s, path, limits_.max_label_bytes); !status.ok()) {
          return status;
        }
        request.tags.emplace_back(*s);
      }
    } else {
      return FieldError(key, "unknown field");
    }
  }

  // Content: raw or structured, not both.
  if (request.content.has_value()) {
    if (!structured.empty()) {
      return FieldError(structured.front(), "cannot be combined with content");
    }
    if (!envelope_sender.has_value()) return FieldError("envelope_sender", "required with content");
  } else {
    if (!from.has_value()) return FieldError("from", "required");
    absl::StatusOr<InjectionAddress> address = ParseMailboxField(*from, "from");
    if (!address.ok()) return address.status();
    request.from = std::move(address->mailbox);
    request.sender_needs_smtputf8 = address->needs_smtputf8;
    if (reply_to.has_value()) {
      absl::StatusOr<InjectionAddress> reply = ParseMailboxField(*reply_to, "reply_to");
      if (!reply.ok()) return reply.status();
      request.reply_to.push_back(std::move(reply->mailbox));
      request.sender_needs_smtputf8 |= reply->needs_smtputf8;
    }
    if (!request.text.has_value() && !request.html.has_value() && request.attachments.empty()) {
      return FieldError("text", "required when html, attachments and content are absent");
    }
    if (request.one_click_unsubscribe) {
      for (const auto& [name, value] : request.headers) {
        if (absl::EqualsIgnoreCase(name, "List-Unsubscribe") ||
            absl::EqualsIgnoreCase(name, "List-Unsubscribe-Post")) {
          return FieldError(Member("headers", name), "set by \"unsubscribe\": \"one-click\"");
        }
      }
    }
  }
  if (envelope_sender.has_value()) {
    absl::StatusOr<InjectionAddress> address = ParseInjectionAddrSpec(*envelope_sender);
    if (!address.ok()) return FieldError("envelope_sender", Message(address.status()));
    request.envelope_sender = address->mailbox.AddrSpec();
    request.sender_needs_smtputf8 |= address->needs_smtputf8;
  } else {
    request.envelope_sender = request.from.AddrSpec();
  }

  // Recipients, each judged on its own.
  if (!recipients.has_value()) return FieldError("recipients", "required");
  absl::StatusOr<array> items = GetArray(*recipients, "recipients");
  if (!items.ok()) return items.status();
  if (items->size() == 0) return FieldError("recipients", "must not be empty");
  if (items->size() > limits_.max_recipients) {
    return FieldError("recipients",
                      absl::StrCat("more than ", limits_.max_recipients, " recipients"));
  }
  request.recipients.reserve(items->size());
  absl::flat_hash_map<std::string, size_t> first_index;
  first_index.reserve(items->size());
  size_t i = 0;
  for (element item : *items) {
    const size_t index = i++;
    const std::string path = Index("recipients", index);
    absl::StatusOr<object> fields = GetObject(item, path);
    if (!fields.ok()) return fields.status();
    InjectionRecipient recipient;
    recipient.index = index;
    std::optional<std::string_view> email;
    std::string_view name;
    SeenKeys recipient_seen;
    for (auto field : *fields) {
      const std::string field_path = Member(path, field.key);
      if (absl::Status status = recipient_seen.Add(path, field.key); !status.ok()) return status;
      if (field.key == "email") {
        absl::StatusOr<std::string_view> s = GetString(field.value, field_path, 998);
        if (!s.ok()) return s.status();
        email = *s;
      } else if (field.key == "name") {
        absl::StatusOr<std::string_view> s = GetString(field.value, field_path, 256);
        if (!s.ok()) return s.status();
        if (!IsHeaderSafeText(*s)) {
          return FieldError(field_path, "must not contain control characters");
        }
        name = *s;
      } else if (field.key == "substitutions") {
        absl::StatusOr<KeyValues> values =
            ParseKeyValues(field.value, field_path, limits_.max_substitutions,
                           limits_.max_substitution_value_bytes);
        if (!values.ok()) return values.status();
        recipient.substitutions = *std::move(values);
      } else if (field.key == "metadata") {
        absl::StatusOr<KeyValues> values = ParseKeyValues(
            field.value, field_path, limits_.max_metadata, limits_.max_metadata_value_bytes);
        if (!values.ok()) return values.status();
        recipient.metadata = *std::move(values);
      } else {
        return FieldError(field_path, "unknown field");
      }
    }
    if (!email.has_value()) return FieldError(Member(path, "email"), "required");
    absl::StatusOr<InjectionAddress> address = ParseInjectionAddrSpec(*email);
    if (!address.ok()) {
      request.rejected.push_back(
          {index, std::string(*email),
           absl::StrCat(Member(path, "email"), ": ", address.status().message())});
      continue;
    }
    auto [it, inserted] = first_index.try_emplace(RecipientKey(address->mailbox), index);
    if (!inserted) {
      request.rejected.push_back(
          {index, std::string(*email),
           absl::StrCat(Member(path, "email"), ": duplicate of recipients[", it->second, "]")});
      continue;
    }
    recipient.mailbox = std::move(address->mailbox);
    recipient.mailbox.display_name = std::string(name);
    recipient.needs_smtputf8 = address->needs_smtputf8;
    request.recipients.push_back(std::move(recipient));
  }
  return request;
}

absl::StatusOr<InjectionRequest> ParseInjectionRequest(std::string_view json,
                                                       const InjectionLimits& limits) {
  InjectionRequestParser parser(limits);
  return parser.Parse(json);
}

}  // namespace sluice::api
