#include "smtp/xtext.h"

#include "absl/status/status.h"

namespace sluice::smtp {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // RFC 3461: hexchar is upper case only
}

}  // namespace

absl::StatusOr<std::string> DecodeXtext(std::string_view xtext) {
  std::string out;
  out.reserve(xtext.size());
  for (size_t i = 0; i < xtext.size(); ++i) {
    const char c = xtext[i];
    if (c == '+') {
      if (i + 2 >= xtext.size()) {
        return absl::InvalidArgumentError("xtext: truncated hexchar");
      }
      const int high = HexValue(xtext[i + 1]);
      const int low = HexValue(xtext[i + 2]);
      if (high < 0 || low < 0) return absl::InvalidArgumentError("xtext: bad hexchar");
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c >= '!' && c <= '~' && c != '=') {
      out.push_back(c);
    } else {
      return absl::InvalidArgumentError("xtext: octet outside xchar");
    }
  }
  return out;
}

std::string EncodeXtext(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c >= '!' && c <= '~' && c != '+' && c != '=') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('+');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace sluice::smtp
