#include "dns/domain_name.h"

#include <idn2.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "dns/dns_error.h"

namespace sluice::dns {
namespace {

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Letters, digits, '-' and '_' (for _25._tcp and DKIM selectors), labels of
// 1 to 63 octets, 253 in all.
bool ValidAscii(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    if (++label > 63) return false;
  }
  return label > 0;
}

}  // namespace

absl::StatusOr<std::string> NormalizeDomain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string ascii;
  if (IsAscii(name)) {
    ascii = absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
  } else {
    std::string input(name);
    char* output = nullptr;
    const int rc = idn2_to_ascii_8z(input.c_str(), &output, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK) {
      return DnsError(DnsFailure::kBadName, name, idn2_strerror(rc));
    }
    ascii = absl::AsciiStrToLower(output);
    idn2_free(output);
  }
  if (!ValidAscii(ascii)) return DnsError(DnsFailure::kBadName, name);
  return ascii;
}

}  // namespace sluice::dns
