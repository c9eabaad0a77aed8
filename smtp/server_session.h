// ServerSession: the server side of one SMTP connection, sans-IO.
//
// Bytes in (Feed), replies out (output()), and between them a few points
// where the caller must act: verify AUTH credentials, store a complete
// message, start TLS, close. No sockets, clock or threads; one session
// belongs to one connection on one shard.
//
// Protocol: RFC 5321 with PIPELINING (2920), SIZE (1870), 8BITMIME (6152),
// SMTPUTF8 (6531), CHUNKING/BDAT (3030), DSN (3461), ENHANCEDSTATUSCODES
// (2034, 3463), STARTTLS (3207), AUTH PLAIN and LOGIN (4954).
//
// Use:
//   session.Start();                        // 220 greeting into output()
//   loop:
//     write(session.TakeOutput());
//     switch (action) {
//       kReadMore:     action = session.Feed(read());
//       kAuthenticate: check session.auth_request();
//                      action = session.SupplyAuthResult(result);
//       kCheckRecipient: look session.pending_recipient() up;
//                      action = session.SupplyRecipientResult(decision);
//       kMessage:      spool session.TakeMessage();
//                      action = session.SupplyMessageResult(result);
//       kStartTls:     handshake; action = session.TlsStarted();
//       kClose:        close.
//     }
// The caller must flush output() before reading more (kReadMore), before a
// TLS handshake (kStartTls) and before closing (kClose); it may flush at the
// other points. Replies to pipelined commands accumulate in output() until
// the input fed so far is used up, which is the batching RFC 2920 wants.
// While the session waits (kAuthenticate, kCheckRecipient, kMessage) it
// consumes nothing;
// bytes fed meanwhile are kept and processed on resumption, so the caller
// should stop reading until it has answered.
//
// Errors: every protocol error is a reply, never a crash or a Status.
// Smuggling: only <CRLF>.<CRLF> ends DATA; bare LF, bare CR and NUL refuse
// the command (500) or the message (550, after its real end) unless
// ServerOptions::normalize_bare_lf. Input pipelined after STARTTLS is
// discarded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "smtp/auth_exchange.h"
#include "smtp/body_receiver.h"
#include "smtp/data_reader.h"
#include "smtp/envelope.h"
#include "smtp/server_options.h"
#include "smtp/server_policy.h"

namespace sluice::smtp {

struct Command;
struct ParameterError;

enum class ServerAction {
  kReadMore,      // input used up: flush output(), Feed() more
  kAuthenticate,  // verify auth_request(), then SupplyAuthResult()
  // The policy asked to look pending_recipient() up (PolicyDecision::Verify):
  // then SupplyRecipientResult().
  kCheckRecipient,
  kMessage,   // TakeMessage(), store it, then SupplyMessageResult()
  kStartTls,  // flush output(), run the TLS handshake, then TlsStarted()
  kClose,     // flush output(), close the connection
};

enum class AuthResult {
  kAccepted,          // 235 2.7.0
  kRejected,          // 535 5.7.8 (counts as a bad command)
  kTemporaryFailure,  // 454 4.7.0
};

struct ReceivedMessage {
  Envelope envelope;
  // ServerPolicy::ReceivedHeader() followed by the unstuffed body, CRLF
  // line endings.
  std::string body;
};

// The reply to the end of DATA / BDAT LAST.
struct MessageResult {
  int code = 250;
  std::string enhanced = "2.0.0";
  std::string text;

  // 250 2.0.0 Ok: queued as <queue_id>
  static MessageResult Accepted(std::string_view queue_id);
  // 451 4.3.0 <text>
  static MessageResult TemporaryFailure(std::string_view text = "Error: queue file write error");
  // 452 4.3.1 Insufficient system storage
  static MessageResult InsufficientStorage();
  // 554 5.6.0 <text> (or another 5xx code)
  static MessageResult PermanentFailure(std::string_view text, int code = 554,
                                        std::string_view enhanced = "5.6.0");
};

class ServerSession {
 public:
  // `policy` may be null (accept everything); it must outlive the session.
  ServerSession(const ServerOptions& options, ServerPolicy* policy);
  ServerSession(const ServerSession&) = delete;
  ServerSession& operator=(const ServerSession&) = delete;

  // Writes the 220 greeting (after the handshake, with implicit TLS).
  void Start();
  // Refuses the connection: 554 5.7.1 <text>, then kClose (RFC 5321 3.1).
  ServerAction Refuse(std::string_view text);
  // The caller gives up (timeout, shutdown): 421 4.4.2 <hostname> <text>,
  // then kClose.
  ServerAction Shutdown(std::string_view text);

  // Processes `bytes` (any split) as far as the session can go.
  ServerAction Feed(std::string_view bytes);
  // What the caller must do next (the value the last call returned).
  ServerAction action() const;

  // Replies not yet taken.
  const std::string& output() const { return output_; }
  std::string TakeOutput();

  // kAuthenticate.
  const AuthRequest& auth_request() const { return auth_.request(); }
  ServerAction SupplyAuthResult(AuthResult result);

  // kCheckRecipient: the RCPT the policy accepted pending a lookup, and
  // the lookup's answer (Accept: 250, or a refusal's reply).
  const Recipient& pending_recipient() const { return pending_recipient_; }
  ServerAction SupplyRecipientResult(const PolicyDecision& decision);

  // kMessage. TakeMessage() moves the message out (call it once).
  ReceivedMessage TakeMessage();
  ServerAction SupplyMessageResult(const MessageResult& result);

  // kStartTls: the handshake succeeded. Resets the session to the state
  // before EHLO (RFC 3207 4.2); no greeting is sent. On failure, close.
  ServerAction TlsStarted();

  // What a Received header reports.
  const std::string& helo_name() const { return helo_; }
  bool esmtp() const { return esmtp_; }
  bool tls_active() const { return tls_active_; }
  bool authenticated() const { return !auth_user_.empty(); }
  const std::string& auth_user() const { return auth_user_; }
  // RFC 3848 / RFC 6531 "with" keyword: SMTP, ESMTP, ESMTPA, ESMTPS,
  // ESMTPSA, UTF8SMTP, UTF8SMTPA, UTF8SMTPS, UTF8SMTPSA.
  std::string_view protocol() const;
  // The transaction in progress (for policy objects and diagnostics).
  const Envelope& envelope() const { return envelope_; }
  int bad_commands() const { return bad_commands_; }
  // Octets fed but not yet consumed (a partial line, or input that arrived
  // while the session waits); a listener may stop reading past a bound.
  size_t buffered_input() const { return pending_.size(); }

 private:
  enum class State {
    kCommand,
    kAuthResponse,  // waiting for a base64 line of an AUTH exchange
    kData,
    kBdat,
    kAwaitAuth,
    kAwaitRecipient,
    kAwaitMessage,
    kTlsPending,
    kClosed,
  };

  // Processes the kept input after a wait.
  ServerAction Resume();
  size_t Process(std::string_view input);
  // Returns false when `input` holds no complete line yet.
  bool ReadLine(std::string_view input, size_t* pos);
  void HandleLine(std::string_view line);
  void HandleCommand(const Command& command);
  void HandleHelo(const Command& command);
  void HandleMail(const Command& command);
  void HandleRcpt(const Command& command);
  void HandleData();
  void HandleBdat(const Command& command);
  void HandleStartTls();
  void HandleAuth(const Command& command);
  void HandleAuthResponse(std::string_view line);
  void FinishAuthExchange(std::string_view response);
  void FinishChunk();
  void FinishBody();
  void StartBody(DataReader::Framing framing);
  void ResetTransaction();
  size_t LineLimit() const;

  void Reply(int code, std::string_view enhanced, std::string_view text);
  // A refused MAIL or RCPT parameter: a bad command unless it is only too big.
  void RefuseParameter(const ParameterError& error);
  // A syntax or sequence error: replies and counts towards max_bad_commands.
  void BadCommand(int code, std::string_view enhanced, std::string_view text);

  const ServerOptions options_;
  ServerPolicy default_policy_;
  ServerPolicy* const policy_;

  State state_ = State::kCommand;
  std::string pending_;  // input fed but not consumed
  std::string output_;
  bool skipping_long_line_ = false;
  int bad_commands_ = 0;

  std::string helo_;
  bool esmtp_ = false;
  bool tls_active_ = false;
  std::string auth_user_;
  AuthExchange auth_;

  bool in_transaction_ = false;
  Envelope envelope_;
  Recipient pending_recipient_;
  BodyReceiver body_;
  ReceivedMessage message_;
};

}  // namespace sluice::smtp
