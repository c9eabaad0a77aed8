#include "dns/host_port.h"

#include <arpa/inet.h>

#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace sluice::dns {
namespace {

absl::Status Bad(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid host:port '",
                                                 absl::string_view(text.data(), text.size()),
                                                 "': ", absl::string_view(why.data(), why.size())));
}

}  // namespace

absl::StatusOr<HostPort> HostPort::Parse(std::string_view text, uint16_t default_port) {
  HostPort out;
  out.port = default_port;
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return Bad(text, "missing ']'");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Bad(text, "expected ':' after ']'");
      port = rest.substr(1);
      if (port.empty()) return Bad(text, "empty port");
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      if (text.find(':') != colon) return Bad(text, "IPv6 addresses need brackets");
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (port.empty()) return Bad(text, "empty port");
    }
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return Bad(text, "empty host");
  if (!port.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return Bad(text, "bad port");
    }
    out.port = static_cast<uint16_t>(value);
  }
  out.host = absl::AsciiStrToLower(absl::string_view(host.data(), host.size()));
  return out;
}

bool HostPort::IsNumeric() const {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

}  // namespace sluice::dns
