#include "mime/encoded_word.h"

#include <algorithm>

#include "mime/base64.h"

namespace sluice::mime {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr std::string_view kQPrefix = "=?utf-8?Q?";
constexpr std::string_view kBPrefix = "=?utf-8?B?";
constexpr size_t kOverhead = 12;  // prefix (10) and "?=" (2)

// RFC 2047 5(3): the characters a Q word may carry literally in a phrase.
bool IsQLiteral(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '!' ||
         c == '*' || c == '+' || c == '-' || c == '/';
}

size_t QCost(unsigned char c) { return (IsQLiteral(c) || c == ' ') ? 1 : 3; }

// Length of the UTF-8 sequence starting with `lead`; a stray byte counts
// as one character so that invalid input still terminates.
size_t CharLength(std::string_view text, size_t i) {
  const unsigned char lead = text[i];
  size_t length = 1;
  if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
  } else if (lead >= 0xE0) {
    length = 3;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  }
  if (lead >= 0xF5) length = 1;
  return std::min(length, text.size() - i);
}

void AppendQ(std::string_view chunk, std::string* out) {
  for (unsigned char c : chunk) {
    if (c == ' ') {
      out->push_back('_');
    } else if (IsQLiteral(c)) {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('=');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

}  // namespace

std::vector<std::string> EncodeWords(std::string_view utf8, size_t first_max_word,
                                     size_t max_word) {
  std::vector<std::string> words;
  if (utf8.empty()) return words;
  size_t q_length = 0;
  for (unsigned char c : utf8) q_length += QCost(c);
  const bool use_q = q_length <= (utf8.size() + 2) / 3 * 4;

  size_t i = 0;
  while (i < utf8.size()) {
    const size_t limit = (words.empty() ? first_max_word : max_word);
    // Payload room; at least one character always goes in, even when the
    // limit is too small for it.
    const size_t room = limit > kOverhead ? limit - kOverhead : 0;
    size_t end = i;
    size_t payload = 0;
    while (end < utf8.size()) {
      const size_t length = CharLength(utf8, end);
      size_t next;
      if (use_q) {
        next = payload;
        for (size_t k = 0; k < length; ++k) next += QCost(utf8[end + k]);
      } else {
        next = (end + length - i + 2) / 3 * 4;
      }
      if (next > room && end > i) break;
      payload = next;
      end += length;
    }
    const std::string_view chunk = utf8.substr(i, end - i);
    std::string word(use_q ? kQPrefix : kBPrefix);
    if (use_q) {
      AppendQ(chunk, &word);
    } else {
      word.append(Base64Encode(chunk, 0));
    }
    word.append("?=");
    words.push_back(std::move(word));
    i = end;
  }
  return words;
}

bool NeedsEncodedWords(std::string_view text, size_t max_plain_word) {
  if (text.empty()) return false;
  if (text.front() == ' ' || text.back() == ' ') return true;
  size_t word = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = text[i];
    if (c == ' ') {
      if (text[i - 1] == ' ') return true;
      word = 0;
      continue;
    }
    if (c < 33 || c > 126) return true;
    if (c == '=' && i + 1 < text.size() && text[i + 1] == '?') return true;
    if (++word > max_plain_word) return true;
  }
  return false;
}

}  // namespace sluice::mime
