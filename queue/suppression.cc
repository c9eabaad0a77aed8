#include "queue/suppression.h"

#include "absl/strings/ascii.h"

namespace sluice::queue {

std::string_view SuppressionSourceName(SuppressionSource source) {
  switch (source) {
    case SuppressionSource::kHardBounce:
      return "hard-bounce";
    case SuppressionSource::kComplaint:
      return "complaint";
    case SuppressionSource::kUnsubscribe:
      return "unsubscribe";
    case SuppressionSource::kOperator:
      break;
  }
  return "operator";
}

std::optional<SuppressionSource> ParseSuppressionSource(std::string_view name) {
  for (SuppressionSource source : {SuppressionSource::kHardBounce, SuppressionSource::kComplaint,
                                   SuppressionSource::kUnsubscribe, SuppressionSource::kOperator}) {
    if (name == SuppressionSourceName(source)) return source;
  }
  return std::nullopt;
}

std::string NormalizeSuppressedAddress(std::string_view address) {
  const absl::string_view trimmed =
      absl::StripAsciiWhitespace(absl::string_view(address.data(), address.size()));
  const size_t at = trimmed.rfind('@');
  if (at == absl::string_view::npos || at == 0 || at + 1 == trimmed.size()) return {};
  for (const char c : trimmed) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return {};
  }
  return absl::AsciiStrToLower(trimmed);
}

}  // namespace sluice::queue
