// command: parses one SMTP command line (RFC 5321 4.1.1, 4.1.2) with its
// ESMTP parameters, plus the verbs of STARTTLS (RFC 3207), AUTH (RFC 4954)
// and BDAT (RFC 3030).
//
// Pure function over a line without its CRLF; the server session calls it
// and decides what the command means in its state. An unknown verb is not an
// error (verb kUnknown: the session answers 500); a known verb with a
// malformed argument is InvalidArgument with a message fit for a 501 reply.
// Parameter keywords are checked for syntax only; which are supported and
// what their values mean is command_arguments' business (555 otherwise).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "smtp/address.h"

namespace sluice::smtp {

enum class Verb {
  kUnknown,
  kHelo,
  kEhlo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kExpn,
  kHelp,
  kStartTls,
  kAuth,
};

struct EsmtpParam {
  std::string keyword;  // upper-cased
  std::string value;    // as sent (command_arguments decodes xtext values)
  bool has_value = false;
};

struct Command {
  Verb verb = Verb::kUnknown;
  // HELO/EHLO: the client's domain or address literal; AUTH: the mechanism,
  // upper-cased; VRFY, EXPN, HELP, NOOP: the rest of the line, if any.
  std::string argument;
  // AUTH: the initial response, if given ("=" means an empty one).
  std::string initial_response;
  bool has_initial_response = false;
  // MAIL: reverse path; RCPT: forward path.
  Address path;
  std::vector<EsmtpParam> params;
  // BDAT.
  uint64_t chunk_size = 0;
  bool last = false;
};

absl::StatusOr<Command> ParseCommand(std::string_view line);

}  // namespace sluice::smtp
