#include "smtp/client_body.h"

#include <cstring>

namespace sluice::smtp {

bool IsCanonicalBody(std::string_view body) {
  if (body.empty()) return true;
  if (body.size() < 2 || body[body.size() - 2] != '\r' || body.back() != '\n') return false;
  const char* p = body.data();
  const char* const end = p + body.size();
  while (p < end) {
    const char* cr = static_cast<const char*>(memchr(p, '\r', end - p));
    const char* lf = static_cast<const char*>(memchr(p, '\n', (cr ? cr : end) - p));
    if (lf != nullptr) return false;  // an LF before the next CR: bare
    if (cr == nullptr) return true;
    if (cr + 1 >= end || cr[1] != '\n') return false;
    p = cr + 2;
  }
  return true;
}

std::string CanonicalizeBody(std::string_view body) {
  std::string out;
  out.reserve(body.size() + 2);
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '\r') {
      out.append("\r\n");
      if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out.append("\r\n");
    } else {
      out.push_back(c);
    }
  }
  if (!out.empty() && (out.size() < 2 || out[out.size() - 2] != '\r' || out.back() != '\n')) {
    out.append("\r\n");
  }
  return out;
}

void AppendDotStuffed(std::string_view body, std::string* out) {
  out->reserve(out->size() + body.size() + body.size() / 64 + 3);
  size_t line_start = 0;
  while (line_start < body.size()) {
    size_t end = body.find("\r\n", line_start);
    end = end == std::string_view::npos ? body.size() : end + 2;
    if (body[line_start] == '.') out->push_back('.');
    out->append(body.substr(line_start, end - line_start));
    line_start = end;
  }
  out->append(".\r\n");
}

}  // namespace sluice::smtp
