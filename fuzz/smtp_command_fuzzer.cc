// libFuzzer target: the SMTP command parser and the server session.
//
// Input: one flags octet (session options and the split step), then the
// client's bytes. Checks, besides the sanitizers:
//  - every parsed MAIL/RCPT path re-parses to the same address;
//  - the session's replies and messages do not depend on how the bytes were
//    split (all at once versus pieces of 1..32 octets);
//  - every reply line is well-formed: three digits, ' ' or '-', CRLF.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/address.h"
#include "smtp/command.h"
#include "smtp/server_session.h"

namespace {

using sluice::smtp::ServerAction;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

struct Outcome {
  std::string output;
  std::vector<std::string> bodies;
  bool operator==(const Outcome& other) const {
    return output == other.output && bodies == other.bodies;
  }
};

Outcome Run(const sluice::smtp::ServerOptions& options, std::string_view input, size_t step) {
  sluice::smtp::ServerSession session(options, nullptr);
  Outcome outcome;
  session.Start();
  size_t pos = 0;
  while (pos < input.size()) {
    const size_t take = std::min(step, input.size() - pos);
    ServerAction action = session.Feed(input.substr(pos, take));
    pos += take;
    bool closed = false;
    while (action != ServerAction::kReadMore && !closed) {
      switch (action) {
        case ServerAction::kAuthenticate:
          action = session.SupplyAuthResult(session.auth_request().user == "u"
                                                ? sluice::smtp::AuthResult::kAccepted
                                                : sluice::smtp::AuthResult::kRejected);
          break;
        case ServerAction::kCheckRecipient:
          action = session.SupplyRecipientResult(sluice::smtp::PolicyDecision::Accept());
          break;
        case ServerAction::kMessage:
          outcome.bodies.push_back(session.TakeMessage().body);
          action = session.SupplyMessageResult(sluice::smtp::MessageResult::Accepted("Q"));
          break;
        case ServerAction::kStartTls:
          action = session.TlsStarted();
          break;
        case ServerAction::kClose:
          closed = true;
          break;
        case ServerAction::kReadMore:
          break;
      }
    }
    outcome.output += session.TakeOutput();
    if (closed) break;
  }
  return outcome;
}

void CheckReplies(std::string_view output) {
  while (!output.empty()) {
    const size_t end = output.find("\r\n");
    Check(end != std::string_view::npos);
    const std::string_view line = output.substr(0, end);
    Check(line.size() >= 4);
    for (int i = 0; i < 3; ++i) Check(line[i] >= '0' && line[i] <= '9');
    Check(line[3] == ' ' || line[3] == '-');
    Check(line.find('\r') == std::string_view::npos && line.find('\n') == std::string_view::npos);
    output.remove_prefix(end + 2);
  }
}

void FuzzParser(std::string_view input) {
  while (!input.empty()) {
    const size_t newline = input.find('\n');
    std::string_view line = input.substr(0, newline);
    input.remove_prefix(newline == std::string_view::npos ? input.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    absl::StatusOr<sluice::smtp::Command> command = sluice::smtp::ParseCommand(line);
    if (!command.ok()) continue;
    if (command->verb != sluice::smtp::Verb::kMail && command->verb != sluice::smtp::Verb::kRcpt) {
      continue;
    }
    const sluice::smtp::Address& path = command->path;
    const std::string again = "<" + path.ToString() + ">";
    sluice::smtp::PathOptions options;
    options.allow_null = true;
    options.allow_postmaster = true;
    size_t consumed = 0;
    absl::StatusOr<sluice::smtp::Address> reparsed =
        sluice::smtp::ParsePath(again, options, &consumed);
    Check(reparsed.ok());
    Check(consumed == again.size());
    Check(reparsed->local_part == path.local_part && reparsed->domain == path.domain &&
          reparsed->utf8 == path.utf8);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  FuzzParser(input);

  sluice::smtp::ServerOptions options;
  options.hostname = "fuzz.test";
  options.max_message_size = 4096;
  options.max_recipients = 5;
  options.max_command_line = (flags & 1) != 0 ? 64 : 1000;
  options.max_auth_line = (flags & 1) != 0 ? 128 : 12288;
  options.max_text_line = (flags & 1) != 0 ? 64 : 1000;
  options.normalize_bare_lf = (flags & 2) != 0;
  options.max_bad_commands = (flags & 4) != 0 ? 3 : 0;
  options.allow_auth = true;
  options.require_tls_for_auth = false;
  const size_t step = (flags >> 3) + 1;

  const Outcome whole = Run(options, input, input.size() + 1);
  const Outcome split = Run(options, input, step);
  Check(whole == split);
  CheckReplies(whole.output);
  return 0;
}
