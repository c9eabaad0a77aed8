#include "smtp/reply_parser.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace sluice::smtp {
namespace {

absl::string_view Absl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of an RFC 3463 code "c.sss.ddd" at the start of `text` whose class
// digit is `klass`, followed by a space or the end; 0 if there is none.
size_t EnhancedCodeLength(std::string_view text, char klass) {
  if (text.size() < 5 || text[0] != klass || text[1] != '.') return 0;
  size_t pos = 2;
  for (int part = 0; part < 2; ++part) {
    const size_t start = pos;
    while (pos < text.size() && IsDigit(text[pos]) && pos - start < 4) ++pos;
    const size_t digits = pos - start;
    if (digits == 0 || digits > 3) return 0;
    if (part == 0) {
      if (pos >= text.size() || text[pos] != '.') return 0;
      ++pos;
    }
  }
  if (pos < text.size() && text[pos] != ' ') return 0;
  return pos;
}

}  // namespace

std::string ServerReply::Text() const {
  std::string text;
  for (const std::string& line : lines) {
    if (line.empty()) continue;
    if (!text.empty()) text.push_back(' ');
    text.append(line);
  }
  return text;
}

std::string ServerReply::ToString() const {
  std::string out = absl::StrCat(code);
  if (!enhanced.empty()) absl::StrAppend(&out, " ", enhanced);
  const std::string text = Text();
  if (!text.empty()) absl::StrAppend(&out, " ", text);
  return out;
}

ServerReply ServerReply::Local(int code, std::string_view enhanced, std::string_view text) {
  ServerReply reply;
  reply.code = code;
  reply.enhanced = std::string(enhanced);
  reply.lines.emplace_back(text);
  reply.local = true;
  return reply;
}

absl::Status ReplyParser::Fail(std::string message) {
  error_ = absl::InvalidArgumentError(std::move(message));
  return error_;
}

absl::StatusOr<std::optional<ServerReply>> ReplyParser::Next() {
  if (!error_.ok()) return error_;
  const std::string_view input = std::string_view(buffer_).substr(consumed_);
  ServerReply reply;
  size_t pos = 0;
  while (true) {
    const size_t newline = input.find('\n', pos);
    if (newline == std::string_view::npos) {
      // A partial line: refuse it as soon as it cannot fit any more.
      if (input.size() - pos >= limits_.max_line) {
        return Fail(absl::StrCat("reply line longer than ", limits_.max_line, " octets"));
      }
      break;
    }
    if (newline + 1 - pos > limits_.max_line) {
      return Fail(absl::StrCat("reply line longer than ", limits_.max_line, " octets"));
    }
    std::string_view line = input.substr(pos, newline - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = newline + 1;

    if (line.size() < 3 || !IsDigit(line[0]) || !IsDigit(line[1]) || !IsDigit(line[2]) ||
        line[0] < '2' || line[0] > '5') {
      return Fail(absl::StrCat("malformed reply line \"", Absl(line.substr(0, 64)), "\""));
    }
    for (char c : line) {
      if (c == '\r' || c == '\0') return Fail("control character in reply line");
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    bool last = true;
    if (line.size() > 3) {
      if (line[3] == '-') {
        last = false;
      } else if (line[3] != ' ') {
        return Fail(absl::StrCat("malformed reply line \"", Absl(line.substr(0, 64)), "\""));
      }
    }
    if (reply.lines.empty()) {
      reply.code = code;
    } else if (code != reply.code) {
      return Fail(absl::StrCat("reply code changed from ", reply.code, " to ", code,
                               " within a multiline reply"));
    }
    if (reply.lines.size() >= limits_.max_lines) {
      return Fail(absl::StrCat("reply longer than ", limits_.max_lines, " lines"));
    }
    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
    const size_t enhanced = EnhancedCodeLength(text, line[0]);
    if (enhanced > 0) {
      if (reply.lines.empty()) reply.enhanced = std::string(text.substr(0, enhanced));
      text.remove_prefix(enhanced);
      if (!text.empty()) text.remove_prefix(1);
    }
    reply.lines.emplace_back(text);
    if (last) {
      consumed_ += pos;
      if (consumed_ == buffer_.size()) {
        buffer_.clear();
        consumed_ = 0;
      } else if (consumed_ > 4096 && consumed_ * 2 > buffer_.size()) {
        buffer_.erase(0, consumed_);
        consumed_ = 0;
      }
      return std::optional<ServerReply>(std::move(reply));
    }
  }
  return std::optional<ServerReply>();
}

}  // namespace sluice::smtp
