#include "api/injection_composer.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sluice::api {
namespace {

// Extra header fields whose values are URLs or ids, not text.
bool IsStructured(std::string_view name) {
  for (absl::string_view structured :
       {"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Feedback-ID"}) {
    if (absl::EqualsIgnoreCase(absl::string_view(name.data(), name.size()), structured)) {
      return true;
    }
  }
  return false;
}

bool IsPrintableAscii(std::string_view value) {
  for (unsigned char c : value) {
    if (c < 32 || c > 126) return false;
  }
  return true;
}

absl::StatusOr<mime::Template> CompileField(std::string_view source, std::string_view path,
                                            mime::TemplateSlots* slots) {
  absl::StatusOr<mime::Template> compiled = mime::Template::Compile(source, slots);
  if (!compiled.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(absl::string_view(path.data(), path.size()),
                                                   ": ", compiled.status().message()));
  }
  return compiled;
}

std::optional<std::string_view> Lookup(const KeyValues& values, std::string_view key) {
  auto it = std::lower_bound(values.begin(), values.end(), key,
                             [](const auto& entry, std::string_view k) { return entry.first < k; });
  if (it == values.end() || it->first != key) return std::nullopt;
  return std::string_view(it->second);
}

// Header text must stay on one logical line.
std::string Flatten(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = ' ';
  }
  return text;
}

}  // namespace

InjectionComposer::InjectionComposer(const InjectionRequest& request) : request_(request) {}

absl::StatusOr<std::unique_ptr<InjectionComposer>> InjectionComposer::Create(
    const InjectionRequest& request) {
  std::unique_ptr<InjectionComposer> composer(new InjectionComposer(request));
  if (request.content.has_value()) {
    composer->shares_body_ = true;
    return composer;
  }
  mime::TemplateSlots& slots = composer->slots_;
  bool templated = false;
  {
    absl::StatusOr<mime::Template> subject = CompileField(request.subject, "subject", &slots);
    if (!subject.ok()) return subject.status();
    templated |= subject->has_placeholders();
    composer->subject_ = *std::move(subject);
  }
  if (request.text.has_value()) {
    absl::StatusOr<mime::Template> text = CompileField(*request.text, "text", &slots);
    if (!text.ok()) return text.status();
    templated |= text->has_placeholders();
    composer->text_ = *std::move(text);
  }
  if (request.html.has_value()) {
    absl::StatusOr<mime::Template> html = CompileField(*request.html, "html", &slots);
    if (!html.ok()) return html.status();
    templated |= html->has_placeholders();
    composer->html_ = *std::move(html);
  }
  for (const auto& [name, value] : request.headers) {
    absl::StatusOr<mime::Template> compiled =
        CompileField(value, absl::StrCat("headers.", name), &slots);
    if (!compiled.ok()) return compiled.status();
    templated |= compiled->has_placeholders();
    composer->header_values_.push_back(*std::move(compiled));
  }
  composer->global_values_.resize(slots.size());
  for (size_t slot = 0; slot < slots.size(); ++slot) {
    composer->global_values_[slot] = Lookup(request.substitutions, slots.names()[slot]);
  }
  composer->values_.resize(slots.size());
  composer->templated_ = templated;
  // One-click unsubscribe URLs name their recipient: one body each.
  composer->shares_body_ =
      !templated && !request.one_click_unsubscribe &&
      (request.to_header == ToHeader::kUndisclosed || request.recipients.size() == 1);
  composer->builder_ = std::make_unique<mime::MessageBuilder>(request.attachments);
  return composer;
}

std::vector<std::string> InjectionComposer::ResolveValues(const InjectionRecipient* recipient) {
  std::vector<std::string> missing;
  const std::vector<std::string>& names = slots_.names();
  for (size_t slot = 0; slot < names.size(); ++slot) {
    std::optional<std::string_view> value;
    if (recipient != nullptr) value = Lookup(recipient->substitutions, names[slot]);
    if (!value.has_value()) value = global_values_[slot];
    if (!value.has_value()) missing.push_back(names[slot]);
    values_[slot] = value;
  }
  std::sort(missing.begin(), missing.end());
  return missing;
}

ComposedMessage InjectionComposer::Compose(const InjectionRecipient* recipient,
                                           std::string_view message_id, absl::Time date,
                                           std::string_view unsubscribe_url) {
  ComposedMessage message;
  message.missing_substitutions = ResolveValues(recipient);
  message.needs_smtputf8 = request_.sender_needs_smtputf8;

  mime::MessageHeaders headers;
  headers.date = date;
  headers.from = request_.from;
  headers.reply_to = request_.reply_to;
  if (recipient != nullptr && request_.to_header == ToHeader::kEach) {
    headers.to.push_back(recipient->mailbox);
  }
  headers.message_id = std::string(message_id);
  headers.subject = Flatten(subject_->Render(values_, mime::TemplateEscape::kNone));
  headers.extra.reserve(header_values_.size());
  for (size_t i = 0; i < header_values_.size(); ++i) {
    const std::string& name = request_.headers[i].first;
    std::string value = Flatten(header_values_[i].Render(values_, mime::TemplateEscape::kNone));
    // A URL or an id must not turn into encoded-words when it is long.
    auto& target =
        IsStructured(name) && IsPrintableAscii(value) ? headers.structured : headers.extra;
    target.emplace_back(name, std::move(value));
  }
  if (!unsubscribe_url.empty()) {
    headers.structured.emplace_back(
        "List-Unsubscribe",
        absl::StrCat("<", absl::string_view(unsubscribe_url.data(), unsubscribe_url.size()), ">"));
    headers.structured.emplace_back("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
  }
  std::optional<std::string> text, html;
  if (text_.has_value()) text = text_->Render(values_, mime::TemplateEscape::kNone);
  if (html_.has_value()) html = html_->Render(values_, mime::TemplateEscape::kHtml);
  message.bytes = builder_->Build(headers, text, html);
  return message;
}

ComposedMessage InjectionComposer::BuildShared(std::string_view message_id, absl::Time date) {
  if (request_.content.has_value()) {
    ComposedMessage message;
    message.bytes = *request_.content;
    message.needs_smtputf8 = request_.sender_needs_smtputf8;
    for (const InjectionRecipient& recipient : request_.recipients) {
      message.needs_smtputf8 |= recipient.needs_smtputf8;
    }
    return message;
  }
  // A single recipient with to_header "each" is still named in To.
  const InjectionRecipient* only =
      request_.to_header == ToHeader::kEach && request_.recipients.size() == 1
          ? &request_.recipients[0]
          : nullptr;
  ComposedMessage message = Compose(only, message_id, date, "");
  for (const InjectionRecipient& recipient : request_.recipients) {
    message.needs_smtputf8 |= recipient.needs_smtputf8;
  }
  return message;
}

ComposedMessage InjectionComposer::BuildForRecipient(size_t recipient, std::string_view message_id,
                                                     absl::Time date,
                                                     std::string_view unsubscribe_url) {
  const InjectionRecipient& target = request_.recipients[recipient];
  if (request_.content.has_value()) {
    ComposedMessage message;
    message.bytes = *request_.content;
    message.needs_smtputf8 = request_.sender_needs_smtputf8 || target.needs_smtputf8;
    return message;
  }
  ComposedMessage message = Compose(&target, message_id, date, unsubscribe_url);
  message.needs_smtputf8 |= target.needs_smtputf8;
  return message;
}

}  // namespace sluice::api
