// reply_parser: parses SMTP server replies (RFC 5321 4.2) from a byte
// stream, for the client session.
//
// Feed() appends bytes in any split; Next() hands out complete replies one
// at a time, in order. A reply is one or more lines "CODE-text" ending with
// "CODE text" (or a bare "CODE"), every line ending in CRLF; a bare LF is
// accepted as a line end too (Postfix's client does the same), a CR or NUL
// inside a line is not. When the first line of a reply starts with an RFC
// 3463 enhanced status code whose class matches the reply code (RFC 2034),
// it is reported in ServerReply::enhanced; such a code is taken off the
// text of every line that has one.
//
// Errors are sticky: once Next() returned an error (non-digit code, code
// changing between lines, bad separator, control octets, a line or reply
// over its limit) it returns the same error forever; the connection is not
// usable any more. The result never depends on how the input was split.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::smtp {

struct ServerReply {
  int code = 0;
  // "2.1.0"; empty when the reply carried none.
  std::string enhanced;
  // Text of each line, without code, separator, enhanced code and CRLF.
  std::vector<std::string> lines;
  // True when the client session made this reply up (a local refusal, a
  // lost connection) instead of receiving it.
  bool local = false;

  bool IsPositive() const { return code >= 200 && code < 300; }
  bool IsIntermediate() const { return code >= 300 && code < 400; }
  bool IsTransient() const { return code >= 400 && code < 500; }
  bool IsPermanent() const { return code >= 500 && code < 600; }

  // The lines joined with single spaces.
  std::string Text() const;
  // One line for logs, DSNs and transcripts: "550 5.1.1 text of all lines".
  std::string ToString() const;

  static ServerReply Local(int code, std::string_view enhanced, std::string_view text);
};

struct ReplyParserLimits {
  // Octets per line including CRLF. RFC 5321 4.5.3.1.5 says 512; real
  // servers send longer ones, hence the margin.
  size_t max_line = 4096;
  // Lines per reply (long EHLO replies have ~20).
  size_t max_lines = 200;
};

class ReplyParser {
 public:
  explicit ReplyParser(const ReplyParserLimits& limits = {}) : limits_(limits) {}

  void Feed(std::string_view bytes) { buffer_.append(bytes); }

  // The next complete reply; nullopt when more input is needed.
  absl::StatusOr<std::optional<ServerReply>> Next();

  // Octets fed but not yet part of a reply handed out (a partial reply, or
  // replies still to take).
  size_t buffered() const { return buffer_.size() - consumed_; }
  // True when buffered() starts a reply that is not complete yet.
  bool InsideReply() const { return buffered() > 0; }

 private:
  absl::Status Fail(std::string message);

  const ReplyParserLimits limits_;
  std::string buffer_;
  size_t consumed_ = 0;  // octets of buffer_ handed out in replies
  absl::Status error_;
};

}  // namespace sluice::smtp
