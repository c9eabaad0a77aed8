#include "mime/quoted_printable.h"

namespace sluice::mime {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool IsLiteral(unsigned char c) { return c >= 33 && c <= 126 && c != '='; }

}  // namespace

std::string QuotedPrintableEncode(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 8);
  size_t column = 0;
  // Appends one encoded unit (1 or 3 characters), breaking the line first
  // if the unit and a possible soft-break "=" would not fit.
  auto unit = [&](const char* data, size_t size, bool last_on_line) {
    // A unit that ends the line needs no room for a trailing "=".
    const size_t room = last_on_line ? kQuotedPrintableLineLength : kQuotedPrintableLineLength - 1;
    if (column + size > room) {
      out.append("=\r\n");
      column = 0;
    }
    out.append(data, size);
    column += size;
  };
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = text[i];
    if (c == '\r' || c == '\n') {
      out.append("\r\n");
      column = 0;
      i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      continue;
    }
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
    if (IsLiteral(c)) {
      const char literal = static_cast<char>(c);
      unit(&literal, 1, at_line_end);
    } else if ((c == ' ' || c == '\t') && !at_line_end) {
      // Whitespace stays literal unless a soft break would follow it: if it
      // would land in the last column, encode it instead.
      const char literal = static_cast<char>(c);
      if (column + 1 > kQuotedPrintableLineLength - 1) {
        out.append("=\r\n");
        column = 0;
      }
      out.push_back(literal);
      ++column;
    } else {
      const char escaped[3] = {'=', kHex[c >> 4], kHex[c & 15]};
      unit(escaped, 3, at_line_end);
    }
    ++i;
  }
  if (!text.empty() && !(out.size() >= 2 && out.compare(out.size() - 2, 2, "\r\n") == 0)) {
    out.append("\r\n");
  }
  return out;
}

bool IsSevenBitText(std::string_view text, size_t max_line) {
  size_t column = 0;
  char previous = '\0';
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = text[i];
    if (c == '\r' || c == '\n') {
      if (previous == ' ' || previous == '\t') return false;
      column = 0;
      previous = static_cast<char>(c);
      continue;
    }
    if (c >= 0x7F || (c < 32 && c != '\t')) return false;
    if (++column > max_line) return false;
    previous = static_cast<char>(c);
  }
  return previous != ' ' && previous != '\t';
}

std::string NormalizeLineEndings(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32 + 2);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' || c == '\n') {
      out.append("\r\n");
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out.push_back(c);
    }
  }
  if (!text.empty() && !(out.size() >= 2 && out.compare(out.size() - 2, 2, "\r\n") == 0)) {
    out.append("\r\n");
  }
  return out;
}

std::string QuotedPrintableDecode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '=') {
      out.push_back(c);
      continue;
    }
    // A soft line break: "=" then optional white space, then CRLF.
    size_t j = i + 1;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
    if (j + 1 < text.size() && text[j] == '\r' && text[j + 1] == '\n') {
      i = j + 1;
      continue;
    }
    if (j == text.size()) break;  // "=" at the very end
    if (i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace sluice::mime
