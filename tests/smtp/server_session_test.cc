#include "smtp/server_session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sluice::smtp {
namespace {

using namespace std::literals;

std::string B64(std::string_view text) {
  return absl::Base64Escape(absl::string_view(text.data(), text.size()));
}

ServerOptions TestOptions() {
  ServerOptions options;
  options.hostname = "mx.test";
  options.max_message_size = 10000;
  return options;
}

// Drives a session the way a listener would, answering every wait at once:
// credentials "user"/"secret" are valid, messages are queued as Q1, Q2...
class Driver {
 public:
  explicit Driver(const ServerOptions& options = TestOptions(), ServerPolicy* policy = nullptr)
      : session_(options, policy) {
    session_.Start();
    output_ += session_.TakeOutput();
  }

  // Feeds `bytes`, answers the session's requests, returns the new output.
  std::string Feed(std::string_view bytes) {
    const size_t before = output_.size();
    Handle(session_.Feed(bytes));
    return output_.substr(before);
  }

  // Feeds `bytes` without answering waits.
  ServerAction FeedRaw(std::string_view bytes) {
    const ServerAction action = session_.Feed(bytes);
    output_ += session_.TakeOutput();
    return action;
  }

  void Handle(ServerAction action) {
    while (true) {
      output_ += session_.TakeOutput();
      switch (action) {
        case ServerAction::kReadMore:
          return;
        case ServerAction::kClose:
          closed_ = true;
          return;
        case ServerAction::kAuthenticate: {
          const AuthRequest& request = session_.auth_request();
          auths_.push_back(request);
          action = session_.SupplyAuthResult(
              auth_result_override_.has_value()                        ? *auth_result_override_
              : request.user == "user" && request.password == "secret" ? AuthResult::kAccepted
                                                                       : AuthResult::kRejected);
          break;
        }
        case ServerAction::kCheckRecipient:
          checked_.push_back(session_.pending_recipient().address.ToString());
          action = session_.SupplyRecipientResult(
              check_recipient_ ? check_recipient_(session_.pending_recipient())
                               : PolicyDecision::Accept());
          break;
        case ServerAction::kMessage:
          messages_.push_back(session_.TakeMessage());
          action = session_.SupplyMessageResult(
              message_result_.has_value()
                  ? *message_result_
                  : MessageResult::Accepted(absl::StrCat("Q", messages_.size())));
          break;
        case ServerAction::kStartTls:
          ++tls_starts_;
          action = session_.TlsStarted();
          break;
      }
    }
  }

  ServerSession& session() { return session_; }
  const std::string& output() const { return output_; }
  const std::vector<ReceivedMessage>& messages() const { return messages_; }
  const std::vector<AuthRequest>& auths() const { return auths_; }
  bool closed() const { return closed_; }
  int tls_starts() const { return tls_starts_; }
  void set_message_result(MessageResult result) { message_result_ = std::move(result); }
  void set_auth_result(AuthResult result) { auth_result_override_ = result; }
  // Answers kCheckRecipient (default: accept); the addresses asked about.
  void set_check_recipient(std::function<PolicyDecision(const Recipient&)> check) {
    check_recipient_ = std::move(check);
  }
  const std::vector<std::string>& checked() const { return checked_; }

 private:
  ServerSession session_;
  std::string output_;
  std::vector<ReceivedMessage> messages_;
  std::vector<AuthRequest> auths_;
  std::optional<MessageResult> message_result_;
  std::optional<AuthResult> auth_result_override_;
  std::function<PolicyDecision(const Recipient&)> check_recipient_;
  std::vector<std::string> checked_;
  bool closed_ = false;
  int tls_starts_ = 0;
};

// The reply codes in `output`, one per reply (continuation lines skipped).
std::vector<std::string> Codes(std::string_view output) {
  std::vector<std::string> codes;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(output.data(), output.size()), "\r\n", absl::SkipEmpty())) {
    if (line.size() >= 4 && line[3] == '-') continue;
    codes.emplace_back(line.substr(0, 3));
  }
  return codes;
}

using Codes_ = std::vector<std::string>;

constexpr std::string_view kEnvelope =
    "EHLO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n";

TEST(ServerSessionTest, GreetsAndAnnouncesExtensionsOnEhlo) {
  Driver driver;
  EXPECT_EQ(driver.output(), "220 mx.test ESMTP\r\n");
  EXPECT_EQ(driver.Feed("EHLO client.test\r\n"),
            "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-ENHANCEDSTATUSCODES\r\n"
            "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
  EXPECT_EQ(driver.session().helo_name(), "client.test");
  EXPECT_EQ(driver.session().protocol(), "ESMTP");
}

TEST(ServerSessionTest, EhloAnnouncesStartTlsAndAuthPerOptions) {
  ServerOptions options = TestOptions();
  options.offer_starttls = true;
  options.allow_auth = true;
  options.max_message_size = 0;
  Driver driver(options);
  const std::string reply = driver.Feed("EHLO c\r\n");
  EXPECT_TRUE(absl::StrContains(reply, "250-STARTTLS\r\n"));
  EXPECT_TRUE(absl::StrContains(reply, "250-SIZE\r\n"));
  EXPECT_FALSE(absl::StrContains(reply, "AUTH")) << "AUTH before TLS with require_tls_for_auth";
  options.require_tls_for_auth = false;
  Driver plain(options);
  EXPECT_TRUE(absl::StrContains(plain.Feed("EHLO c\r\n"), "250-AUTH PLAIN LOGIN\r\n"));
}

TEST(ServerSessionTest, HeloHasNoExtensions) {
  Driver driver;
  EXPECT_EQ(driver.Feed("HELO client.test\r\n"), "250 mx.test\r\n");
  EXPECT_EQ(driver.session().protocol(), "SMTP");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@b.test> SIZE=10\r\n"),
            "555 5.5.4 Error: parameters need EHLO\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@b.test>\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_FALSE(absl::StrContains(driver.Feed("HELO\r\n"), "250"));
}

TEST(ServerSessionTest, DeliversOneMessageWithUnstuffedBody) {
  Driver driver;
  EXPECT_EQ(Codes(driver.Feed(kEnvelope)), (Codes_{"250", "250", "250", "354"}));
  EXPECT_EQ(driver.Feed("Subject: hi\r\n\r\n..dot\r\nend\r\n.\r\n"),
            "250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(driver.messages().size(), 1u);
  const ReceivedMessage& message = driver.messages()[0];
  EXPECT_EQ(message.body, "Subject: hi\r\n\r\n.dot\r\nend\r\n");
  EXPECT_EQ(message.envelope.mail_from.ToString(), "a@client.test");
  ASSERT_EQ(message.envelope.recipients.size(), 1u);
  EXPECT_EQ(message.envelope.recipients[0].address.ToString(), "b@mx.test");
  // The transaction is over; a new one may start on the same session.
  EXPECT_EQ(driver.Feed("RCPT TO:<c@mx.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<>\r\n"), "250 2.1.0 Ok\r\n");
}

TEST(ServerSessionTest, EmptyMessage) {
  Driver driver;
  driver.Feed(kEnvelope);
  EXPECT_EQ(driver.Feed(".\r\n"), "250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(driver.messages().size(), 1u);
  EXPECT_EQ(driver.messages()[0].body, "");
}

TEST(ServerSessionTest, PipelinedCommandsAreAnsweredInOneBatchInOrder) {
  Driver driver;
  driver.Feed("EHLO c\r\n");
  const ServerAction action = driver.FeedRaw(
      "MAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\nRCPT TO:<bad>\r\nRCPT TO:<d@mx.test>\r\n"
      "DATA\r\n");
  EXPECT_EQ(action, ServerAction::kReadMore);
  EXPECT_EQ(Codes(driver.output().substr(driver.output().find("250 2.1.0"))),
            (Codes_{"250", "250", "501", "250", "354"}));
}

TEST(ServerSessionTest, WaitsForTheMessageResultBeforeReadingOn) {
  Driver driver;
  driver.Feed(kEnvelope);
  const size_t before = driver.output().size();
  // The message end and a pipelined next transaction arrive together.
  EXPECT_EQ(driver.FeedRaw("x\r\n.\r\nMAIL FROM:<n@c.test>\r\nNOOP\r\n"), ServerAction::kMessage);
  EXPECT_EQ(driver.output().size(), before) << "no reply before the caller answers";
  EXPECT_EQ(driver.FeedRaw("QUIT\r\n"), ServerAction::kMessage) << "nothing consumed while waiting";
  EXPECT_EQ(driver.session().buffered_input(), 34u);
  ReceivedMessage message = driver.session().TakeMessage();
  EXPECT_EQ(message.body, "x\r\n");
  EXPECT_EQ(driver.session().SupplyMessageResult(MessageResult::Accepted("ABC")),
            ServerAction::kClose);
  EXPECT_EQ(driver.session().TakeOutput(),
            "250 2.0.0 Ok: queued as ABC\r\n250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n");
}

TEST(ServerSessionTest, MessageFailureReplies) {
  Driver driver;
  driver.set_message_result(MessageResult::TemporaryFailure());
  driver.Feed(kEnvelope);
  EXPECT_EQ(driver.Feed("x\r\n.\r\n"), "451 4.3.0 Error: queue file write error\r\n");
  driver.set_message_result(MessageResult::InsufficientStorage());
  driver.Feed("MAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n");
  EXPECT_EQ(driver.Feed("x\r\n.\r\n"), "452 4.3.1 Insufficient system storage\r\n");
  driver.set_message_result(MessageResult::PermanentFailure("Error: spam"));
  driver.Feed("MAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n");
  EXPECT_EQ(driver.Feed("x\r\n.\r\n"), "554 5.6.0 Error: spam\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
}

TEST(ServerSessionTest, SequenceErrors) {
  Driver driver;
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(driver.Feed("DATA\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test>\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test>\r\n"), "503 5.5.1 Error: nested MAIL command\r\n");
  EXPECT_EQ(driver.Feed("DATA\r\n"), "554 5.5.1 Error: no valid recipients\r\n");
  EXPECT_EQ(driver.Feed("FOO\r\n"), "500 5.5.2 Error: command not recognized\r\n");
  EXPECT_EQ(driver.session().bad_commands(), 5);
}

TEST(ServerSessionTest, SyntaxErrorsUseAddressStatusCodes) {
  Driver driver;
  driver.Feed("EHLO c\r\n");
  EXPECT_TRUE(absl::StartsWith(driver.Feed("MAIL FROM:<a@@c>\r\n"), "501 5.1.7 "));
  driver.Feed("MAIL FROM:<a@c.test>\r\n");
  EXPECT_TRUE(absl::StartsWith(driver.Feed("RCPT TO:<b@>\r\n"), "501 5.1.3 "));
  EXPECT_TRUE(absl::StartsWith(driver.Feed("RCPT TO:b@mx.test\r\n"), "501 5.1.3 "));
  EXPECT_TRUE(absl::StartsWith(driver.Feed("DATA x\r\n"), "501 5.5.4 "));
}

TEST(ServerSessionTest, AcceptsEveryAddressForm) {
  Driver driver;
  driver.Feed("EHLO [192.0.2.1]\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<>\r\n"), "250 2.1.0 Ok\r\n");
  for (std::string_view rcpt : {"<\"quoted local\"@mx.test>", "<u@[192.0.2.7]>",
                                "<u@[IPv6:2001:db8::7]>", "<Postmaster>", "<@r.test:u@mx.test>"}) {
    EXPECT_EQ(
        driver.Feed(absl::StrCat("RCPT TO:", absl::string_view(rcpt.data(), rcpt.size()), "\r\n")),
        "250 2.1.5 Ok\r\n")
        << rcpt;
  }
  driver.Feed("DATA\r\n.\r\n");
  ASSERT_EQ(driver.messages().size(), 1u);
  const Envelope& envelope = driver.messages()[0].envelope;
  EXPECT_TRUE(envelope.mail_from.IsNull());
  ASSERT_EQ(envelope.recipients.size(), 5u);
  EXPECT_EQ(envelope.recipients[0].address.local_part, "\"quoted local\"");
  EXPECT_EQ(envelope.recipients[2].address.domain, "[IPv6:2001:db8::7]");
  EXPECT_EQ(envelope.recipients[4].address.ToString(), "u@mx.test");
}

TEST(ServerSessionTest, Utf8AddressesNeedSmtpUtf8) {
  Driver driver;
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<j\xC3\xB6rg@c.test>\r\n"),
            "553 5.6.7 Error: non-ASCII address needs SMTPUTF8\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test>\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<\xC3\xBC@b\xC3\xBC"
                        "cher.test>\r\n"),
            "553 5.6.7 Error: non-ASCII address needs SMTPUTF8\r\n");
  driver.Feed("RSET\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<j\xC3\xB6rg@c.test> SMTPUTF8 BODY=8BITMIME\r\n"),
            "250 2.1.0 Ok\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<\xC3\xBC@b\xC3\xBC"
                        "cher.test>\r\n"),
            "250 2.1.5 Ok\r\n");
  EXPECT_EQ(driver.session().protocol(), "UTF8SMTP");
  EXPECT_TRUE(driver.session().envelope().smtputf8);
  EXPECT_EQ(driver.session().envelope().body, BodyType::k8BitMime);
  driver.Feed("RSET\r\n");
  EXPECT_TRUE(
      absl::StartsWith(driver.Feed("MAIL FROM:<\xC3\x28@c.test> SMTPUTF8\r\n"), "501 5.1.7 "))
      << "malformed UTF-8";
}

TEST(ServerSessionTest, DeclaredAndActualSizeLimits) {
  Driver driver;
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test> SIZE=10001\r\n"),
            "552 5.3.4 Error: message size exceeds fixed maximum message size\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test> SIZE=99999999999999999999999\r\n"),
            "501 5.5.4 Error: bad SIZE parameter\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test> SIZE=10000\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(driver.session().envelope().declared_size, 10000u);
  driver.Feed("RCPT TO:<b@mx.test>\r\nDATA\r\n");
  std::string big;
  for (int i = 0; i < 200; ++i) big += std::string(98, 'x') + "\r\n";
  EXPECT_EQ(driver.Feed(big + ".\r\n"),
            "552 5.3.4 Error: message size exceeds fixed maximum message size\r\n");
  EXPECT_TRUE(driver.messages().empty());
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
}

TEST(ServerSessionTest, StoresDsnParameters) {
  Driver driver;
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test> RET=HDRS ENVID=QQ+2B314\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b+40mx.test\r\n"),
            "250 2.1.5 Ok\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<c@mx.test> NOTIFY=NEVER\r\n"), "250 2.1.5 Ok\r\n");
  driver.Feed("DATA\r\n.\r\n");
  ASSERT_EQ(driver.messages().size(), 1u);
  const Envelope& envelope = driver.messages()[0].envelope;
  EXPECT_EQ(envelope.ret, DsnRet::kHeaders);
  EXPECT_EQ(envelope.envid, "QQ+314");
  EXPECT_EQ(envelope.recipients[0].notify, kNotifySuccess | kNotifyDelay);
  EXPECT_EQ(envelope.recipients[0].orcpt_type, "rfc822");
  EXPECT_EQ(envelope.recipients[0].orcpt, "b@mx.test");
  EXPECT_EQ(envelope.recipients[1].notify, kNotifyNever);
  EXPECT_TRUE(envelope.recipients[1].orcpt_type.empty());
}

TEST(ServerSessionTest, RefusesBadParameters) {
  Driver driver;
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test> FOO=1\r\n"),
            "555 5.5.4 Error: unsupported parameter FOO\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test> BODY=BINARYMIME\r\n"),
            "555 5.5.4 Error: unsupported BODY type\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test> SIZE=1 SIZE=2\r\n"),
            "501 5.5.4 Error: bad SIZE parameter\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test> RET=ALL\r\n"),
            "501 5.5.4 Error: bad RET parameter\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test> ENVID=a+2\r\n"),
            "501 5.5.4 Error: bad ENVID parameter\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test>\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test> NOTIFY=NEVER,SUCCESS\r\n"),
            "501 5.5.4 Error: NOTIFY=NEVER must stand alone\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test> NOTIFY=SOMETIMES\r\n"),
            "501 5.5.4 Error: bad NOTIFY parameter\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test> ORCPT=b@mx.test\r\n"),
            "501 5.5.4 Error: bad ORCPT parameter\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test> XFOO\r\n"),
            "555 5.5.4 Error: unsupported parameter XFOO\r\n");
}

TEST(ServerSessionTest, AuthParameterTrustedOnlyWhenAuthenticated) {
  ServerOptions options = TestOptions();
  options.allow_auth = true;
  options.require_tls_for_auth = false;
  Driver driver(options);
  driver.Feed("EHLO c\r\n");
  driver.Feed("MAIL FROM:<a@c.test> AUTH=x+40c.test\r\n");
  EXPECT_EQ(driver.session().envelope().auth, "<>");
  driver.Feed("RSET\r\n");
  driver.Feed(absl::StrCat("AUTH PLAIN ", B64("\0user\0secret"sv), "\r\n"));
  driver.Feed("MAIL FROM:<a@c.test> AUTH=x+40c.test\r\n");
  EXPECT_EQ(driver.session().envelope().auth, "x@c.test");
}

TEST(ServerSessionTest, RecipientLimit) {
  ServerOptions options = TestOptions();
  options.max_recipients = 2;
  Driver driver(options);
  driver.Feed("EHLO c\r\nMAIL FROM:<a@c.test>\r\n");
  EXPECT_EQ(
      Codes(driver.Feed("RCPT TO:<1@mx.test>\r\nRCPT TO:<2@mx.test>\r\nRCPT TO:<3@mx.test>\r\n")),
      (Codes_{"250", "250", "452"}));
  EXPECT_TRUE(absl::StrContains(driver.output(), "452 4.5.3 Error: too many recipients\r\n"));
}

TEST(ServerSessionTest, CommandLineLimit) {
  ServerOptions options = TestOptions();
  options.max_command_line = 100;
  Driver driver(options);
  driver.Feed("EHLO c\r\n");
  // 98 octets + CRLF: accepted.
  EXPECT_EQ(driver.Feed("NOOP " + std::string(93, 'x') + "\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(driver.Feed("NOOP " + std::string(94, 'x') + "\r\n"),
            "500 5.5.2 Error: line too long\r\n");
  // Split across feeds: the long line is skipped to its end, then all is well.
  driver.Feed("NOOP " + std::string(300, 'x'));
  EXPECT_EQ(driver.Feed(std::string(300, 'y') + "\r\nNOOP\r\n"),
            "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
  // Found by the fuzzer: a long line with a NUL in it gets the same reply
  // whether it arrives whole or in pieces.
  const std::string bad = std::string(150, 'x') + "\0\r\n"s;
  EXPECT_EQ(driver.Feed(bad), "500 5.5.2 Error: line too long\r\n");
  driver.Feed(bad.substr(0, 120));
  EXPECT_EQ(driver.Feed(bad.substr(120)), "500 5.5.2 Error: line too long\r\n");
}

TEST(ServerSessionTest, TextLineLimitInData) {
  ServerOptions options = TestOptions();
  options.max_text_line = 50;
  Driver driver(options);
  driver.Feed(kEnvelope);
  EXPECT_EQ(driver.Feed(std::string(60, 'x') + "\r\n.\r\n"),
            "550 5.6.0 Error: message line longer than 50 octets; message refused\r\n");
  EXPECT_TRUE(driver.messages().empty());
}

TEST(ServerSessionTest, BareLineEndsAndNulInCommandsAreRefused) {
  Driver driver;
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.Feed("NOOP\n"),
            "500 5.5.2 Error: bare LF received; commands must end with CRLF\r\n");
  EXPECT_EQ(driver.Feed("NOOP\rNOOP\r\n"), "500 5.5.2 Error: bare CR received\r\n");
  EXPECT_EQ(driver.Feed("NOOP \0x\r\n"sv), "500 5.5.2 Error: NUL octet received\r\n");
  EXPECT_EQ(driver.Feed("NOOP\r\n"), "250 2.0.0 Ok\r\n");
}

TEST(ServerSessionTest, NormalizeOptionAcceptsBareLfCommands) {
  ServerOptions options = TestOptions();
  options.normalize_bare_lf = true;
  Driver driver(options);
  EXPECT_EQ(Codes(driver.Feed("EHLO c\nMAIL FROM:<a@c.test>\nRCPT TO:<b@mx.test>\nDATA\n")),
            (Codes_{"250", "250", "250", "354"}));
  EXPECT_EQ(driver.Feed("line\n.\r\n"), "") << "a dot line after bare LF does not end DATA";
  EXPECT_EQ(driver.Feed("\r\n.\r\n"), "250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(driver.messages().size(), 1u);
  EXPECT_EQ(driver.messages()[0].body, "line\r\n\r\n\r\n");
}

TEST(ServerSessionTest, TooManyBadCommandsCloses) {
  ServerOptions options = TestOptions();
  options.max_bad_commands = 3;
  Driver driver(options);
  EXPECT_EQ(driver.Feed("A\r\nB\r\nC\r\nNOOP\r\n"),
            "500 5.5.2 Error: command not recognized\r\n"
            "500 5.5.2 Error: command not recognized\r\n"
            "500 5.5.2 Error: command not recognized\r\n"
            "421 4.7.0 mx.test Error: too many errors\r\n");
  EXPECT_TRUE(driver.closed());
  EXPECT_EQ(driver.Feed("NOOP\r\n"), "");
}

TEST(ServerSessionTest, SimpleCommands) {
  Driver driver;
  driver.Feed("EHLO c\r\nMAIL FROM:<a@c.test>\r\n");
  EXPECT_EQ(driver.Feed("RSET\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(driver.Feed("NOOP\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(driver.Feed("NOOP hello\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_TRUE(absl::StartsWith(driver.Feed("HELP\r\n"), "214 2.0.0 "));
  EXPECT_EQ(driver.Feed("VRFY someone\r\n"),
            "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n");
  EXPECT_EQ(driver.Feed("EXPN list\r\n"), "502 5.5.1 Error: EXPN not implemented\r\n");
  EXPECT_EQ(driver.Feed("QUIT\r\nNOOP\r\n"), "221 2.0.0 Bye\r\n");
  EXPECT_TRUE(driver.closed());
}

TEST(ServerSessionTest, EhloResetsTheTransaction) {
  Driver driver;
  driver.Feed("EHLO c\r\nMAIL FROM:<a@c.test>\r\nEHLO d\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(driver.session().helo_name(), "d");
}

TEST(ServerSessionTest, StartTlsDiscardsPipelinedInputAndResets) {
  ServerOptions options = TestOptions();
  options.offer_starttls = true;
  Driver driver(options);
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.FeedRaw("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n"),
            ServerAction::kStartTls);
  EXPECT_TRUE(absl::EndsWith(driver.output(), "220 2.0.0 Ready to start TLS\r\n"));
  // Plaintext arriving before the handshake is dropped too.
  EXPECT_EQ(driver.FeedRaw("RCPT TO:<x@mx.test>\r\n"), ServerAction::kStartTls);
  EXPECT_EQ(driver.session().TlsStarted(), ServerAction::kReadMore);
  EXPECT_EQ(driver.session().TakeOutput(), "") << "no greeting after TLS";
  EXPECT_TRUE(driver.session().tls_active());
  EXPECT_EQ(driver.session().helo_name(), "");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
  const std::string ehlo = driver.Feed("EHLO c\r\n");
  EXPECT_FALSE(absl::StrContains(ehlo, "STARTTLS"));
  EXPECT_EQ(driver.session().protocol(), "ESMTPS");
  EXPECT_EQ(driver.Feed("STARTTLS\r\n"), "503 5.5.1 Error: TLS already active\r\n");
}

TEST(ServerSessionTest, StartTlsNotOffered) {
  Driver driver;
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.Feed("STARTTLS\r\n"), "502 5.5.1 Error: command not implemented\r\n");
  EXPECT_EQ(driver.tls_starts(), 0);
}

TEST(ServerSessionTest, ImplicitTls) {
  ServerOptions options = TestOptions();
  options.implicit_tls = true;
  options.offer_starttls = true;
  options.allow_auth = true;
  Driver driver(options);
  const std::string ehlo = driver.Feed("EHLO c\r\n");
  EXPECT_FALSE(absl::StrContains(ehlo, "STARTTLS"));
  EXPECT_TRUE(absl::StrContains(ehlo, "AUTH PLAIN LOGIN"));
  EXPECT_TRUE(driver.session().tls_active());
}

ServerOptions AuthOptions() {
  ServerOptions options = TestOptions();
  options.allow_auth = true;
  options.implicit_tls = true;
  return options;
}

TEST(ServerSessionTest, AuthPlainWithInitialResponse) {
  Driver driver(AuthOptions());
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.FeedRaw(absl::StrCat("AUTH PLAIN ", B64("admin\0user\0secret"sv), "\r\n")),
            ServerAction::kAuthenticate);
  const AuthRequest& request = driver.session().auth_request();
  EXPECT_EQ(request.mechanism, "PLAIN");
  EXPECT_EQ(request.authzid, "admin");
  EXPECT_EQ(request.user, "user");
  EXPECT_EQ(request.password, "secret");
  EXPECT_EQ(driver.session().SupplyAuthResult(AuthResult::kAccepted), ServerAction::kReadMore);
  EXPECT_TRUE(
      absl::EndsWith(driver.session().TakeOutput(), "235 2.7.0 Authentication successful\r\n"));
  EXPECT_EQ(driver.session().auth_user(), "user");
  EXPECT_EQ(driver.session().protocol(), "ESMTPSA");
  EXPECT_EQ(driver.Feed("AUTH PLAIN\r\n"), "503 5.5.1 Error: already authenticated\r\n");
}

TEST(ServerSessionTest, AuthPlainWithChallenge) {
  Driver driver(AuthOptions());
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.Feed("AUTH PLAIN\r\n"), "334 \r\n");
  EXPECT_EQ(driver.Feed(B64("\0user\0secret"sv) + "\r\n"),
            "235 2.7.0 Authentication successful\r\n");
}

TEST(ServerSessionTest, AuthLogin) {
  Driver driver(AuthOptions());
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.Feed("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(driver.Feed(B64("user") + "\r\n"), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(driver.Feed(B64("secret") + "\r\n"), "235 2.7.0 Authentication successful\r\n");
  ASSERT_EQ(driver.auths().size(), 1u);
  EXPECT_EQ(driver.auths()[0].mechanism, "LOGIN");
  Driver initial(AuthOptions());
  initial.Feed("EHLO c\r\n");
  EXPECT_EQ(initial.Feed("AUTH LOGIN " + B64("user") + "\r\n"), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(initial.Feed(B64("wrong") + "\r\n"), "535 5.7.8 Error: authentication failed\r\n");
  EXPECT_FALSE(initial.session().authenticated());
}

TEST(ServerSessionTest, AuthErrors) {
  Driver driver(AuthOptions());
  EXPECT_EQ(driver.Feed("AUTH PLAIN\r\n"), "503 5.5.1 Error: send EHLO first\r\n");
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.Feed("AUTH CRAM-MD5\r\n"),
            "504 5.5.4 Error: unsupported authentication mechanism\r\n");
  EXPECT_EQ(driver.Feed("AUTH PLAIN\r\n*\r\n"),
            "334 \r\n501 5.0.0 Error: authentication cancelled\r\n");
  EXPECT_EQ(driver.Feed("AUTH PLAIN !!!!\r\n"), "501 5.5.2 Error: cannot decode response\r\n");
  EXPECT_EQ(driver.Feed("AUTH PLAIN " + B64("nonul") + "\r\n"),
            "501 5.5.2 Error: malformed PLAIN response\r\n");
  EXPECT_EQ(driver.Feed("AUTH PLAIN =\r\n"), "501 5.5.2 Error: malformed PLAIN response\r\n");
  driver.set_auth_result(AuthResult::kTemporaryFailure);
  EXPECT_EQ(driver.Feed(absl::StrCat("AUTH PLAIN ", B64("\0user\0secret"sv), "\r\n")),
            "454 4.7.0 Temporary authentication failure\r\n");
  driver.Feed("MAIL FROM:<a@c.test>\r\n");
  EXPECT_EQ(driver.Feed("AUTH PLAIN\r\n"), "503 5.5.1 Error: MAIL transaction in progress\r\n");
  Driver disabled;
  disabled.Feed("EHLO c\r\n");
  EXPECT_EQ(disabled.Feed("AUTH PLAIN\r\n"), "503 5.5.1 Error: authentication not enabled\r\n");
  ServerOptions plain = TestOptions();
  plain.allow_auth = true;
  Driver no_tls(plain);
  no_tls.Feed("EHLO c\r\n");
  EXPECT_EQ(no_tls.Feed("AUTH PLAIN\r\n"),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
}

TEST(ServerSessionTest, RequireAuthAndRequireTls) {
  ServerOptions options = AuthOptions();
  options.require_auth = true;
  Driver driver(options);
  driver.Feed("EHLO c\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test>\r\n"), "530 5.7.0 Authentication required\r\n");
  driver.Feed(absl::StrCat("AUTH PLAIN ", B64("\0user\0secret"sv), "\r\n"));
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test>\r\n"), "250 2.1.0 Ok\r\n");

  ServerOptions tls = TestOptions();
  tls.require_tls = true;
  tls.offer_starttls = true;
  Driver plain(tls);
  plain.Feed("EHLO c\r\n");
  EXPECT_EQ(plain.Feed("MAIL FROM:<a@c.test>\r\n"),
            "530 5.7.0 Must issue a STARTTLS command first\r\n");
  plain.Feed("STARTTLS\r\n");
  plain.Feed("EHLO c\r\n");
  EXPECT_EQ(plain.tls_starts(), 1);
  EXPECT_EQ(plain.Feed("MAIL FROM:<a@c.test>\r\n"), "250 2.1.0 Ok\r\n");
}

class TestPolicy : public ServerPolicy {
 public:
  PolicyDecision CheckHelo(const ServerSession&, std::string_view name) override {
    if (name == "bad.test") return PolicyDecision::Reject(550, "5.7.1", "Go away");
    return PolicyDecision::Accept();
  }
  PolicyDecision CheckMailFrom(const ServerSession& session, const Envelope& envelope) override {
    seen_helo = session.helo_name();
    if (envelope.mail_from.domain == "spam.test") {
      return PolicyDecision::Reject(550, "5.7.1", "Sender refused");
    }
    return PolicyDecision::Accept();
  }
  PolicyDecision CheckRcptTo(const ServerSession&, const Envelope&,
                             const Recipient& recipient) override {
    if (recipient.address.domain != "mx.test") {
      return PolicyDecision::Reject(554, "5.7.1", "Relay access denied");
    }
    if (recipient.address.local_part == "busy") {
      return PolicyDecision::Reject(450, "4.2.1", "Mailbox busy");
    }
    return PolicyDecision::Accept();
  }
  std::string ReceivedHeader(const ServerSession& session, const Envelope& envelope) override {
    return absl::StrCat("Received: from ", session.helo_name(), " by mx.test with ",
                        absl::string_view(session.protocol().data(), session.protocol().size()),
                        " for <", envelope.recipients[0].address.ToString(), ">\r\n");
  }
  std::string seen_helo;
};

TEST(ServerSessionTest, PolicyDecidesAndAddsTheReceivedHeader) {
  TestPolicy policy;
  Driver driver(TestOptions(), &policy);
  EXPECT_EQ(driver.Feed("EHLO bad.test\r\n"), "550 5.7.1 Go away\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
  driver.Feed("EHLO good.test\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@spam.test>\r\n"), "550 5.7.1 Sender refused\r\n");
  EXPECT_EQ(driver.Feed("MAIL FROM:<a@c.test>\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(policy.seen_helo, "good.test");
  EXPECT_EQ(driver.Feed("RCPT TO:<x@elsewhere.test>\r\n"), "554 5.7.1 Relay access denied\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<busy@mx.test>\r\n"), "450 4.2.1 Mailbox busy\r\n");
  EXPECT_EQ(driver.Feed("DATA\r\n"), "554 5.5.1 Error: no valid recipients\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test>\r\n"), "250 2.1.5 Ok\r\n");
  driver.Feed("DATA\r\nhello\r\n.\r\n");
  ASSERT_EQ(driver.messages().size(), 1u);
  EXPECT_EQ(driver.messages()[0].body,
            "Received: from good.test by mx.test with ESMTP for <b@mx.test>\r\nhello\r\n");
  EXPECT_EQ(driver.messages()[0].envelope.recipients.size(), 1u);
  EXPECT_EQ(driver.session().bad_commands(), 1) << "policy refusals are not bad commands";
}

// A policy that accepts every recipient pending a lookup by its owner.
class VerifyingPolicy : public ServerPolicy {
 public:
  PolicyDecision CheckRcptTo(const ServerSession&, const Envelope&, const Recipient&) override {
    return PolicyDecision::Verify();
  }
};

TEST(ServerSessionTest, WaitsForTheOwnersRecipientLookup) {
  VerifyingPolicy policy;
  Driver driver(TestOptions(), &policy);
  driver.Feed("EHLO c\r\n");
  // Pipelined: the session stops at the first RCPT and consumes nothing
  // more until it has the answer.
  EXPECT_EQ(driver.FeedRaw("MAIL FROM:<a@c.test>\r\nRCPT TO:<one@mx.test>\r\n"
                           "RCPT TO:<gone@mx.test>\r\nRCPT TO:<two@mx.test>\r\nDATA\r\n"),
            ServerAction::kCheckRecipient);
  EXPECT_TRUE(absl::EndsWith(driver.output(), "250 2.1.0 Ok\r\n"));
  EXPECT_EQ(driver.session().pending_recipient().address.ToString(), "one@mx.test");
  EXPECT_GT(driver.session().buffered_input(), 0u);
  EXPECT_EQ(driver.session().Feed("more\r\n"), ServerAction::kCheckRecipient)
      << "input fed while waiting is kept, not processed";

  driver.set_check_recipient([](const Recipient& recipient) {
    return recipient.address.local_part == "gone"
               ? PolicyDecision::Reject(550, "5.7.1", "<gone@mx.test>: recipient suppressed")
               : PolicyDecision::Accept();
  });
  const size_t before = driver.output().size();
  driver.Handle(driver.session().SupplyRecipientResult(PolicyDecision::Accept()));
  EXPECT_EQ(driver.output().substr(before),
            "250 2.1.5 Ok\r\n"
            "550 5.7.1 <gone@mx.test>: recipient suppressed\r\n"
            "250 2.1.5 Ok\r\n"
            "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(driver.checked(), (std::vector<std::string>{"gone@mx.test", "two@mx.test"}));
  driver.Feed(".\r\n");
  ASSERT_EQ(driver.messages().size(), 1u);
  ASSERT_EQ(driver.messages()[0].envelope.recipients.size(), 2u);
  EXPECT_EQ(driver.messages()[0].envelope.recipients[1].address.ToString(), "two@mx.test");
  EXPECT_EQ(driver.messages()[0].body, "more\r\n");
}

// Records what ServerPolicy::OnRefused is told.
class RefusalRecorder : public ServerPolicy {
 public:
  void OnRefused(const ServerSession&, int code, std::string_view enhanced,
                 std::string_view text) override {
    refusals.push_back(absl::StrCat(code, " ", absl::string_view(enhanced.data(), enhanced.size()),
                                    " ", absl::string_view(text.data(), text.size())));
  }
  std::vector<std::string> refusals;
};

TEST(ServerSessionTest, TellsThePolicyOfEveryRefusalAndNothingElse) {
  RefusalRecorder policy;
  ServerOptions options = TestOptions();
  options.max_message_size = 10;
  Driver driver(options, &policy);
  driver.Feed("EHLO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\n");
  EXPECT_TRUE(policy.refusals.empty());
  driver.Feed("DATA\r\nfirst line\nhidden\r\n.\r\n");
  driver.Feed("MAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\n");
  driver.Feed("DATA\r\nthis body is longer than ten octets\r\n.\r\n");
  driver.Feed("FOO\r\n");
  ASSERT_EQ(policy.refusals.size(), 3u);
  EXPECT_TRUE(absl::StartsWith(policy.refusals[0], "550 5.5.2 Error: bare LF"))
      << policy.refusals[0];
  EXPECT_TRUE(absl::StartsWith(policy.refusals[1], "552 5.3.4 ")) << policy.refusals[1];
  EXPECT_TRUE(absl::StartsWith(policy.refusals[2], "500 5.5.2 ")) << policy.refusals[2];
}

TEST(ServerSessionTest, BdatChunks) {
  Driver driver;
  driver.Feed("EHLO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\n");
  // Chunk contents are raw: "." lines and command-looking text are data.
  EXPECT_EQ(driver.Feed("BDAT 19\r\nSubject: x\r\n\r\n.\r\nQU"),
            "250 2.0.0 19 octets received\r\n");
  EXPECT_EQ(driver.Feed("BDAT 6 LAST\r\nIT\r\n\r\n"), "250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(driver.messages().size(), 1u);
  EXPECT_EQ(driver.messages()[0].body, "Subject: x\r\n\r\n.\r\nQUIT\r\n\r\n");
}

TEST(ServerSessionTest, BdatZeroLast) {
  Driver driver;
  driver.Feed("EHLO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\n");
  EXPECT_EQ(Codes(driver.Feed("BDAT 5\r\nabc\r\nBDAT 0 LAST\r\n")), (Codes_{"250", "250"}));
  ASSERT_EQ(driver.messages().size(), 1u);
  EXPECT_EQ(driver.messages()[0].body, "abc\r\n");
  // An empty message, and an unterminated last line that gets its CRLF.
  driver.Feed("MAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\nBDAT 0 LAST\r\n");
  driver.Feed("MAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\nBDAT 3 LAST\r\nabc");
  ASSERT_EQ(driver.messages().size(), 3u);
  EXPECT_EQ(driver.messages()[1].body, "");
  EXPECT_EQ(driver.messages()[2].body, "abc\r\n");
}

TEST(ServerSessionTest, BdatAndDataDoNotMix) {
  Driver driver;
  driver.Feed("EHLO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\nBDAT 3\r\nab\n");
  EXPECT_EQ(driver.Feed("DATA\r\n"), "503 5.5.1 Error: DATA not allowed after BDAT\r\n");
  EXPECT_EQ(driver.Feed("RCPT TO:<c@mx.test>\r\n"), "503 5.5.1 Error: RCPT after BDAT\r\n");
}

TEST(ServerSessionTest, BdatErrorsStillConsumeTheChunk) {
  Driver driver;
  driver.Feed("EHLO c\r\n");
  // Without MAIL the chunk is read and dropped, never parsed as commands.
  EXPECT_EQ(driver.Feed("BDAT 12\r\nQUIT\r\nQUIT\r\nNOOP\r\n"),
            "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n");
  EXPECT_FALSE(driver.closed());
  driver.Feed("MAIL FROM:<a@c.test>\r\n");
  EXPECT_EQ(driver.Feed("BDAT 6 LAST\r\nQUIT\r\n"), "554 5.5.1 Error: no valid recipients\r\n");
  EXPECT_TRUE(absl::StartsWith(driver.Feed("BDAT x\r\n"), "501 5.5.4 "));
  Driver helo;
  helo.Feed("HELO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\n");
  EXPECT_EQ(helo.Feed("BDAT 6 LAST\r\nQUIT\r\n"), "503 5.5.1 Error: send EHLO first\r\n");
  EXPECT_TRUE(helo.messages().empty());
}

TEST(ServerSessionTest, BdatBareLineEndRefusesTheMessage) {
  Driver driver;
  driver.Feed("EHLO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\n");
  EXPECT_EQ(Codes(driver.Feed("BDAT 5\r\na\nb\r\nBDAT 3 LAST\r\nc\r\n")), (Codes_{"550", "550"}));
  EXPECT_TRUE(driver.messages().empty());
  EXPECT_EQ(driver.Feed("RCPT TO:<b@mx.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
}

TEST(ServerSessionTest, BdatSizeLimit) {
  ServerOptions options = TestOptions();
  options.max_message_size = 10;
  Driver driver(options);
  driver.Feed("EHLO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\n");
  EXPECT_EQ(driver.Feed("BDAT 8\r\n1234567\n"),
            "550 5.5.2 Error: bare LF in message; lines must "
            "end with CRLF; message refused\r\n");
  driver.Feed("RSET\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\n");
  EXPECT_EQ(driver.Feed("BDAT 12 LAST\r\n1234567890\r\n"),
            "552 5.3.4 Error: message size exceeds fixed maximum message size\r\n");
  EXPECT_TRUE(driver.messages().empty());
}

TEST(ServerSessionTest, ShutdownAndRefuse) {
  Driver driver;
  EXPECT_EQ(driver.session().Shutdown("Error: timeout exceeded"), ServerAction::kClose);
  EXPECT_EQ(driver.session().TakeOutput(), "421 4.4.2 mx.test Error: timeout exceeded\r\n");
  ServerSession refused(TestOptions(), nullptr);
  EXPECT_EQ(refused.Refuse("Blocked"), ServerAction::kClose);
  EXPECT_EQ(refused.TakeOutput(), "554 5.7.1 Blocked\r\n");
}

// SMTP smuggling: an end-of-data look-alike followed by a hidden second
// transaction in the same packet. Only the real <CRLF>.<CRLF> ends the data,
// and the message containing the look-alike is refused: no message at all
// is accepted, neither the first nor the hidden one.
TEST(ServerSessionTest, SmugglingVariantsAcceptNoMessage) {
  const std::string_view variants[] = {"\n.\n"sv,       "\n.\r\n"sv, "\r.\r"sv,
                                       "\r\n.\r"sv,     "\r.\r\n"sv, "\r\n\0.\r\n"sv,
                                       "\r\n.\0\r\n"sv, "\r\n.\n"sv, "\n..\n"sv};
  for (std::string_view variant : variants) {
    for (bool normalize : {false, true}) {
      SCOPED_TRACE(testing::PrintToString(std::string(variant)) + (normalize ? " normalize" : ""));
      ServerOptions options = TestOptions();
      options.normalize_bare_lf = normalize;
      Driver driver(options);
      driver.Feed(kEnvelope);
      const std::string hidden =
          "MAIL FROM:<ceo@bank.test>\r\nRCPT TO:<victim@mx.test>\r\nDATA\r\n"
          "From: ceo@bank.test\r\n\r\nsmuggled\r\n.\r\n";
      const std::string reply =
          driver.Feed("Subject: first\r\n\r\nbody" + std::string(variant) + hidden + "QUIT\r\n");
      EXPECT_EQ(Codes(reply).size(), 2u) << reply;  // one reply to the data, one to QUIT
      EXPECT_FALSE(absl::StrContains(reply, "354")) << reply;
      EXPECT_FALSE(absl::StrContains(reply, "2.1.0")) << reply;
      const bool only_bare_lf = variant.find('\r') == std::string_view::npos ||
                                variant == "\r\n.\n"sv || variant == "\n.\r\n"sv;
      if (normalize && only_bare_lf) {
        // Trusted-network mode: one message, the "hidden" one is its content.
        ASSERT_EQ(driver.messages().size(), 1u) << reply;
        EXPECT_TRUE(absl::StrContains(driver.messages()[0].body, "MAIL FROM:<ceo@bank.test>"));
        ASSERT_EQ(driver.messages()[0].envelope.recipients.size(), 1u);
        EXPECT_EQ(driver.messages()[0].envelope.recipients[0].address.ToString(), "b@mx.test");
      } else {
        EXPECT_TRUE(driver.messages().empty()) << reply;
        EXPECT_TRUE(absl::StartsWith(reply, "550 5.")) << reply;
      }
    }
  }
}

TEST(ServerSessionTest, SmugglingWithBareLfThenRealEndRefusesAndContinues) {
  Driver driver;
  driver.Feed(kEnvelope);
  EXPECT_EQ(driver.Feed("a\n.\nMAIL FROM:<x@y.test>\r\n.\r\nNOOP\r\n"),
            "550 5.5.2 Error: bare LF in message; lines must end with CRLF; message refused\r\n"
            "250 2.0.0 Ok\r\n");
  EXPECT_TRUE(driver.messages().empty());
}

// The transcript as one string, byte by byte, and split at every point must
// give the same replies and messages.
struct Outcome {
  std::string output;
  std::vector<std::string> bodies;
  bool closed;
};

Outcome Run(const ServerOptions& options, const std::vector<std::string_view>& pieces) {
  Driver driver(options);
  for (std::string_view piece : pieces) driver.Feed(piece);
  Outcome outcome{driver.output(), {}, driver.closed()};
  for (const ReceivedMessage& message : driver.messages()) outcome.bodies.push_back(message.body);
  return outcome;
}

void ExpectSplitIndependent(const ServerOptions& options, std::string_view transcript) {
  const Outcome whole = Run(options, {transcript});
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < transcript.size(); ++i) bytes.push_back(transcript.substr(i, 1));
  const Outcome single = Run(options, bytes);
  EXPECT_EQ(single.output, whole.output);
  EXPECT_EQ(single.bodies, whole.bodies);
  EXPECT_EQ(single.closed, whole.closed);
  for (size_t split = 1; split < transcript.size(); ++split) {
    const Outcome two = Run(options, {transcript.substr(0, split), transcript.substr(split)});
    ASSERT_EQ(two.output, whole.output) << "split at " << split;
    ASSERT_EQ(two.bodies, whole.bodies) << "split at " << split;
  }
  for (size_t a = 1; a + 1 < transcript.size(); a += 7) {
    for (size_t b = a + 1; b < transcript.size(); b += 5) {
      const Outcome three = Run(
          options, {transcript.substr(0, a), transcript.substr(a, b - a), transcript.substr(b)});
      ASSERT_EQ(three.output, whole.output) << "split at " << a << "," << b;
    }
  }
}

TEST(ServerSessionTest, SplitIndependentTransaction) {
  ExpectSplitIndependent(
      TestOptions(),
      "EHLO client.test\r\nMAIL FROM:<a@c.test> SIZE=100 RET=FULL ENVID=x+2By\r\n"
      "RCPT TO:<b@mx.test> NOTIFY=FAILURE\r\nRCPT TO:<bad\r\nDATA\r\n"
      "Subject: x\r\n\r\n..stuffed\r\n.x\r\n\r\n.\r\nNOOP\r\nBOGUS\r\n"
      "MAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\nBDAT 7\r\nab\r\n.\r\nBDAT 2 LAST\r\nc\r\n"
      "RSET\r\nQUIT\r\nNOOP\r\n");
}

TEST(ServerSessionTest, SplitIndependentSmuggling) {
  ExpectSplitIndependent(TestOptions(),
                         "EHLO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\nDATA\r\n"
                         "x\n.\nMAIL FROM:<e@v.test>\r\n\r.\r\r\n.\rDATA\r\n\r\n.\r\nNOOP\r\n");
  ServerOptions normalize = TestOptions();
  normalize.normalize_bare_lf = true;
  ExpectSplitIndependent(normalize,
                         "EHLO c\nMAIL FROM:<a@c.test>\nRCPT TO:<b@mx.test>\r\nDATA\n"
                         "x\n.\nMAIL FROM:<e@v.test>\r\n\n.\r\n.\r\nNOOP\n");
}

TEST(ServerSessionTest, SplitIndependentAuthAndLimits) {
  ServerOptions options = AuthOptions();
  options.max_command_line = 40;
  options.max_auth_line = 60;
  options.max_bad_commands = 6;
  ExpectSplitIndependent(
      options,
      absl::StrCat("EHLO c\r\nAUTH LOGIN\r\n", B64("user"), "\r\n", B64("nope"),
                   "\r\nAUTH PLAIN\r\n*\r\nNOOP ", std::string(50, 'x'), "\r\nAUTH PLAIN ",
                   B64("\0user\0secret"sv), "\r\nMAIL FROM:<a@c.test>\r\nX\r\nY\r\nZ\r\nNOOP\r\n"));
}

}  // namespace
}  // namespace sluice::smtp
