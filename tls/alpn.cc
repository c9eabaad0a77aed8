#include "tls/alpn.h"

#include "absl/strings/str_cat.h"

namespace sluice::tls {

absl::StatusOr<std::string> EncodeAlpn(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& p : protocols) {
    if (p.empty() || p.size() > 255) {
      return absl::InvalidArgumentError(absl::StrCat("invalid ALPN protocol name '", p, "'"));
    }
    wire.push_back(static_cast<char>(p.size()));
    wire += p;
  }
  return wire;
}

}  // namespace sluice::tls
