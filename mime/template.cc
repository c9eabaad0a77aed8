#include "mime/template.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sluice::mime {
namespace {

constexpr size_t kMaxNameLength = 64;

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

}  // namespace

int TemplateSlots::Intern(std::string_view name) {
  auto [it, inserted] = index_.try_emplace(std::string(name), static_cast<int>(names_.size()));
  if (inserted) names_.emplace_back(name);
  return it->second;
}

int TemplateSlots::Find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? -1 : it->second;
}

absl::StatusOr<Template> Template::Compile(std::string_view source, TemplateSlots* slots) {
  Template result;
  result.source_ = std::string(source);
  size_t literal_begin = 0;
  size_t pos = 0;
  while (true) {
    const size_t open = source.find("{{", pos);
    if (open == std::string_view::npos) break;
    const bool raw = open + 2 < source.size() && source[open + 2] == '{';
    const std::string_view closing = raw ? "}}}" : "}}";
    size_t name_begin = open + (raw ? 3 : 2);
    const size_t close = source.find(closing, name_begin);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("unterminated placeholder at offset ", open));
    }
    size_t name_end = close;
    while (name_begin < name_end && source[name_begin] == ' ') ++name_begin;
    while (name_end > name_begin && source[name_end - 1] == ' ') --name_end;
    const std::string_view name = source.substr(name_begin, name_end - name_begin);
    bool valid = !name.empty() && name.size() <= kMaxNameLength;
    for (char c : name) valid = valid && IsNameChar(c);
    if (!valid) {
      return absl::InvalidArgumentError(absl::StrCat("invalid placeholder name at offset ", open));
    }
    result.segments_.push_back(Segment{static_cast<uint32_t>(literal_begin),
                                       static_cast<uint32_t>(open - literal_begin),
                                       slots->Intern(name), raw});
    ++result.placeholders_;
    pos = close + closing.size();
    literal_begin = pos;
  }
  if (literal_begin < source.size()) {
    result.segments_.push_back(Segment{static_cast<uint32_t>(literal_begin),
                                       static_cast<uint32_t>(source.size() - literal_begin), -1,
                                       false});
  }
  return result;
}

void Template::Render(absl::Span<const std::optional<std::string_view>> values,
                      TemplateEscape escape, std::string* out) const {
  for (const Segment& segment : segments_) {
    out->append(source_, segment.literal_begin, segment.literal_size);
    if (segment.slot < 0) continue;
    const std::optional<std::string_view>& value = values[segment.slot];
    if (!value.has_value()) continue;
    if (escape == TemplateEscape::kHtml && !segment.raw) {
      AppendHtmlEscaped(*value, out);
    } else {
      out->append(*value);
    }
  }
}

std::string Template::Render(absl::Span<const std::optional<std::string_view>> values,
                             TemplateEscape escape) const {
  std::string out;
  out.reserve(source_.size() + 64);
  Render(values, escape, &out);
  return out;
}

void AppendHtmlEscaped(std::string_view text, std::string* out) {
  size_t plain = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    std::string_view entity;
    switch (text[i]) {
      case '&':
        entity = "&amp;";
        break;
      case '<':
        entity = "&lt;";
        break;
      case '>':
        entity = "&gt;";
        break;
      case '"':
        entity = "&quot;";
        break;
      case '\'':
        entity = "&#39;";
        break;
      default:
        continue;
    }
    out->append(text, plain, i - plain);
    out->append(entity);
    plain = i + 1;
  }
  out->append(text, plain, text.size() - plain);
}

}  // namespace sluice::mime
