// ClientSession: the client side of one outbound SMTP connection, sans-IO,
// for the delivery engine.
//
// Replies in (Feed), commands and message data out (TakeOutput), and
// between them the points where the caller acts: start TLS, hand over the
// next message, collect a result, close. No sockets, clock or threads; the
// caller owns the connection and the timers, and asks current_timeout()
// which RFC 5321 4.5.3.2 limit applies to the reply it waits for.
//
// Protocol: RFC 5321 with PIPELINING (2920), SIZE (1870), 8BITMIME (6152),
// SMTPUTF8 (6531), CHUNKING/BDAT (3030), DSN (3461), ENHANCEDSTATUSCODES
// (2034, 3463), STARTTLS (3207). EHLO falls back to HELO on a 5xx.
//
// Use (one connection, any number of messages):
//   ClientSession session(options);          // waits for the greeting
//   ClientAction action = session.action();  // kReadMore
//   loop:
//     write(session.TakeOutput())            // every time, before acting;
//                                            // write_timeout() per write
//     switch (action) {
//       kReadMore:        arm current_timeout(); bytes = read();
//                         action = bytes.empty() ? session.PeerClosed()
//                                                : session.Feed(bytes);
//                         on expiry: action = session.TimedOut();
//       kStartTls:        handshake; action = session.TlsStarted() or
//                         session.TlsFailed(why);
//       kReadyForMessage: action = session.SendMessage(message) or
//                         session.Quit();
//       kMessageDone:     result = session.TakeResult();
//                         action = session.action();  // ready or closed
//       kClosed:          close; session.failure() says why, if it failed.
//     }
//
// Transactions. With PIPELINING, MAIL, every RCPT and DATA go out as one
// batch and the replies are matched in order; without it, one command per
// round trip. With CHUNKING the body goes as BDAT (MAIL and RCPTs pipelined
// when offered, BDAT only after at least one RCPT was accepted). When no
// recipient is accepted no data is sent (a pipelined DATA is expected to be
// refused; if a broken server answers 354 anyway, a lone "." ends it).
// After a transaction that did not end cleanly (no recipient accepted, a
// refused DATA or BDAT) the next SendMessage() starts with RSET, pipelined
// with MAIL when the server allows it; after a completed transaction (any
// reply to the data) or a refused MAIL the next MAIL follows directly.
// Quit() never sends RSET.
//
// Local refusals, without sending anything: a body larger than the server's
// SIZE (552 5.3.4), SMTPUTF8 needed but not offered (553 5.6.7, RFC 6531
// 3.4), 8BITMIME needed but not offered with strict_8bitmime (554 5.6.3),
// a sender or recipient with a control character (501 5.1.3). These end in
// kMessageDone with permanent failures and the connection stays usable.
//
// Connection failures: a 421 at any point, a malformed reply, an unexpected
// reply (or one nobody asked for), the peer closing, a timeout, a TLS
// failure. The message in progress, if any, ends (kMessageDone) with every
// undecided recipient failed temporarily with that reply (the 421 itself,
// or a local 4xx); failure() describes it; then kClosed. A 5xx greeting or
// HELO refusal fails the attempt the same way with failure()->permanent; a
// QUIT goes out where the server expects one.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "smtp/client_capabilities.h"
#include "smtp/client_message.h"
#include "smtp/client_options.h"
#include "smtp/client_pipeline.h"
#include "smtp/client_wait.h"
#include "smtp/reply_parser.h"

namespace sluice::smtp {

enum class ClientAction {
  kReadMore,         // flush TakeOutput(), read with current_timeout(), Feed()
  kStartTls,         // flush, run the TLS handshake, TlsStarted() / TlsFailed()
  kReadyForMessage,  // idle: SendMessage() or Quit()
  kMessageDone,      // TakeResult(), then act on action()
  kClosed,           // flush, close; failure() if it ended badly
};

class ClientSession {
 public:
  explicit ClientSession(const ClientOptions& options);
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Processes server bytes (any split) as far as the session can go. Bytes
  // fed while kStartTls is pending are clear text after the STARTTLS reply
  // and fail the connection.
  ClientAction Feed(std::string_view bytes);
  // The server closed the connection (read returned 0) or it broke.
  ClientAction PeerClosed();
  // current_timeout() expired while waiting.
  ClientAction TimedOut();
  // kStartTls: the handshake succeeded; EHLO goes out again (RFC 3207 4.2).
  ClientAction TlsStarted();
  // kStartTls: the handshake failed; the attempt fails (temporarily).
  ClientAction TlsFailed(std::string_view why);

  // kReadyForMessage: starts a transaction. The body must stay valid until
  // TakeResult() (or be owned by message.body_owner). Called in any other
  // state it refuses the message at once (a temporary local failure).
  ClientAction SendMessage(const OutboundMessage& message);
  // kMessageDone: the result, moved out; action() then is
  // kReadyForMessage, kReadMore (a reply still owed) or kClosed.
  DeliveryResult TakeResult();
  // kReadyForMessage (or any time): QUIT, then kReadMore until the 221 or
  // the close; the caller may also just close after flushing.
  ClientAction Quit();

  // What the caller must do next (the value the last call returned).
  ClientAction action() const { return action_; }
  ClientWait current_wait() const;
  // The limit for the wait in progress; InfiniteDuration() when not waiting.
  absl::Duration current_timeout() const;
  // The limit for writing output(): data_block while it holds message data,
  // otherwise the timeout of the reply that follows.
  absl::Duration write_timeout() const;

  const std::string& output() const { return pipeline_.output(); }
  std::string TakeOutput();

  const ServerCapabilities& capabilities() const { return caps_; }
  bool tls_active() const { return tls_active_; }
  const std::optional<ClientFailure>& failure() const { return failure_; }
  // Messages that reached the server (any reply to their data).
  size_t messages_sent() const { return messages_sent_; }

 private:
  using Expect = ClientPipeline::Expect;
  using Pending = ClientPipeline::Pending;
  enum class Phase { kConnecting, kTlsHandshake, kReady, kTransaction, kQuitting, kClosed };

  struct Transaction {
    OutboundMessage message;
    std::string mail_line;
    std::string canonical;  // the canonical body when message.body was not
    std::string_view body;  // canonical octets to send
    DeliveryResult result;
    std::vector<bool> decided;  // per recipient: a final status is set
    bool pipelined = false;
    bool bdat = false;
    bool mail_ok = false;
    bool mail_refused = false;
    size_t rcpt_replies = 0;
    size_t accepted = 0;
    size_t next_rcpt = 0;       // without pipelining: the next RCPT to send
    size_t bdat_sent = 0;       // octets of body sent in BDAT chunks
    bool data_pending = false;  // DATA was sent (pipelined), reply not handled
    bool data_failed = false;   // a BDAT chunk was refused
    bool aborting = false;      // a lone "." answers a 354 without recipients
    ServerReply refusal;        // the latest refusal (MAIL's wins)
  };

  void Send(std::string_view line, Expect expect, size_t index = 0);
  void Transcript(std::string_view prefix, std::string_view text);
  ClientAction Process();
  void HandleReply(const Pending& pending, const ServerReply& reply);
  void HandleGreeting(const ServerReply& reply);
  void HandleEhlo(const ServerReply& reply);
  void HandleHelo(const ServerReply& reply);
  void HandleStartTls(const ServerReply& reply);
  void FailStartTlsInjection();
  void HandleRset(const ServerReply& reply);
  void HandleMail(const ServerReply& reply);
  void HandleRcpt(size_t index, const ServerReply& reply);
  void HandleData(const ServerReply& reply);
  void HandleDataEnd(const ServerReply& reply);
  void HandleBdat(bool last, const ServerReply& reply);
  void HandleQuit(const ServerReply& reply);
  void Unexpected(std::string_view after, const ServerReply& reply);
  void AfterHello();
  // MAIL, and with pipelining every RCPT and (without BDAT) DATA.
  void SendMailBatch();
  void SendRcpt(size_t index);
  // Every RCPT answered: DATA, BDAT or the end of the transaction.
  void AfterRecipients();
  // BDAT: the next chunk, or all remaining chunks with pipelining.
  void SendBdatChunks();
  void DecideUndecided(RecipientStatus status, const ServerReply& reply);
  void FinishTransaction(const ServerReply& final_reply, bool clean);
  // Local refusal of a message before anything is sent.
  ClientAction RefuseMessage(const OutboundMessage& message, RecipientStatus status,
                             const ServerReply& reply);
  // Ends the connection: fails the transaction in progress, records why.
  void FailConnection(ServerReply reply, std::string text, bool permanent, bool send_quit);
  ClientAction NextAction();

  const ClientOptions options_;
  ReplyParser parser_;
  ClientPipeline pipeline_;
  Phase phase_ = Phase::kConnecting;
  ClientAction action_ = ClientAction::kReadMore;
  ServerCapabilities caps_;
  bool tls_active_ = false;
  bool tls_pending_ = false;  // STARTTLS accepted, handshake not done
  bool helo_fallback_ = false;
  bool needs_rset_ = false;
  std::optional<Transaction> transaction_;
  std::optional<DeliveryResult> result_;  // done, not yet taken
  std::optional<ClientFailure> failure_;
  size_t messages_sent_ = 0;
};

}  // namespace sluice::smtp
