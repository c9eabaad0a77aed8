#include "smtp/command.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace sluice::smtp {
namespace {

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IEquals(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(Absl(a), Absl(b));
}

bool IStartsWith(std::string_view text, std::string_view prefix) {
  return absl::StartsWithIgnoreCase(Absl(text), Absl(prefix));
}

struct VerbName {
  std::string_view name;
  Verb verb;
};

constexpr VerbName kVerbs[] = {
    {"HELO", Verb::kHelo},         {"EHLO", Verb::kEhlo}, {"MAIL", Verb::kMail},
    {"RCPT", Verb::kRcpt},         {"DATA", Verb::kData}, {"BDAT", Verb::kBdat},
    {"RSET", Verb::kRset},         {"NOOP", Verb::kNoop}, {"QUIT", Verb::kQuit},
    {"VRFY", Verb::kVrfy},         {"EXPN", Verb::kExpn}, {"HELP", Verb::kHelp},
    {"STARTTLS", Verb::kStartTls}, {"AUTH", Verb::kAuth},
};

std::string_view StripSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsKeywordChar(unsigned char c, bool first) {
  return absl::ascii_isalnum(c) || (!first && c == '-');
}

// esmtp-value = 1*(%d33-60 / %d62-126), widened by RFC 6531 to UTF-8.
bool IsValueChar(unsigned char c) { return (c >= 33 && c <= 126 && c != '=') || c >= 0x80; }

absl::Status ParseParams(std::string_view text, std::vector<EsmtpParam>* params) {
  while (true) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (text.empty()) return absl::OkStatus();
    const size_t end = text.find(' ');
    const std::string_view param = text.substr(0, end);
    text.remove_prefix(param.size());
    EsmtpParam parsed;
    const size_t equals = param.find('=');
    const std::string_view keyword = param.substr(0, equals);
    if (keyword.empty()) return absl::InvalidArgumentError("empty parameter keyword");
    for (size_t i = 0; i < keyword.size(); ++i) {
      if (!IsKeywordChar(static_cast<unsigned char>(keyword[i]), i == 0)) {
        return absl::InvalidArgumentError("malformed parameter keyword");
      }
    }
    parsed.keyword = absl::AsciiStrToUpper(Absl(keyword));
    if (equals != std::string_view::npos) {
      const std::string_view value = param.substr(equals + 1);
      if (value.empty()) return absl::InvalidArgumentError("empty parameter value");
      for (unsigned char c : value) {
        if (!IsValueChar(c)) return absl::InvalidArgumentError("malformed parameter value");
      }
      parsed.value = std::string(value);
      parsed.has_value = true;
    }
    params->push_back(std::move(parsed));
  }
}

absl::Status ParsePathCommand(std::string_view rest, std::string_view prefix,
                              const PathOptions& options, Command* command) {
  if (!IStartsWith(rest, prefix)) {
    return absl::InvalidArgumentError(command->verb == Verb::kMail ? "Syntax: MAIL FROM:<address>"
                                                                   : "Syntax: RCPT TO:<address>");
  }
  rest.remove_prefix(prefix.size());
  // RFC 5321 allows no space after the colon; enough clients send one that
  // every MTA tolerates it.
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  size_t consumed = 0;
  absl::StatusOr<Address> path = ParsePath(rest, options, &consumed);
  if (!path.ok()) return path.status();
  command->path = *std::move(path);
  rest.remove_prefix(consumed);
  if (!rest.empty() && rest.front() != ' ') {
    return absl::InvalidArgumentError("malformed address: junk after '>'");
  }
  return ParseParams(rest, &command->params);
}

bool ParseChunkSize(std::string_view digits, uint64_t* size) {
  if (digits.empty() || digits.size() > 18) return false;
  uint64_t value = 0;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  *size = value;
  return true;
}

}  // namespace

absl::StatusOr<Command> ParseCommand(std::string_view line) {
  // Trailing white space is common and harmless; leading is not a command.
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  Command command;
  const size_t space = line.find(' ');
  const std::string_view verb = line.substr(0, space);
  for (const VerbName& candidate : kVerbs) {
    if (IEquals(verb, candidate.name)) {
      command.verb = candidate.verb;
      break;
    }
  }
  const std::string_view rest =
      space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  const bool has_rest = space != std::string_view::npos;
  switch (command.verb) {
    case Verb::kUnknown:
      return command;
    case Verb::kHelo:
    case Verb::kEhlo: {
      const std::string_view domain = StripSpaces(rest);
      // The name ends up in a Received header: no controls, valid UTF-8.
      // Beyond that it is not checked; too many clients send junk here.
      bool printable = IsValidUtf8(domain);
      for (unsigned char c : domain) printable = printable && c > ' ' && c != 0x7F;
      if (domain.empty() || !printable) {
        return absl::InvalidArgumentError(command.verb == Verb::kHelo ? "Syntax: HELO hostname"
                                                                      : "Syntax: EHLO hostname");
      }
      command.argument = std::string(domain);
      return command;
    }
    case Verb::kMail: {
      PathOptions options;
      options.allow_null = true;
      absl::Status status = ParsePathCommand(rest, "FROM:", options, &command);
      if (!status.ok()) return status;
      return command;
    }
    case Verb::kRcpt: {
      PathOptions options;
      options.allow_postmaster = true;
      absl::Status status = ParsePathCommand(rest, "TO:", options, &command);
      if (!status.ok()) return status;
      return command;
    }
    case Verb::kData:
    case Verb::kRset:
    case Verb::kQuit:
    case Verb::kStartTls:
      if (has_rest && !StripSpaces(rest).empty()) {
        return absl::InvalidArgumentError("Syntax: command takes no arguments");
      }
      return command;
    case Verb::kNoop:
    case Verb::kHelp:
    case Verb::kVrfy:
    case Verb::kExpn:
      command.argument = std::string(StripSpaces(rest));
      if ((command.verb == Verb::kVrfy || command.verb == Verb::kExpn) &&
          command.argument.empty()) {
        return absl::InvalidArgumentError("Syntax: VRFY/EXPN address");
      }
      return command;
    case Verb::kBdat: {
      const std::string_view args = StripSpaces(rest);
      const size_t gap = args.find(' ');
      if (!ParseChunkSize(args.substr(0, gap), &command.chunk_size)) {
        return absl::InvalidArgumentError("Syntax: BDAT chunk-size [LAST]");
      }
      if (gap != std::string_view::npos) {
        if (!IEquals(StripSpaces(args.substr(gap + 1)), "LAST")) {
          return absl::InvalidArgumentError("Syntax: BDAT chunk-size [LAST]");
        }
        command.last = true;
      }
      return command;
    }
    case Verb::kAuth: {
      const std::string_view args = StripSpaces(rest);
      const size_t gap = args.find(' ');
      const std::string_view mechanism = args.substr(0, gap);
      if (mechanism.empty()) return absl::InvalidArgumentError("Syntax: AUTH mechanism");
      command.argument = absl::AsciiStrToUpper(Absl(mechanism));
      if (gap != std::string_view::npos) {
        const std::string_view response = StripSpaces(args.substr(gap + 1));
        if (response.empty() || response.find(' ') != std::string_view::npos) {
          return absl::InvalidArgumentError("Syntax: AUTH mechanism [initial-response]");
        }
        command.initial_response = std::string(response);
        command.has_initial_response = true;
      }
      return command;
    }
  }
  return command;
}

}  // namespace sluice::smtp
