#include "mime/mime_entity.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mime/base64.h"
#include "mime/quoted_printable.h"

namespace sluice::mime {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  absl::AsciiStrToLower(&out);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(absl::string_view(a.data(), a.size()),
                                absl::string_view(b.data(), b.size()));
}

// Splits normalized (CRLF) text at its first empty line.
std::pair<std::string_view, std::string_view> SplitHeaderAndBody(std::string_view text) {
  if (absl::StartsWith(absl::string_view(text.data(), text.size()), "\r\n")) {
    return {std::string_view(), text.substr(2)};
  }
  const size_t end = text.find("\r\n\r\n");
  if (end == std::string_view::npos) return {text, std::string_view()};
  return {text.substr(0, end + 2), text.substr(end + 4)};
}

// "type/subtype; a=b; c=\"d e\"" into the entity.
void ParseContentType(std::string_view value, MimeEntity* entity) {
  const size_t semicolon = value.find(';');
  const std::string_view media = Trim(value.substr(0, semicolon));
  const size_t slash = media.find('/');
  if (slash != std::string_view::npos && slash > 0 && slash + 1 < media.size()) {
    entity->type = Lower(Trim(media.substr(0, slash)));
    entity->subtype = Lower(Trim(media.substr(slash + 1)));
  }
  std::string_view rest = semicolon == std::string_view::npos ? "" : value.substr(semicolon + 1);
  while (!rest.empty()) {
    const size_t equals = rest.find('=');
    if (equals == std::string_view::npos) break;
    std::string name = Lower(Trim(rest.substr(0, equals)));
    rest = rest.substr(equals + 1);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    std::string param;
    if (!rest.empty() && rest.front() == '"') {
      size_t i = 1;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
        param.push_back(rest[i]);
      }
      rest = rest.substr(std::min(rest.size(), i + 1));
      const size_t next = rest.find(';');
      rest = next == std::string_view::npos ? "" : rest.substr(next + 1);
    } else {
      const size_t next = rest.find(';');
      param = std::string(Trim(rest.substr(0, next)));
      rest = next == std::string_view::npos ? "" : rest.substr(next + 1);
    }
    if (!name.empty()) entity->params.emplace_back(std::move(name), std::move(param));
  }
}

class Parser {
 public:
  explicit Parser(const MimeLimits& limits) : limits_(limits) {}

  MimeEntity Parse(std::string_view text, int depth, bool headers_only) {
    MimeEntity entity;
    ++parts_;
    auto [header, body] =
        headers_only ? std::pair(text, std::string_view()) : SplitHeaderAndBody(text);
    entity.headers = ParseHeaderSection(header);
    entity.body = std::string(body);
    if (const std::string* type = entity.Header("Content-Type")) ParseContentType(*type, &entity);
    if (depth >= limits_.max_depth) return entity;
    if (entity.type == "multipart") {
      SplitMultipart(entity, depth);
    } else if (entity.type == "message" &&
               (entity.subtype == "rfc822" || entity.subtype == "global")) {
      if (parts_ < limits_.max_parts) {
        entity.parts.push_back(Parse(entity.DecodedBody(), depth + 1, false));
      }
    } else if (entity.Is("text", "rfc822-headers") && parts_ < limits_.max_parts) {
      entity.parts.push_back(Parse(entity.DecodedBody(), depth + 1, true));
    }
    return entity;
  }

 private:
  void SplitMultipart(MimeEntity& entity, int depth) {
    const std::string boundary = entity.Param("boundary");
    if (boundary.empty()) return;
    const std::string delimiter = absl::StrCat("--", boundary);
    std::string_view body = entity.body;
    size_t pos = 0;
    size_t part_start = std::string_view::npos;  // none open yet (the preamble)
    bool closed = false;
    while (pos <= body.size()) {
      size_t end = body.find("\r\n", pos);
      if (end == std::string_view::npos) end = body.size();
      const std::string_view line = body.substr(pos, end - pos);
      if (line.size() >= delimiter.size() && line.substr(0, delimiter.size()) == delimiter) {
        const std::string_view after = Trim(line.substr(delimiter.size()));
        const bool closing = after.size() >= 2 && after.substr(0, 2) == "--";
        if (after.empty() || closing) {
          if (part_start != std::string_view::npos) {
            // The CRLF before the delimiter belongs to it.
            const size_t part_end = pos >= part_start + 2 ? pos - 2 : part_start;
            AddPart(entity, body.substr(part_start, part_end - part_start), depth);
          }
          if (closing) {
            closed = true;
            break;
          }
          part_start = std::min(body.size(), end + 2);
        }
      }
      if (end == body.size()) break;
      pos = end + 2;
    }
    if (!closed) {
      entity.truncated = true;
      if (part_start != std::string_view::npos && part_start < body.size()) {
        AddPart(entity, body.substr(part_start), depth);
      }
    }
  }

  void AddPart(MimeEntity& entity, std::string_view text, int depth) {
    if (parts_ >= limits_.max_parts) return;
    entity.parts.push_back(Parse(text, depth + 1, false));
  }

  const MimeLimits& limits_;
  size_t parts_ = 0;
};

}  // namespace

const std::string* MimeEntity::Header(std::string_view name) const {
  for (const MimeHeader& header : headers) {
    if (EqualsIgnoreCase(header.name, name)) return &header.value;
  }
  return nullptr;
}

std::string MimeEntity::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

std::string MimeEntity::DecodedBody() const {
  const std::string* encoding = Header("Content-Transfer-Encoding");
  if (encoding == nullptr) return body;
  const std::string kind = Lower(Trim(*encoding));
  if (kind == "base64") {
    std::string compact;
    compact.reserve(body.size());
    for (char c : body) {
      if (c != '\r' && c != '\n' && c != ' ' && c != '\t') compact.push_back(c);
    }
    absl::StatusOr<std::string> decoded = Base64Decode(compact);
    return decoded.ok() ? NormalizeLineEndings(*decoded) : body;
  }
  if (kind == "quoted-printable") return QuotedPrintableDecode(body);
  return body;
}

std::vector<MimeHeader> ParseHeaderSection(std::string_view section) {
  std::vector<MimeHeader> headers;
  size_t pos = 0;
  bool last_is_field = false;
  while (pos < section.size()) {
    size_t end = section.find("\r\n", pos);
    if (end == std::string_view::npos) end = section.size();
    const std::string_view line = section.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) break;
    if ((line.front() == ' ' || line.front() == '\t')) {
      if (last_is_field) {
        std::string& value = headers.back().value;
        const std::string_view more = Trim(line);
        if (!more.empty()) {
          if (!value.empty()) value.push_back(' ');
          value.append(more);
        }
      }
      continue;
    }
    const size_t colon = line.find(':');
    const std::string_view name =
        colon == std::string_view::npos ? "" : Trim(line.substr(0, colon));
    if (name.empty() || name.find(' ') != std::string_view::npos) {
      last_is_field = false;  // not a field ("From sender date" mbox lines, garbage)
      continue;
    }
    headers.push_back({std::string(name), std::string(Trim(line.substr(colon + 1)))});
    last_is_field = true;
  }
  return headers;
}

MimeEntity ParseMime(absl::string_view message, const MimeLimits& limits) {
  const std::string normalized =
      NormalizeLineEndings(std::string_view(message.data(), message.size()));
  Parser parser(limits);
  return parser.Parse(normalized, 0, false);
}

}  // namespace sluice::mime
