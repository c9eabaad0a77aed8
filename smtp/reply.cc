#include "smtp/reply.h"

#include "absl/strings/str_cat.h"

namespace sluice::smtp {

void AppendReply(std::string* out, int code, std::string_view enhanced, std::string_view text) {
  const std::string code_text = absl::StrCat(code);
  while (true) {
    const size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    const bool last = newline == std::string_view::npos;
    out->append(code_text);
    out->push_back(last ? ' ' : '-');
    if (!enhanced.empty()) {
      out->append(enhanced);
      if (!line.empty()) out->push_back(' ');
    }
    for (char c : line) {
      // Never let caller-supplied text end a line or smuggle a control byte.
      out->push_back(c == '\r' || c == '\0' ? ' ' : c);
    }
    out->append("\r\n");
    if (last) return;
    text.remove_prefix(newline + 1);
  }
}

}  // namespace sluice::smtp
