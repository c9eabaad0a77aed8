// template: "{{name}}" substitution, compiled once and rendered per
// recipient.
//
// Syntax:
//   {{name}}     the value, HTML-escaped when rendered with TemplateEscape::kHtml
//   {{{name}}}   the value as is, even in HTML (for trusted markup)
// Names are 1 to 64 characters of [A-Za-z0-9_.-]; spaces inside the braces
// are allowed ("{{ first_name }}"). There is no escape for a literal "{{":
// a "{{" that does not open a well-formed placeholder is a compile error
// (InvalidArgument "unterminated placeholder at offset N" or "invalid
// placeholder name at offset N"), so a typo never goes out silently.
//
// Every template of one message shares a TemplateSlots table that numbers
// the distinct names. A renderer builds one value per slot for a recipient
// (its own substitution, else the global one, else none) and renders each
// template with that span; no hashing happens while rendering. A slot with
// no value renders as the empty string; the caller reports it (see
// api/injection_composer.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace sluice::mime {

enum class TemplateEscape { kNone, kHtml };

// The distinct placeholder names of a set of templates, numbered from 0.
class TemplateSlots {
 public:
  // The slot of `name`, adding it when new.
  int Intern(std::string_view name);
  // -1 when `name` is not used by any template.
  int Find(std::string_view name) const;
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }

 private:
  absl::flat_hash_map<std::string, int> index_;
  std::vector<std::string> names_;
};

class Template {
 public:
  static absl::StatusOr<Template> Compile(std::string_view source, TemplateSlots* slots);

  bool has_placeholders() const { return placeholders_ != 0; }
  // The source with nothing to substitute; meaningful when
  // !has_placeholders().
  const std::string& source() const { return source_; }

  // Appends the rendering to `*out`. `values[slot]` is the value of a slot,
  // std::nullopt when unknown (rendered empty); `values` must cover every
  // slot this template uses.
  void Render(absl::Span<const std::optional<std::string_view>> values, TemplateEscape escape,
              std::string* out) const;
  std::string Render(absl::Span<const std::optional<std::string_view>> values,
                     TemplateEscape escape) const;

 private:
  struct Segment {
    uint32_t literal_begin;
    uint32_t literal_size;
    int32_t slot;  // -1: literal only
    bool raw;
  };

  std::string source_;
  std::vector<Segment> segments_;
  size_t placeholders_ = 0;
};

// Appends `text` with & < > " ' replaced by their HTML character references.
void AppendHtmlEscaped(std::string_view text, std::string* out);

}  // namespace sluice::mime
