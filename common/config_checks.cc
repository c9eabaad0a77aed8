#include "common/config_checks.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <initializer_list>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ip_network.h"
#include "common/status_macros.h"

namespace sluice::common {

bool IsAddress(int family, absl::string_view host) {
  const std::string terminated(host);
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(family, terminated.c_str(), buffer) == 1;
}

absl::Status CheckNetwork(absl::string_view text) { return IpNetwork::Parse(text).status(); }

absl::Status CheckScope(absl::string_view text) {
  if (text == "inject" || text == "admin" || text == "read") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "' is not a scope (inject, admin or read)"));
}

absl::StatusOr<std::string> ParseSha256Hex(absl::string_view text) {
  if (text.size() != 64 || !std::all_of(text.begin(), text.end(), absl::ascii_isxdigit)) {
    return absl::InvalidArgumentError("must be 64 hex digits (the token's SHA-256)");
  }
  return absl::AsciiStrToLower(text);
}

absl::Status CheckDomain(absl::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.' ||
      text.find_first_of(" @[]") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a domain name"));
  }
  return absl::OkStatus();
}

absl::Status CheckDomainPattern(absl::string_view text) {
  const absl::string_view domain = absl::StartsWith(text, "*.") ? text.substr(2) : text;
  if (domain.find('*') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "': a wildcard is only allowed as a leading \"*.\" (\"*.example.com\")"));
  }
  return CheckDomain(domain);
}

absl::Status CheckCanonicalization(absl::string_view text) {
  for (absl::string_view ok :
       {"relaxed/relaxed", "relaxed/simple", "simple/relaxed", "simple/simple"}) {
    if (text == ok) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "' is not header/body, each simple or relaxed"));
}

absl::Status CheckDkimAlgorithm(absl::string_view text) {
  if (text.empty() || text == "rsa-sha256" || text == "ed25519-sha256") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "' is not rsa-sha256 or ed25519-sha256"));
}

absl::Status CheckHostPort(absl::string_view text) {
  if (text.empty() || text.find_first_of(" @") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not host or host:port"));
  }
  return absl::OkStatus();
}

absl::Status CheckAddress(absl::string_view text) {
  if (text.empty() || IsAddress(AF_INET, text) || IsAddress(AF_INET6, text)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a numeric IP address"));
}

absl::StatusOr<std::string> ParseDomainPattern(absl::string_view text) {
  SLUICE_RETURN_IF_ERROR(CheckDomainPattern(text));
  return std::string(text);
}

absl::StatusOr<std::string> ParseAddress(absl::string_view text) {
  SLUICE_RETURN_IF_ERROR(CheckAddress(text));
  return std::string(text);
}

absl::Status CheckHttpsBaseUrl(absl::string_view url) {
  if (url.empty()) return absl::OkStatus();
  constexpr absl::string_view kScheme = "https://";
  if (!absl::StartsWith(url, kScheme) || url.size() == kScheme.size()) {
    return absl::InvalidArgumentError("must start with https:// and name a host (RFC 8058)");
  }
  if (absl::EndsWith(url, "/")) return absl::InvalidArgumentError("must not end with '/'");
  for (unsigned char c : url) {
    if (c <= ' ' || c > '~' || c == '<' || c == '>' || c == '"') {
      return absl::InvalidArgumentError("must be printable ASCII without spaces, <, > or \"");
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice::common
