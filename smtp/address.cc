#include "smtp/address.h"

#include <arpa/inet.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sluice::smtp {
namespace {

bool IsAlnum(unsigned char c) { return absl::ascii_isalnum(c); }

// atext as SMTPUTF8 extends it (RFC 6531: UTF8-non-ascii too), validated
// as UTF-8 afterwards.
bool IsUtf8Atext(unsigned char c) { return IsAtext(c) || c >= 0x80; }

bool HasNonAscii(std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x80) return true;
  }
  return false;
}

bool IsValidLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  const bool ascii = !HasNonAscii(label);
  for (size_t i = 0; i < label.size(); ++i) {
    const unsigned char c = label[i];
    if (c >= 0x80) continue;
    if (IsAlnum(c)) continue;
    if (c == '-' && i != 0 && i + 1 != label.size()) continue;
    return false;
  }
  // An ASCII label must start and end with a letter or digit (checked by the
  // hyphen rule above); a U-label must additionally be well-formed UTF-8.
  return ascii || IsValidUtf8(label);
}

bool IsSnum(std::string_view part) {
  if (part.empty() || part.size() > 3) return false;
  int value = 0;
  for (char c : part) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + (c - '0');
  }
  return value <= 255;
}

bool IsIpv4Literal(std::string_view text) {
  int parts = 0;
  while (true) {
    const size_t dot = text.find('.');
    if (!IsSnum(text.substr(0, dot))) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
  }
  return parts == 4;
}

absl::Status Bad(std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed address: ", absl::string_view(what.data(), what.size())));
}

}  // namespace

bool IsAtext(unsigned char c) {
  if (absl::ascii_isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

std::string Address::ToString() const {
  if (domain.empty()) return local_part;
  return absl::StrCat(local_part, "@", domain);
}

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += extra + 1;
  }
  return true;
}

bool IsValidDomain(std::string_view domain, bool* utf8) {
  if (domain.empty() || domain.size() > kMaxDomainOctets) return false;
  *utf8 = HasNonAscii(domain);
  while (true) {
    const size_t dot = domain.find('.');
    if (!IsValidLabel(domain.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    domain.remove_prefix(dot + 1);
  }
}

bool IsValidAddressLiteral(std::string_view literal) {
  if (literal.size() < 3 || literal.front() != '[' || literal.back() != ']') return false;
  std::string_view inner = literal.substr(1, literal.size() - 2);
  if (inner.size() > 5 && absl::EqualsIgnoreCase(absl::string_view(inner.data(), 5), "IPv6:")) {
    const std::string address(inner.substr(5));
    in6_addr parsed;
    return inet_pton(AF_INET6, address.c_str(), &parsed) == 1;
  }
  // General-address-literal: no standardised tag other than IPv6 exists, so
  // anything else is refused rather than passed on uninterpreted.
  return IsIpv4Literal(inner);
}

absl::StatusOr<Address> ParsePath(std::string_view input, const PathOptions& options,
                                  size_t* consumed) {
  size_t pos = 0;
  auto at = [&](size_t i) -> int {
    return i < input.size() ? static_cast<unsigned char>(input[i]) : -1;
  };
  if (at(pos) != '<') return Bad("expected '<'");
  ++pos;
  Address address;
  if (at(pos) == '>') {
    if (!options.allow_null) return Bad("null path not allowed here");
    *consumed = pos + 1;
    return address;
  }
  // A-d-l: source route, obsolete; parse and drop.
  if (at(pos) == '@') {
    while (true) {
      ++pos;  // '@'
      const size_t start = pos;
      while (at(pos) != -1 && at(pos) != ',' && at(pos) != ':' && at(pos) != '>') ++pos;
      bool utf8 = false;
      if (!IsValidDomain(input.substr(start, pos - start), &utf8)) return Bad("source route");
      if (at(pos) == ',' && at(pos + 1) == '@') {
        ++pos;
        continue;
      }
      if (at(pos) != ':') return Bad("source route");
      ++pos;
      break;
    }
  }
  // Local-part.
  const size_t local_start = pos;
  if (at(pos) == '"') {
    ++pos;
    while (true) {
      const int c = at(pos);
      if (c == -1) return Bad("unterminated quoted local part");
      if (c == '"') break;
      if (c == '\\') {
        const int next = at(pos + 1);
        if (next < 32 || next > 126) return Bad("bad quoted pair");
        pos += 2;
        continue;
      }
      if (c < 32 || c == 127) return Bad("control character in local part");
      ++pos;
    }
    ++pos;  // closing quote
  } else {
    bool expect_atom = true;
    while (true) {
      const int c = at(pos);
      if (c != -1 && IsUtf8Atext(static_cast<unsigned char>(c))) {
        expect_atom = false;
        ++pos;
      } else if (c == '.' && !expect_atom) {
        expect_atom = true;
        ++pos;
      } else {
        break;
      }
    }
    if (expect_atom) return Bad("empty or dotted local part");
  }
  address.local_part = std::string(input.substr(local_start, pos - local_start));
  if (address.local_part.size() > kMaxLocalPartOctets) return Bad("local part too long");
  if (HasNonAscii(address.local_part)) {
    if (!IsValidUtf8(address.local_part)) return Bad("invalid UTF-8 in local part");
    address.utf8 = true;
  }
  if (at(pos) == '>' && options.allow_postmaster &&
      absl::EqualsIgnoreCase(address.local_part, "postmaster")) {
    *consumed = pos + 1;
    return address;
  }
  if (at(pos) != '@') return Bad("expected '@'");
  ++pos;
  const size_t domain_start = pos;
  if (at(pos) == '[') {
    while (at(pos) != -1 && at(pos) != ']') ++pos;
    if (at(pos) != ']') return Bad("unterminated address literal");
    ++pos;
    address.domain = std::string(input.substr(domain_start, pos - domain_start));
    if (!IsValidAddressLiteral(address.domain)) return Bad("address literal");
  } else {
    while (at(pos) != -1 && at(pos) != '>') ++pos;
    address.domain = std::string(input.substr(domain_start, pos - domain_start));
    bool utf8 = false;
    if (!IsValidDomain(address.domain, &utf8)) return Bad("domain");
    address.utf8 = address.utf8 || utf8;
  }
  if (at(pos) != '>') return Bad("expected '>'");
  *consumed = pos + 1;
  return address;
}

}  // namespace sluice::smtp
