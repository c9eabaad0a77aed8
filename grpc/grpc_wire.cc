#include "grpc/grpc_wire.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sluice::grpc {

void AppendMessage(std::string_view payload, bool compressed, std::string* out) {
  const uint32_t length = static_cast<uint32_t>(payload.size());
  out->push_back(compressed ? 1 : 0);
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(length >> shift));
  out->append(payload);
}

std::string EncodeMessage(std::string_view payload, bool compressed) {
  std::string out;
  out.reserve(kMessageHeaderBytes + payload.size());
  AppendMessage(payload, compressed, &out);
  return out;
}

std::optional<absl::Duration> ParseTimeout(std::string_view text) {
  if (text.size() < 2 || text.size() > 9) return std::nullopt;
  const std::string_view digits = text.substr(0, text.size() - 1);
  int64_t value = 0;
  for (const char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  switch (text.back()) {
    case 'H':
      return absl::Hours(value);
    case 'M':
      return absl::Minutes(value);
    case 'S':
      return absl::Seconds(value);
    case 'm':
      return absl::Milliseconds(value);
    case 'u':
      return absl::Microseconds(value);
    case 'n':
      return absl::Nanoseconds(value);
    default:
      return std::nullopt;
  }
}

std::string FormatTimeout(absl::Duration timeout) {
  constexpr int64_t kMax = 99'999'999;
  struct Unit {
    char name;
    absl::Duration size;
  };
  for (const Unit& unit : {Unit{'n', absl::Nanoseconds(1)}, Unit{'u', absl::Microseconds(1)},
                           Unit{'m', absl::Milliseconds(1)}, Unit{'S', absl::Seconds(1)},
                           Unit{'M', absl::Minutes(1)}}) {
    const int64_t count = absl::ToInt64Nanoseconds(absl::Ceil(timeout, unit.size)) /
                          absl::ToInt64Nanoseconds(unit.size);
    if (count <= kMax) return absl::StrCat(std::max<int64_t>(count, 0), std::string(1, unit.name));
  }
  return absl::StrCat(
      std::min<int64_t>(kMax, absl::ToInt64Hours(absl::Ceil(timeout, absl::Hours(1)))), "H");
}

std::string PercentEncode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u <= 0x7e && c != '%') {
      out.push_back(c);
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof(escaped), "%%%02X", u);
      out.append(escaped, 3);
    }
  }
  return out;
}

std::string PercentDecode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace sluice::grpc
