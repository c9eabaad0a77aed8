#include "smtp/client_session.h"

#include <algorithm>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "smtp/client_body.h"
#include "smtp/client_envelope.h"

namespace sluice::smtp {
namespace {

// std::string_view is not absl::string_view in this abseil.
absl::string_view Absl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

RecipientStatus StatusFor(const ServerReply& reply) {
  if (reply.IsPositive()) return RecipientStatus::kDelivered;
  if (reply.IsPermanent()) return RecipientStatus::kPermanentFailure;
  return RecipientStatus::kTemporaryFailure;
}

}  // namespace

ClientSession::ClientSession(const ClientOptions& options)
    : options_(options), parser_(options.reply_limits), tls_active_(options.implicit_tls) {
  pipeline_.Await(Expect::kGreeting);
}

// ---------------------------------------------------------------------------
// Caller entry points.

ClientAction ClientSession::Feed(std::string_view bytes) {
  if (phase_ == Phase::kClosed) return action_;
  parser_.Feed(bytes);
  if (phase_ == Phase::kTlsHandshake) {
    // Clear text fed between the 220 to STARTTLS and TlsStarted().
    if (!bytes.empty()) FailStartTlsInjection();
    return action_ = NextAction();
  }
  return Process();
}

ClientAction ClientSession::PeerClosed() {
  if (phase_ == Phase::kClosed) return action_;
  if (phase_ == Phase::kQuitting) {
    phase_ = Phase::kClosed;
    pipeline_.Forget();
    return action_ = NextAction();
  }
  std::string text;
  if (!pipeline_.waiting()) {
    text = "connection closed by the server";
  } else {
    text = absl::StrCat("lost connection with the server while waiting for the reply to ",
                        Absl(ClientWaitName(current_wait())));
    if (parser_.InsideReply()) text += " (in the middle of a reply)";
  }
  FailConnection(ServerReply::Local(451, "4.4.2", text), text, /*permanent=*/false,
                 /*send_quit=*/false);
  return action_ = NextAction();
}

ClientAction ClientSession::TimedOut() {
  if (phase_ == Phase::kClosed) return action_;
  if (phase_ == Phase::kQuitting) {
    phase_ = Phase::kClosed;
    pipeline_.Forget();
    return action_ = NextAction();
  }
  const std::string text =
      !pipeline_.waiting()
          ? std::string("connection timed out while idle")
          : absl::StrCat("timeout waiting for the reply to ", Absl(ClientWaitName(current_wait())));
  FailConnection(ServerReply::Local(451, "4.4.2", text), text, false, false);
  return action_ = NextAction();
}

ClientAction ClientSession::TlsStarted() {
  if (phase_ != Phase::kTlsHandshake) return action_;
  tls_active_ = true;
  // RFC 3207 4.2: forget everything learnt before TLS and say EHLO again.
  caps_ = ServerCapabilities();
  helo_fallback_ = false;
  phase_ = Phase::kConnecting;
  Send(absl::StrCat("EHLO ", options_.helo_name), Expect::kEhlo);
  return action_ = NextAction();
}

ClientAction ClientSession::TlsFailed(std::string_view why) {
  if (phase_ != Phase::kTlsHandshake) return action_;
  const std::string text = absl::StrCat("TLS handshake failed: ", Absl(why));
  FailConnection(ServerReply::Local(451, "4.7.5", text), text, false, false);
  return action_ = NextAction();
}

ClientAction ClientSession::SendMessage(const OutboundMessage& message) {
  ABSL_RAW_CHECK(!result_.has_value(), "SendMessage() before TakeResult()");
  if (phase_ != Phase::kReady || pipeline_.waiting()) {
    return RefuseMessage(message, RecipientStatus::kTemporaryFailure,
                         ServerReply::Local(451, "4.3.0", "SMTP session not ready for a message"));
  }
  if (message.recipients.empty()) {
    return RefuseMessage(message, RecipientStatus::kPermanentFailure,
                         ServerReply::Local(554, "5.5.1", "message has no recipients"));
  }
  if (std::optional<ServerReply> refusal =
          EnvelopeRefusal(message, caps_, options_.strict_8bitmime)) {
    return RefuseMessage(message, RecipientStatus::kPermanentFailure, *refusal);
  }

  Transaction& tx = transaction_.emplace();
  tx.message = message;
  if (IsCanonicalBody(message.body)) {
    tx.body = message.body;
  } else {
    tx.canonical = CanonicalizeBody(message.body);
    tx.body = tx.canonical;
  }
  if (caps_.size && caps_.max_size > 0 && tx.body.size() > caps_.max_size) {
    const std::string text = absl::StrCat("message size ", tx.body.size(),
                                          " exceeds the server's limit of ", caps_.max_size);
    transaction_.reset();
    return RefuseMessage(message, RecipientStatus::kPermanentFailure,
                         ServerReply::Local(552, "5.3.4", text));
  }
  const size_t count = message.recipients.size();
  tx.result.recipients.resize(count);
  tx.decided.assign(count, false);
  tx.pipelined = caps_.pipelining && options_.use_pipelining;
  tx.bdat = caps_.chunking && options_.use_chunking;
  phase_ = Phase::kTransaction;

  tx.mail_line = MailFromLine(message, caps_, tx.body.size());

  if (needs_rset_) {
    needs_rset_ = false;
    Send("RSET", Expect::kRset);
    if (!tx.pipelined) return action_ = NextAction();  // MAIL after RSET's reply
  }
  SendMailBatch();
  return action_ = NextAction();
}

DeliveryResult ClientSession::TakeResult() {
  DeliveryResult result;
  if (result_.has_value()) {
    result = std::move(*result_);
    result_.reset();
  }
  action_ = NextAction();
  return result;
}

ClientAction ClientSession::Quit() {
  if (phase_ == Phase::kClosed || phase_ == Phase::kQuitting) return action_;
  if (phase_ == Phase::kTransaction) {
    const std::string text = "delivery aborted by the client";
    FailConnection(ServerReply::Local(451, "4.3.0", text), text, false, /*send_quit=*/true);
    return action_ = NextAction();
  }
  pipeline_.Forget();
  if (phase_ == Phase::kTlsHandshake) {
    phase_ = Phase::kClosed;  // nothing may go out in clear text now
    return action_ = NextAction();
  }
  Send("QUIT", Expect::kQuit);
  phase_ = Phase::kQuitting;
  return action_ = NextAction();
}

ClientWait ClientSession::current_wait() const {
  if (phase_ == Phase::kClosed || phase_ == Phase::kTlsHandshake) return ClientWait::kNone;
  return pipeline_.wait();
}

absl::Duration ClientSession::current_timeout() const {
  return ClientWaitTimeout(current_wait(), options_.timeouts);
}

absl::Duration ClientSession::write_timeout() const {
  if (pipeline_.has_data()) return options_.timeouts.data_block;
  const ClientWait wait = current_wait();
  return wait == ClientWait::kNone ? options_.timeouts.command
                                   : ClientWaitTimeout(wait, options_.timeouts);
}

std::string ClientSession::TakeOutput() { return pipeline_.TakeOutput(); }

// ---------------------------------------------------------------------------
// Replies.

ClientAction ClientSession::Process() {
  while (phase_ != Phase::kClosed && phase_ != Phase::kTlsHandshake) {
    absl::StatusOr<std::optional<ServerReply>> next = parser_.Next();
    if (!next.ok()) {
      const std::string text =
          absl::StrCat("malformed reply from the server: ", next.status().message());
      FailConnection(ServerReply::Local(451, "4.5.0", text), text, false, false);
      break;
    }
    if (!next->has_value()) break;
    const ServerReply& reply = **next;
    if (transaction_.has_value()) Transcript("S: ", reply.ToString());
    if (!pipeline_.waiting()) {
      if (reply.code == 421) {
        FailConnection(reply, absl::StrCat("server closed the connection: ", reply.ToString()),
                       false, false);
      } else {
        FailConnection(
            reply, absl::StrCat("unexpected reply with no command outstanding: ", reply.ToString()),
            false, false);
      }
      break;
    }
    HandleReply(pipeline_.Pop(), reply);
  }
  return action_ = NextAction();
}

void ClientSession::HandleReply(const Pending& pending, const ServerReply& reply) {
  if (reply.code == 421 && pending.expect != Expect::kQuit) {
    FailConnection(reply, absl::StrCat("server closed the connection: ", reply.ToString()), false,
                   false);
    return;
  }
  switch (pending.expect) {
    case Expect::kGreeting:
      return HandleGreeting(reply);
    case Expect::kEhlo:
      return HandleEhlo(reply);
    case Expect::kHelo:
      return HandleHelo(reply);
    case Expect::kStartTls:
      return HandleStartTls(reply);
    case Expect::kRset:
      return HandleRset(reply);
    case Expect::kMail:
      return HandleMail(reply);
    case Expect::kRcpt:
      return HandleRcpt(pending.index, reply);
    case Expect::kData:
      return HandleData(reply);
    case Expect::kDataEnd:
      return HandleDataEnd(reply);
    case Expect::kBdat:
      return HandleBdat(/*last=*/false, reply);
    case Expect::kBdatLast:
      return HandleBdat(/*last=*/true, reply);
    case Expect::kQuit:
      return HandleQuit(reply);
  }
}

void ClientSession::Unexpected(std::string_view after, const ServerReply& reply) {
  FailConnection(reply, absl::StrCat("unexpected reply to ", Absl(after), ": ", reply.ToString()),
                 false, false);
}

void ClientSession::HandleGreeting(const ServerReply& reply) {
  if (reply.IsPositive()) {
    Send(absl::StrCat("EHLO ", options_.helo_name), Expect::kEhlo);
  } else if (reply.IsTransient() || reply.IsPermanent()) {
    // RFC 5321 3.1: after a 554 greeting the server waits for QUIT.
    FailConnection(reply, absl::StrCat("server refused the connection: ", reply.ToString()),
                   reply.IsPermanent(), /*send_quit=*/reply.IsPermanent());
  } else {
    Unexpected("the connection", reply);
  }
}

void ClientSession::HandleEhlo(const ServerReply& reply) {
  if (reply.IsPositive()) {
    caps_ = ParseEhloReply(reply);
    AfterHello();
  } else if (reply.IsPermanent() && !helo_fallback_) {
    helo_fallback_ = true;
    Send(absl::StrCat("HELO ", options_.helo_name), Expect::kHelo);
  } else if (reply.IsTransient()) {
    FailConnection(reply, absl::StrCat("EHLO refused: ", reply.ToString()), false, true);
  } else {
    Unexpected("EHLO", reply);
  }
}

void ClientSession::HandleHelo(const ServerReply& reply) {
  if (reply.IsPositive()) {
    caps_ = ServerCapabilities();
    caps_.server_name = reply.lines.empty() ? std::string() : reply.lines[0];
    AfterHello();
  } else if (reply.IsTransient() || reply.IsPermanent()) {
    FailConnection(reply, absl::StrCat("HELO refused: ", reply.ToString()), reply.IsPermanent(),
                   true);
  } else {
    Unexpected("HELO", reply);
  }
}

void ClientSession::AfterHello() {
  if (!tls_active_ && options_.tls != TlsPolicy::kNever && caps_.starttls) {
    Send("STARTTLS", Expect::kStartTls);
    return;
  }
  if (!tls_active_ && options_.tls == TlsPolicy::kRequire) {
    const std::string text = "TLS is required, but the server does not offer STARTTLS";
    FailConnection(ServerReply::Local(451, "4.7.4", text), text, false, true);
    return;
  }
  phase_ = Phase::kReady;
}

void ClientSession::HandleStartTls(const ServerReply& reply) {
  if (reply.IsPositive()) {
    if (parser_.buffered() > 0) return FailStartTlsInjection();
    phase_ = Phase::kTlsHandshake;
  } else if (reply.IsTransient() || reply.IsPermanent()) {
    if (options_.tls == TlsPolicy::kRequire) {
      FailConnection(reply,
                     absl::StrCat("STARTTLS refused, and TLS is required: ", reply.ToString()),
                     false, true);
    } else {
      phase_ = Phase::kReady;  // go on in clear text
    }
  } else {
    Unexpected("STARTTLS", reply);
  }
}

void ClientSession::FailStartTlsInjection() {
  // Clear text after the 220 would be taken as coming from inside TLS (the
  // client side of CVE-2011-0411): refuse it.
  const std::string text = "server sent data after its STARTTLS reply";
  FailConnection(ServerReply::Local(451, "4.5.0", text), text, false, false);
}

void ClientSession::HandleRset(const ServerReply& reply) {
  if (!reply.IsPositive()) {
    FailConnection(reply, absl::StrCat("RSET refused: ", reply.ToString()), false, true);
    return;
  }
  // Without pipelining MAIL waited for this reply.
  if (transaction_.has_value() && !transaction_->pipelined) SendMailBatch();
}

void ClientSession::SendMailBatch() {
  Transaction& tx = *transaction_;
  Send(tx.mail_line, Expect::kMail);
  if (!tx.pipelined) return;
  for (size_t i = 0; i < tx.message.recipients.size(); ++i) SendRcpt(i);
  tx.next_rcpt = tx.message.recipients.size();
  if (!tx.bdat) {
    Send("DATA", Expect::kData);
    tx.data_pending = true;
  }
}

void ClientSession::SendRcpt(size_t index) {
  Send(RcptToLine(transaction_->message.recipients[index], caps_), Expect::kRcpt, index);
}

void ClientSession::HandleMail(const ServerReply& reply) {
  if (!transaction_.has_value()) return Unexpected("MAIL FROM", reply);
  Transaction& tx = *transaction_;
  if (reply.IsPositive()) {
    tx.mail_ok = true;
    if (!tx.pipelined) {
      SendRcpt(0);
      tx.next_rcpt = 1;
    }
  } else if (reply.IsTransient() || reply.IsPermanent()) {
    tx.mail_refused = true;
    tx.refusal = reply;
    DecideUndecided(StatusFor(reply), reply);
    // A refused MAIL opens no transaction; with pipelining the RCPTs and
    // DATA that follow get their (ignored) refusals first.
    if (!tx.pipelined) FinishTransaction(reply, /*clean=*/true);
  } else {
    Unexpected("MAIL FROM", reply);
  }
}

void ClientSession::HandleRcpt(size_t index, const ServerReply& reply) {
  if (!transaction_.has_value()) return Unexpected("RCPT TO", reply);
  Transaction& tx = *transaction_;
  ++tx.rcpt_replies;
  if (!tx.mail_refused) {
    if (reply.IsPositive()) {
      ++tx.accepted;
    } else if (reply.IsTransient() || reply.IsPermanent()) {
      tx.result.recipients[index] = {StatusFor(reply), reply};
      tx.decided[index] = true;
      tx.refusal = reply;
    } else {
      return Unexpected("RCPT TO", reply);
    }
  }
  const size_t count = tx.message.recipients.size();
  if (!tx.pipelined && tx.next_rcpt < count) {
    SendRcpt(tx.next_rcpt++);
    return;
  }
  if (tx.rcpt_replies == count) AfterRecipients();
}

void ClientSession::AfterRecipients() {
  Transaction& tx = *transaction_;
  if (tx.data_pending) return;  // pipelined DATA: its reply decides
  if (tx.mail_refused) return FinishTransaction(tx.refusal, /*clean=*/false);
  if (tx.accepted == 0) return FinishTransaction(tx.refusal, /*clean=*/false);
  if (tx.bdat) return SendBdatChunks();
  Send("DATA", Expect::kData);
}

void ClientSession::HandleData(const ServerReply& reply) {
  if (!transaction_.has_value()) return Unexpected("DATA", reply);
  Transaction& tx = *transaction_;
  tx.data_pending = false;
  const bool deliverable = tx.mail_ok && !tx.mail_refused && tx.accepted > 0;
  if (reply.IsIntermediate()) {
    if (deliverable) {
      tx.result.data_sent = true;
      pipeline_.WriteDotStuffed(tx.body);
      Transcript("C: ", absl::StrCat("<", tx.body.size(), " octets of message data>"));
    } else {
      // A server that says 354 without a recipient: end the empty message.
      tx.aborting = true;
      pipeline_.Write(".\r\n");
      Transcript("C: ", ".");
    }
    pipeline_.Await(Expect::kDataEnd);
  } else if (reply.IsTransient() || reply.IsPermanent()) {
    if (deliverable) {
      DecideUndecided(StatusFor(reply), reply);
      FinishTransaction(reply, /*clean=*/false);
    } else {
      // The pipelined DATA after no accepted recipient: its refusal was expected.
      FinishTransaction(tx.refusal, /*clean=*/false);
    }
  } else {
    Unexpected("DATA", reply);
  }
}

void ClientSession::HandleDataEnd(const ServerReply& reply) {
  if (!transaction_.has_value()) return Unexpected("end of data", reply);
  Transaction& tx = *transaction_;
  if (tx.aborting) return FinishTransaction(tx.refusal, /*clean=*/false);
  if (reply.IsIntermediate()) return Unexpected("end of data", reply);
  ++messages_sent_;
  DecideUndecided(StatusFor(reply), reply);
  FinishTransaction(reply, /*clean=*/true);
}

void ClientSession::SendBdatChunks() {
  Transaction& tx = *transaction_;
  tx.result.data_sent = true;
  do {
    const size_t remaining = tx.body.size() - tx.bdat_sent;
    const size_t chunk =
        options_.bdat_chunk_size == 0 ? remaining : std::min(remaining, options_.bdat_chunk_size);
    const bool last = chunk == remaining;
    Send(absl::StrCat("BDAT ", chunk, last ? " LAST" : ""),
         last ? Expect::kBdatLast : Expect::kBdat);
    pipeline_.WriteData(tx.body.substr(tx.bdat_sent, chunk));
    tx.bdat_sent += chunk;
    if (last) break;
  } while (tx.pipelined);
}

void ClientSession::HandleBdat(bool last, const ServerReply& reply) {
  if (!transaction_.has_value()) return Unexpected("BDAT", reply);
  Transaction& tx = *transaction_;
  if (tx.data_failed) {
    // Pipelined chunks after a refused one: wait for the last reply.
    if (last) FinishTransaction(tx.refusal, /*clean=*/false);
    return;
  }
  if (reply.IsPositive()) {
    if (last) {
      ++messages_sent_;
      DecideUndecided(RecipientStatus::kDelivered, reply);
      FinishTransaction(reply, /*clean=*/true);
    } else if (!tx.pipelined) {
      SendBdatChunks();
    }
  } else if (reply.IsTransient() || reply.IsPermanent()) {
    // RFC 3030 4: a refused chunk fails the transaction; send no more.
    tx.data_failed = true;
    tx.refusal = reply;
    DecideUndecided(StatusFor(reply), reply);
    if (last || !tx.pipelined) FinishTransaction(reply, /*clean=*/false);
  } else {
    Unexpected("BDAT", reply);
  }
}

void ClientSession::HandleQuit(const ServerReply& /*reply*/) {
  // Whatever the server says, the session is over.
  phase_ = Phase::kClosed;
  pipeline_.Forget();
}

// ---------------------------------------------------------------------------
// Helpers.

void ClientSession::Send(std::string_view line, Expect expect, size_t index) {
  pipeline_.Send(line, expect, index);
  if (transaction_.has_value()) Transcript("C: ", line);
}

void ClientSession::Transcript(std::string_view prefix, std::string_view text) {
  if (!options_.record_transcript || !transaction_.has_value()) return;
  std::string& transcript = transaction_->result.transcript;
  if (!transcript.empty()) transcript.push_back('\n');
  transcript.append(prefix);
  transcript.append(text);
}

void ClientSession::DecideUndecided(RecipientStatus status, const ServerReply& reply) {
  Transaction& tx = *transaction_;
  for (size_t i = 0; i < tx.decided.size(); ++i) {
    if (tx.decided[i]) continue;
    tx.result.recipients[i] = {status, reply};
    tx.decided[i] = true;
  }
}

void ClientSession::FinishTransaction(const ServerReply& final_reply, bool clean) {
  // Copy first: `final_reply` may live inside the transaction.
  ServerReply reply = final_reply;
  DecideUndecided(StatusFor(reply), reply);
  transaction_->result.final_reply = std::move(reply);
  result_ = std::move(transaction_->result);
  transaction_.reset();
  needs_rset_ = !clean;
  phase_ = Phase::kReady;
}

ClientAction ClientSession::RefuseMessage(const OutboundMessage& message, RecipientStatus status,
                                          const ServerReply& reply) {
  DeliveryResult result;
  result.recipients.assign(message.recipients.size(), RecipientResult{status, reply});
  result.final_reply = reply;
  if (options_.record_transcript) result.transcript = absl::StrCat("local: ", reply.ToString());
  result_ = std::move(result);
  return action_ = NextAction();
}

void ClientSession::FailConnection(ServerReply reply, std::string text, bool permanent,
                                   bool send_quit) {
  if (transaction_.has_value()) {
    DecideUndecided(RecipientStatus::kTemporaryFailure, reply);
    transaction_->result.final_reply = reply;
    result_ = std::move(transaction_->result);
    transaction_.reset();
  }
  failure_ = ClientFailure{permanent, std::move(reply), std::move(text)};
  pipeline_.Forget();
  if (send_quit) pipeline_.Write("QUIT\r\n");
  phase_ = Phase::kClosed;
}

ClientAction ClientSession::NextAction() {
  if (result_.has_value()) return ClientAction::kMessageDone;
  switch (phase_) {
    case Phase::kClosed:
      return ClientAction::kClosed;
    case Phase::kTlsHandshake:
      return ClientAction::kStartTls;
    case Phase::kReady:
      return pipeline_.waiting() ? ClientAction::kReadMore : ClientAction::kReadyForMessage;
    case Phase::kConnecting:
    case Phase::kTransaction:
    case Phase::kQuitting:
      return ClientAction::kReadMore;
  }
  return ClientAction::kClosed;
}

}  // namespace sluice::smtp
