#include "mime/base64.h"

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sluice::mime {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& entry : table) entry = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}

constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

absl::Status Invalid(std::string_view why, size_t offset) {
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid base64: ", absl::string_view(why.data(), why.size()), " at offset ", offset));
}

}  // namespace

std::string Base64Encode(std::string_view data, size_t line_length) {
  const size_t encoded = (data.size() + 2) / 3 * 4;
  std::string out;
  out.reserve(encoded + (line_length ? (encoded / line_length + 1) * 2 : 0));
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t column = 0;
  auto put = [&](char c) {
    out.push_back(c);
    if (line_length != 0 && ++column == line_length) {
      out.append("\r\n");
      column = 0;
    }
  };
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    put(kAlphabet[v >> 18]);
    put(kAlphabet[(v >> 12) & 63]);
    put(kAlphabet[(v >> 6) & 63]);
    put(kAlphabet[v & 63]);
  }
  if (const size_t rest = data.size() - i; rest != 0) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (rest == 2 ? uint32_t{p[i + 1]} << 8 : 0);
    put(kAlphabet[v >> 18]);
    put(kAlphabet[(v >> 12) & 63]);
    put(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    put('=');
  }
  if (line_length != 0 && column != 0) out.append("\r\n");
  return out;
}

absl::StatusOr<std::string> Base64Decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t accumulator = 0;
  int count = 0;    // sextets in the current quantum
  int padding = 0;  // '=' seen
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (IsSpace(c)) continue;
    if (c == '=') {
      if (count < 2) return Invalid("misplaced padding", i);
      ++padding;
      if (count + padding > 4) return Invalid("too much padding", i);
      continue;
    }
    if (padding != 0) return Invalid("data after padding", i);
    const int8_t value = kDecode[static_cast<unsigned char>(c)];
    if (value < 0) return Invalid("invalid character", i);
    accumulator = (accumulator << 6) | static_cast<uint32_t>(value);
    if (++count == 4) {
      out.push_back(static_cast<char>(accumulator >> 16));
      out.push_back(static_cast<char>(accumulator >> 8));
      out.push_back(static_cast<char>(accumulator));
      accumulator = 0;
      count = 0;
    }
  }
  if (padding != 0 && count + padding != 4) return Invalid("incomplete padding", text.size());
  switch (count) {
    case 0:
      break;
    case 1:
      return Invalid("truncated quantum", text.size());
    case 2:
      if (accumulator & 0xF) return Invalid("non-zero trailing bits", text.size());
      out.push_back(static_cast<char>(accumulator >> 4));
      break;
    case 3:
      if (accumulator & 0x3) return Invalid("non-zero trailing bits", text.size());
      out.push_back(static_cast<char>(accumulator >> 10));
      out.push_back(static_cast<char>(accumulator >> 2));
      break;
  }
  return out;
}

}  // namespace sluice::mime
