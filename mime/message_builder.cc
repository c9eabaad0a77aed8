#include "mime/message_builder.h"

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "mime/base64.h"
#include "mime/header_writer.h"
#include "mime/quoted_printable.h"

namespace sluice::mime {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr size_t kMaxParameterToken = 72;

// RFC 2231 attribute-char: what an extended value may carry unencoded.
bool IsAttributeChar(unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '&':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

size_t Utf8Length(std::string_view text, size_t i) {
  const unsigned char lead = text[i];
  size_t length = 1;
  if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  }
  return std::min(length, text.size() - i);
}

std::string PercentEncode(std::string_view chunk) {
  std::string out;
  for (unsigned char c : chunk) {
    if (IsAttributeChar(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

struct TextPart {
  std::string headers;
  std::string body;
};

TextPart EncodeText(std::string_view text, std::string_view subtype) {
  TextPart part;
  const bool seven_bit = IsSevenBitText(text);
  part.headers = absl::StrCat(
      "Content-Type: text/", absl::string_view(subtype.data(), subtype.size()),
      "; charset=utf-8\r\nContent-Transfer-Encoding: ", seven_bit ? "7bit" : "quoted-printable",
      "\r\n");
  part.body = seven_bit ? NormalizeLineEndings(text) : QuotedPrintableEncode(text);
  if (part.body.empty()) part.body = "\r\n";
  return part;
}

void AppendContentType(std::string_view type, std::string_view boundary, std::string* out) {
  HeaderWriter writer(out);
  const std::string tokens[] = {
      absl::StrCat(absl::string_view(type.data(), type.size()), ";"),
      absl::StrCat("boundary=\"", absl::string_view(boundary.data(), boundary.size()), "\"")};
  writer.AddTokens("Content-Type", tokens);
}

}  // namespace

std::string FormatDate(absl::Time time) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", time, absl::UTCTimeZone());
}

std::string_view HeaderSection(std::string_view message) {
  if (message.substr(0, 2) == "\r\n") return {};
  const size_t end = message.find("\r\n\r\n");
  return end == std::string_view::npos ? message : message.substr(0, end + 2);
}

std::vector<std::string> ParameterTokens(std::string_view attribute, std::string_view value) {
  const absl::string_view name(attribute.data(), attribute.size());
  bool plain = true;
  for (unsigned char c : value) plain = plain && c >= 32 && c <= 126;
  if (plain) {
    std::string quoted = absl::StrCat(name, "=\"");
    for (char c : value) {
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    quoted.push_back('"');
    if (quoted.size() <= kMaxParameterToken) return {std::move(quoted)};
  }
  const std::string whole = absl::StrCat(name, "*=utf-8''", PercentEncode(value));
  if (whole.size() <= kMaxParameterToken) return {whole};
  // Numbered continuations (RFC 2231 3), cut between characters.
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < value.size()) {
    std::string token =
        absl::StrCat(name, "*", tokens.size(), "*=", tokens.empty() ? "utf-8''" : "");
    size_t added = 0;
    while (i < value.size()) {
      const size_t length = Utf8Length(value, i);
      const std::string encoded = PercentEncode(value.substr(i, length));
      if (added != 0 && token.size() + encoded.size() + 1 > kMaxParameterToken) break;
      token.append(encoded);
      added += length;
      i += length;
    }
    tokens.push_back(std::move(token));
  }
  for (size_t k = 0; k + 1 < tokens.size(); ++k) tokens[k].push_back(';');
  return tokens;
}

MessageBuilder::MessageBuilder(const std::vector<Attachment>& attachments) {
  absl::BitGen random;
  boundary_prefix_ = absl::StrFormat("=_sl%016x_", absl::Uniform<uint64_t>(random));
  attachments_.reserve(attachments.size());
  for (const Attachment& attachment : attachments) {
    EncodedAttachment encoded;
    HeaderWriter writer(&encoded.headers);
    std::vector<std::string> type = {absl::StrCat(attachment.content_type, ";")};
    for (std::string& token : ParameterTokens("name", attachment.filename)) {
      type.push_back(std::move(token));
    }
    writer.AddTokens("Content-Type", type);
    std::vector<std::string> disposition = {"attachment;"};
    for (std::string& token : ParameterTokens("filename", attachment.filename)) {
      disposition.push_back(std::move(token));
    }
    writer.AddTokens("Content-Disposition", disposition);
    encoded.headers.append("Content-Transfer-Encoding: base64\r\n\r\n");
    encoded.body = Base64Encode(attachment.data);
    if (encoded.body.empty()) encoded.body = "\r\n";
    attachments_.push_back(std::move(encoded));
  }
}

std::string MessageBuilder::NextBoundary() {
  return absl::StrCat(boundary_prefix_, counter_++, ".");
}

std::string MessageBuilder::Build(const MessageHeaders& headers,
                                  std::optional<std::string_view> text,
                                  std::optional<std::string_view> html) {
  std::vector<TextPart> parts;
  if (text.has_value()) parts.push_back(EncodeText(*text, "plain"));
  if (html.has_value()) parts.push_back(EncodeText(*html, "html"));
  if (parts.empty() && attachments_.empty()) parts.push_back(EncodeText("", "plain"));

  // A boundary must not occur in anything it encloses. Only the 7bit bodies
  // and the part headers can hold "=_"; one fresh boundary per try.
  auto collides = [&](const std::string& boundary) {
    for (const TextPart& part : parts) {
      if (absl::StrContains(part.body, boundary)) return true;
    }
    for (const EncodedAttachment& attachment : attachments_) {
      if (absl::StrContains(attachment.headers, boundary)) return true;
    }
    return false;
  };
  auto fresh_boundary = [&] {
    std::string boundary = NextBoundary();
    while (collides(boundary)) boundary = NextBoundary();
    return boundary;
  };

  std::string out;
  size_t estimate = 1024;
  for (const TextPart& part : parts) estimate += part.body.size() + 128;
  for (const EncodedAttachment& attachment : attachments_) {
    estimate += attachment.headers.size() + attachment.body.size() + 64;
  }
  out.reserve(estimate);

  HeaderWriter writer(&out);
  writer.AddTokens("Date", {FormatDate(headers.date)});
  writer.AddMailboxes("From", absl::MakeConstSpan(&headers.from, 1));
  if (!headers.reply_to.empty()) writer.AddMailboxes("Reply-To", headers.reply_to);
  if (headers.to.empty()) {
    writer.AddTokens("To", {std::string("undisclosed-recipients:;")});
  } else {
    writer.AddMailboxes("To", headers.to);
  }
  writer.AddUnstructured("Subject", headers.subject);
  writer.AddTokens("Message-ID", {absl::StrCat("<", headers.message_id, ">")});
  for (const auto& [name, value] : headers.extra) writer.AddUnstructured(name, value);
  for (const auto& [name, value] : headers.structured) {
    const std::vector<std::string> tokens = absl::StrSplit(value, ' ', absl::SkipEmpty());
    writer.AddTokens(name, tokens);
  }
  out.append("MIME-Version: 1.0\r\n");

  // The body: one text part, or an alternative of two.
  auto append_body = [&](std::string* target) {
    if (parts.size() == 1) {
      target->append(parts[0].headers);
      target->append("\r\n");
      target->append(parts[0].body);
      return;
    }
    const std::string boundary = fresh_boundary();
    AppendContentType("multipart/alternative", boundary, target);
    target->append("\r\n");
    for (const TextPart& part : parts) {
      absl::StrAppend(target, "--", boundary, "\r\n", part.headers, "\r\n", part.body, "\r\n");
    }
    absl::StrAppend(target, "--", boundary, "--\r\n");
  };

  if (attachments_.empty()) {
    append_body(&out);
    return out;
  }
  const std::string mixed = fresh_boundary();
  AppendContentType("multipart/mixed", mixed, &out);
  out.append("\r\n");
  if (!parts.empty()) {
    absl::StrAppend(&out, "--", mixed, "\r\n");
    append_body(&out);
    out.append("\r\n");
  }
  for (const EncodedAttachment& attachment : attachments_) {
    absl::StrAppend(&out, "--", mixed, "\r\n", attachment.headers, attachment.body, "\r\n");
  }
  absl::StrAppend(&out, "--", mixed, "--\r\n");
  return out;
}

}  // namespace sluice::mime
