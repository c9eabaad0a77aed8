#include "smtp/server_session.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "smtp/command.h"
#include "smtp/command_arguments.h"
#include "smtp/ehlo_reply.h"
#include "smtp/reply.h"

namespace sluice::smtp {
namespace {

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IEquals(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(Absl(a), Absl(b));
}

DataReader::Limits BodyLimits(const ServerOptions& options) {
  DataReader::Limits limits;
  limits.max_line_length = options.max_text_line;
  limits.max_size = options.max_message_size;
  limits.normalize_bare_lf = options.normalize_bare_lf;
  return limits;
}

}  // namespace

MessageResult MessageResult::Accepted(std::string_view queue_id) {
  return {250, "2.0.0", absl::StrCat("Ok: queued as ", Absl(queue_id))};
}

MessageResult MessageResult::TemporaryFailure(std::string_view text) {
  return {451, "4.3.0", std::string(text)};
}

MessageResult MessageResult::InsufficientStorage() {
  return {452, "4.3.1", "Insufficient system storage"};
}

MessageResult MessageResult::PermanentFailure(std::string_view text, int code,
                                              std::string_view enhanced) {
  return {code, std::string(enhanced), std::string(text)};
}

ServerSession::ServerSession(const ServerOptions& options, ServerPolicy* policy)
    : options_(options),
      policy_(policy != nullptr ? policy : &default_policy_),
      tls_active_(options.implicit_tls),
      body_(BodyLimits(options)) {}

void ServerSession::Start() { Reply(220, "", absl::StrCat(options_.hostname, " ESMTP")); }

ServerAction ServerSession::Refuse(std::string_view text) {
  Reply(554, "5.7.1", text);
  state_ = State::kClosed;
  pending_.clear();
  return action();
}

ServerAction ServerSession::Shutdown(std::string_view text) {
  if (state_ != State::kClosed) {
    Reply(421, "4.4.2", absl::StrCat(options_.hostname, " ", Absl(text)));
    state_ = State::kClosed;
  }
  pending_.clear();
  return action();
}

std::string ServerSession::TakeOutput() {
  std::string out;
  out.swap(output_);
  return out;
}

ServerAction ServerSession::action() const {
  switch (state_) {
    case State::kAwaitAuth:
      return ServerAction::kAuthenticate;
    case State::kAwaitRecipient:
      return ServerAction::kCheckRecipient;
    case State::kAwaitMessage:
      return ServerAction::kMessage;
    case State::kTlsPending:
      return ServerAction::kStartTls;
    case State::kClosed:
      return ServerAction::kClose;
    case State::kCommand:
    case State::kAuthResponse:
    case State::kData:
    case State::kBdat:
      break;
  }
  return ServerAction::kReadMore;
}

std::string_view ServerSession::protocol() const {
  if (!esmtp_) return "SMTP";
  const int index = (tls_active_ ? 2 : 0) + (authenticated() ? 1 : 0);
  static constexpr std::string_view kEsmtp[] = {"ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA"};
  static constexpr std::string_view kUtf8[] = {"UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA"};
  return envelope_.smtputf8 ? kUtf8[index] : kEsmtp[index];
}

ServerAction ServerSession::Feed(std::string_view bytes) {
  if (state_ == State::kClosed || state_ == State::kTlsPending) return action();
  if (pending_.empty()) {
    const size_t used = Process(bytes);
    if (used < bytes.size()) pending_.assign(bytes.substr(used));
    return action();
  }
  // Input is left over only as a partial line, or because the session
  // waits. In the first case, while no line end arrives, only the limit
  // needs checking (keeps byte-at-a-time input linear).
  if ((state_ == State::kCommand || state_ == State::kAuthResponse) && !skipping_long_line_ &&
      bytes.find('\n') == std::string_view::npos && pending_.size() + bytes.size() < LineLimit()) {
    pending_.append(bytes);
    return action();
  }
  pending_.append(bytes);
  return Resume();
}

ServerAction ServerSession::Resume() {
  if (!pending_.empty()) {
    std::string input = std::move(pending_);
    pending_.clear();
    const size_t used = Process(input);
    if (used < input.size()) pending_.assign(input, used, std::string::npos);
  }
  return action();
}

size_t ServerSession::Process(std::string_view input) {
  size_t pos = 0;
  while (true) {
    switch (state_) {
      case State::kClosed:
      case State::kTlsPending:
        // After STARTTLS, anything the client pipelined in plaintext is
        // discarded (RFC 3207 5, CVE-2011-0411).
        return input.size();
      case State::kAwaitAuth:
      case State::kAwaitRecipient:
      case State::kAwaitMessage:
        return pos;
      case State::kData:
        pos += body_.ConsumeData(input.substr(pos));
        if (!body_.data_done()) return pos;
        FinishBody();
        break;
      case State::kBdat:
        pos += body_.ConsumeChunk(input.substr(pos));
        if (!body_.chunk_done()) return pos;
        FinishChunk();
        break;
      case State::kCommand:
      case State::kAuthResponse:
        if (pos == input.size()) return pos;
        if (!ReadLine(input, &pos)) return pos;
        break;
    }
  }
}

size_t ServerSession::LineLimit() const {
  if (state_ == State::kAuthResponse || options_.allow_auth) {
    return std::max(options_.max_command_line, options_.max_auth_line);
  }
  return options_.max_command_line;
}

bool ServerSession::ReadLine(std::string_view input, size_t* pos) {
  const std::string_view rest = input.substr(*pos);
  const size_t newline = rest.find('\n');
  if (skipping_long_line_) {
    if (newline == std::string_view::npos) {
      *pos = input.size();
      return false;
    }
    *pos += newline + 1;
    skipping_long_line_ = false;
    if (state_ == State::kAuthResponse) {
      state_ = State::kCommand;
      auth_.Cancel();
    }
    BadCommand(500, "5.5.2", "Error: line too long");
    return true;
  }
  if (newline == std::string_view::npos) {
    if (rest.size() >= LineLimit()) {
      skipping_long_line_ = true;
      *pos = input.size();
    }
    return false;
  }
  *pos += newline + 1;
  HandleLine(rest.substr(0, newline + 1));
  return true;
}

void ServerSession::HandleLine(std::string_view line) {
  const bool crlf = line.size() >= 2 && line[line.size() - 2] == '\r';
  const std::string_view content = line.substr(0, line.size() - (crlf ? 2 : 1));
  // Length first: a partial line past the limit is refused as too long
  // before its end arrives, whatever else is wrong with it.
  std::string_view error;
  if (line.size() > LineLimit()) {
    error = "Error: line too long";
  } else if (!crlf && !options_.normalize_bare_lf) {
    error = "Error: bare LF received; commands must end with CRLF";
  } else if (content.find('\r') != std::string_view::npos) {
    error = "Error: bare CR received";
  } else if (content.find('\0') != std::string_view::npos) {
    error = "Error: NUL octet received";
  }
  if (!error.empty()) {
    if (state_ == State::kAuthResponse) {
      state_ = State::kCommand;
      auth_.Cancel();
    }
    BadCommand(500, "5.5.2", error);
    return;
  }
  if (state_ == State::kAuthResponse) {
    HandleAuthResponse(content);
    return;
  }
  absl::StatusOr<Command> command = ParseCommand(content);
  if (line.size() > options_.max_command_line && (!command.ok() || command->verb != Verb::kAuth)) {
    BadCommand(500, "5.5.2", "Error: line too long");
    return;
  }
  if (!command.ok()) {
    const std::string_view verb = content.substr(0, content.find(' '));
    std::string_view enhanced = "5.5.4";
    if (IEquals(verb, "MAIL")) enhanced = "5.1.7";
    if (IEquals(verb, "RCPT")) enhanced = "5.1.3";
    const absl::string_view message = command.status().message();
    BadCommand(501, enhanced, std::string_view(message.data(), message.size()));
    return;
  }
  HandleCommand(*command);
}

void ServerSession::HandleCommand(const Command& command) {
  switch (command.verb) {
    case Verb::kUnknown:
      BadCommand(500, "5.5.2", "Error: command not recognized");
      return;
    case Verb::kHelo:
    case Verb::kEhlo:
      HandleHelo(command);
      return;
    case Verb::kMail:
      HandleMail(command);
      return;
    case Verb::kRcpt:
      HandleRcpt(command);
      return;
    case Verb::kData:
      HandleData();
      return;
    case Verb::kBdat:
      HandleBdat(command);
      return;
    case Verb::kRset:
      ResetTransaction();
      Reply(250, "2.0.0", "Ok");
      return;
    case Verb::kNoop:
      Reply(250, "2.0.0", "Ok");
      return;
    case Verb::kQuit:
      Reply(221, "2.0.0", "Bye");
      state_ = State::kClosed;
      return;
    case Verb::kVrfy:
      Reply(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery");
      return;
    case Verb::kExpn:
      Reply(502, "5.5.1", "Error: EXPN not implemented");
      return;
    case Verb::kHelp:
      Reply(214, "2.0.0",
            "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
      return;
    case Verb::kStartTls:
      HandleStartTls();
      return;
    case Verb::kAuth:
      HandleAuth(command);
      return;
  }
}

void ServerSession::HandleHelo(const Command& command) {
  ResetTransaction();
  helo_.clear();
  esmtp_ = false;
  const PolicyDecision decision = policy_->CheckHelo(*this, command.argument);
  if (!decision.accept) {
    Reply(decision.code, decision.enhanced, decision.text);
    return;
  }
  helo_ = command.argument;
  if (command.verb == Verb::kHelo) {
    Reply(250, "", options_.hostname);
    return;
  }
  esmtp_ = true;
  Reply(250, "", EhloReplyText(options_, tls_active_));
}

void ServerSession::HandleMail(const Command& command) {
  if (helo_.empty()) return BadCommand(503, "5.5.1", "Error: send HELO/EHLO first");
  if (in_transaction_) return BadCommand(503, "5.5.1", "Error: nested MAIL command");
  if (options_.require_tls && !tls_active_) {
    return Reply(530, "5.7.0", "Must issue a STARTTLS command first");
  }
  if (options_.require_auth && !authenticated()) {
    return Reply(530, "5.7.0", "Authentication required");
  }
  Envelope envelope;
  envelope.mail_from = command.path;
  if (!esmtp_ && !command.params.empty()) {
    return BadCommand(555, "5.5.4", "Error: parameters need EHLO");
  }
  if (std::optional<ParameterError> error = ParseMailParameters(
          command.params, options_.max_message_size, authenticated(), &envelope)) {
    return RefuseParameter(*error);
  }
  if (command.path.utf8 && !envelope.smtputf8) {
    return Reply(553, "5.6.7", "Error: non-ASCII address needs SMTPUTF8");
  }
  envelope_ = std::move(envelope);
  const PolicyDecision decision = policy_->CheckMailFrom(*this, envelope_);
  if (!decision.accept) {
    envelope_ = Envelope();
    return Reply(decision.code, decision.enhanced, decision.text);
  }
  in_transaction_ = true;
  Reply(250, "2.1.0", "Ok");
}

void ServerSession::HandleRcpt(const Command& command) {
  if (!in_transaction_) return BadCommand(503, "5.5.1", "Error: need MAIL command");
  if (body_.chunking()) return BadCommand(503, "5.5.1", "Error: RCPT after BDAT");
  if (envelope_.recipients.size() >= options_.max_recipients) {
    return Reply(452, "4.5.3", "Error: too many recipients");
  }
  Recipient recipient;
  recipient.address = command.path;
  if (!esmtp_ && !command.params.empty()) {
    return BadCommand(555, "5.5.4", "Error: parameters need EHLO");
  }
  if (std::optional<ParameterError> error = ParseRcptParameters(command.params, &recipient)) {
    return RefuseParameter(*error);
  }
  if (command.path.utf8 && !envelope_.smtputf8) {
    return Reply(553, "5.6.7", "Error: non-ASCII address needs SMTPUTF8");
  }
  const PolicyDecision decision = policy_->CheckRcptTo(*this, envelope_, recipient);
  if (!decision.accept) return Reply(decision.code, decision.enhanced, decision.text);
  if (decision.verify) {
    pending_recipient_ = std::move(recipient);
    state_ = State::kAwaitRecipient;
    return;
  }
  envelope_.recipients.push_back(std::move(recipient));
  Reply(250, "2.1.5", "Ok");
}

ServerAction ServerSession::SupplyRecipientResult(const PolicyDecision& decision) {
  if (state_ != State::kAwaitRecipient) return action();
  state_ = State::kCommand;
  if (decision.accept) {
    envelope_.recipients.push_back(std::move(pending_recipient_));
    Reply(250, "2.1.5", "Ok");
  } else {
    Reply(decision.code, decision.enhanced, decision.text);
  }
  pending_recipient_ = Recipient();
  return Resume();
}

void ServerSession::HandleData() {
  if (!in_transaction_) return BadCommand(503, "5.5.1", "Error: need MAIL command");
  if (body_.chunking()) return BadCommand(503, "5.5.1", "Error: DATA not allowed after BDAT");
  if (envelope_.recipients.empty()) {
    return Reply(554, "5.5.1", "Error: no valid recipients");
  }
  Reply(354, "", "End data with <CR><LF>.<CR><LF>");
  StartBody(DataReader::Framing::kDotStuffed);
  state_ = State::kData;
}

void ServerSession::HandleBdat(const Command& command) {
  // RFC 3030 2: the chunk is read (and discarded) whatever the reply.
  const bool discard =
      !esmtp_ || !in_transaction_ || envelope_.recipients.empty() || body_.failed();
  body_.StartChunk(command.chunk_size, command.last, discard);
  if (!discard && !body_.chunking()) StartBody(DataReader::Framing::kChunked);
  state_ = State::kBdat;
}

void ServerSession::FinishChunk() {
  state_ = State::kCommand;
  // CHUNKING is an extension: not after HELO.
  if (!esmtp_) return BadCommand(503, "5.5.1", "Error: send EHLO first");
  if (!in_transaction_) return BadCommand(503, "5.5.1", "Error: need MAIL command");
  if (envelope_.recipients.empty()) return Reply(554, "5.5.1", "Error: no valid recipients");
  if (const std::optional<BodyReceiver::Refusal>& refusal = body_.EndChunk()) {
    // A failed chunk fails the transaction; the rest of the sequence is
    // discarded with the same reply, and its LAST chunk ends it.
    Reply(refusal->code, refusal->enhanced, refusal->text);
    if (body_.last_chunk()) ResetTransaction();
    return;
  }
  if (!body_.last_chunk()) {
    return Reply(250, "2.0.0", absl::StrCat(body_.size(), " octets received"));
  }
  FinishBody();
}

void ServerSession::StartBody(DataReader::Framing framing) {
  body_.Start(framing, policy_->ReceivedHeader(*this, envelope_));
}

void ServerSession::FinishBody() {
  state_ = State::kCommand;
  if (const std::optional<BodyReceiver::Refusal> refusal = body_.refusal()) {
    Reply(refusal->code, refusal->enhanced, refusal->text);
    ResetTransaction();
    return;
  }
  message_.envelope = envelope_;
  message_.body = body_.TakeBody();
  state_ = State::kAwaitMessage;
}

ReceivedMessage ServerSession::TakeMessage() { return std::move(message_); }

ServerAction ServerSession::SupplyMessageResult(const MessageResult& result) {
  if (state_ != State::kAwaitMessage) return action();
  Reply(result.code, result.enhanced, result.text);
  ResetTransaction();
  message_ = ReceivedMessage();
  state_ = State::kCommand;
  return Resume();
}

void ServerSession::HandleStartTls() {
  if (tls_active_) return BadCommand(503, "5.5.1", "Error: TLS already active");
  if (!options_.offer_starttls) return BadCommand(502, "5.5.1", "Error: command not implemented");
  Reply(220, "2.0.0", "Ready to start TLS");
  state_ = State::kTlsPending;
}

ServerAction ServerSession::TlsStarted() {
  if (state_ != State::kTlsPending) return action();
  tls_active_ = true;
  helo_.clear();
  esmtp_ = false;
  auth_user_.clear();
  ResetTransaction();
  pending_.clear();
  skipping_long_line_ = false;
  state_ = State::kCommand;
  return action();
}

void ServerSession::HandleAuth(const Command& command) {
  if (!options_.allow_auth) return BadCommand(503, "5.5.1", "Error: authentication not enabled");
  if (!esmtp_) return BadCommand(503, "5.5.1", "Error: send EHLO first");
  if (authenticated()) return BadCommand(503, "5.5.1", "Error: already authenticated");
  if (in_transaction_) return BadCommand(503, "5.5.1", "Error: MAIL transaction in progress");
  if (options_.require_tls_for_auth && !tls_active_) {
    return Reply(538, "5.7.11", "Encryption required for requested authentication mechanism");
  }
  if (!auth_.Start(command.argument)) {
    return BadCommand(504, "5.5.4", "Error: unsupported authentication mechanism");
  }
  state_ = State::kAuthResponse;
  if (command.has_initial_response) {
    // "=" is an empty initial response (RFC 4954 4).
    return HandleAuthResponse(command.initial_response == "=" ? std::string_view()
                                                              : command.initial_response);
  }
  Reply(334, "", auth_.FirstChallenge());
}

void ServerSession::HandleAuthResponse(std::string_view line) {
  const AuthExchange::Step step = auth_.Respond(line);
  switch (step.outcome) {
    case AuthExchange::Outcome::kChallenge:
      return Reply(334, "", step.text);
    case AuthExchange::Outcome::kComplete:
      state_ = State::kAwaitAuth;
      return;
    case AuthExchange::Outcome::kFailed:
      state_ = State::kCommand;
      return BadCommand(501, step.enhanced, step.text);
  }
}

ServerAction ServerSession::SupplyAuthResult(AuthResult result) {
  if (state_ != State::kAwaitAuth) return action();
  state_ = State::kCommand;
  switch (result) {
    case AuthResult::kAccepted:
      auth_user_ = auth_.request().user;
      Reply(235, "2.7.0", "Authentication successful");
      break;
    case AuthResult::kRejected:
      BadCommand(535, "5.7.8", "Error: authentication failed");
      break;
    case AuthResult::kTemporaryFailure:
      Reply(454, "4.7.0", "Temporary authentication failure");
      break;
  }
  auth_.Clear();
  return Resume();
}

void ServerSession::ResetTransaction() {
  in_transaction_ = false;
  envelope_ = Envelope();
  body_.Reset();
}

void ServerSession::Reply(int code, std::string_view enhanced, std::string_view text) {
  AppendReply(&output_, code, enhanced, text);
  if (code >= 400) policy_->OnRefused(*this, code, enhanced, text);
}

void ServerSession::RefuseParameter(const ParameterError& error) {
  if (error.bad_command) return BadCommand(error.code, error.enhanced, error.text);
  Reply(error.code, error.enhanced, error.text);
}

void ServerSession::BadCommand(int code, std::string_view enhanced, std::string_view text) {
  Reply(code, enhanced, text);
  ++bad_commands_;
  if (options_.max_bad_commands > 0 && bad_commands_ >= options_.max_bad_commands &&
      state_ != State::kClosed) {
    Reply(421, "4.7.0", absl::StrCat(options_.hostname, " Error: too many errors"));
    state_ = State::kClosed;
    pending_.clear();
  }
}

}  // namespace sluice::smtp
