#include "api/injection_address.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "dns/domain_name.h"
#include "smtp/address.h"

namespace sluice::api {
namespace {

absl::Status NotValid(std::string_view detail) {
  return absl::InvalidArgumentError(
      absl::StrCat("not a valid address: ", absl::string_view(detail.data(), detail.size())));
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool HasNonAscii(std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x80) return true;
  }
  return false;
}

}  // namespace

bool IsHeaderSafeText(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 32 || c == 127) return false;
  }
  return true;
}

absl::StatusOr<InjectionAddress> ParseInjectionAddrSpec(std::string_view text) {
  if (text.empty()) return NotValid("empty");
  if (text.find_first_of("<> \t\r\n") != std::string_view::npos) {
    return NotValid("unexpected space or angle bracket");
  }
  const std::string path = absl::StrCat("<", absl::string_view(text.data(), text.size()), ">");
  size_t consumed = 0;
  absl::StatusOr<smtp::Address> parsed = smtp::ParsePath(path, smtp::PathOptions{}, &consumed);
  if (!parsed.ok()) {
    const absl::string_view status_message = parsed.status().message();
    std::string_view message(status_message.data(), status_message.size());
    // smtp/address says "malformed address: <what>"; keep only the what.
    constexpr std::string_view kPrefix = "malformed address: ";
    if (message.substr(0, kPrefix.size()) == kPrefix) message.remove_prefix(kPrefix.size());
    return NotValid(message);
  }
  if (consumed != path.size()) return NotValid("trailing characters");
  if (parsed->domain.empty()) return NotValid("no domain");
  InjectionAddress address;
  address.mailbox.local_part = std::move(parsed->local_part);
  address.needs_smtputf8 = HasNonAscii(address.mailbox.local_part);
  if (parsed->domain.front() == '[') {
    address.mailbox.domain = std::move(parsed->domain);
  } else {
    absl::StatusOr<std::string> domain = dns::NormalizeDomain(parsed->domain);
    if (!domain.ok()) return NotValid("domain is not a valid DNS name");
    if (domain->find('.') == std::string::npos) return NotValid("domain has a single label");
    address.mailbox.domain = *std::move(domain);
  }
  return address;
}

absl::StatusOr<InjectionAddress> ParseInjectionMailbox(std::string_view text) {
  text = Trim(text);
  if (text.empty() || text.back() != '>') return ParseInjectionAddrSpec(text);
  const size_t open = text.rfind('<');
  if (open == std::string_view::npos) return NotValid("'>' without '<'");
  std::string_view phrase = Trim(text.substr(0, open));
  std::string display_name;
  if (phrase.size() >= 2 && phrase.front() == '"' && phrase.back() == '"') {
    phrase = phrase.substr(1, phrase.size() - 2);
    for (size_t i = 0; i < phrase.size(); ++i) {
      if (phrase[i] == '\\' && i + 1 < phrase.size())
        ++i;
      else if (phrase[i] == '"')
        return NotValid("unescaped quote in display name");
      display_name.push_back(phrase[i]);
    }
  } else {
    if (phrase.find('"') != std::string_view::npos)
      return NotValid("unbalanced quote in display name");
    display_name = std::string(phrase);
  }
  if (!IsHeaderSafeText(display_name)) return NotValid("control character in display name");
  absl::StatusOr<InjectionAddress> address =
      ParseInjectionAddrSpec(text.substr(open + 1, text.size() - open - 2));
  if (!address.ok()) return address.status();
  address->mailbox.display_name = std::move(display_name);
  return address;
}

}  // namespace sluice::api
