#include "smtp/client_session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace sluice::smtp {
namespace {

constexpr char kEhloFull[] =
    "250-mx.test greets client.test\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 1000\r\n"
    "250-8BITMIME\r\n"
    "250-SMTPUTF8\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-AUTH PLAIN login\r\n"
    "250 DSN\r\n";
constexpr char kEhloPlain[] = "250-mx.test\r\n250 ENHANCEDSTATUSCODES\r\n";
constexpr char kEhloChunking[] = "250-mx.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n";
constexpr char kEhloChunkingNoPipe[] = "250-mx.test\r\n250 CHUNKING\r\n";

Address Addr(std::string local, std::string domain) {
  Address address;
  address.local_part = std::move(local);
  address.domain = std::move(domain);
  return address;
}

Recipient Rcpt(std::string local, std::string domain = "y.test") {
  Recipient recipient;
  recipient.address = Addr(std::move(local), std::move(domain));
  return recipient;
}

OutboundMessage Message(std::vector<Recipient> recipients, std::string_view body) {
  OutboundMessage message;
  message.sender = Addr("a", "x.test");
  message.recipients = std::move(recipients);
  message.body = body;
  return message;
}

ClientOptions Options() {
  ClientOptions options;
  options.helo_name = "client.test";
  options.tls = TlsPolicy::kNever;
  options.record_transcript = true;
  return options;
}

// A scripted server: the test says what the server sends and checks what
// the client wrote. With the parameter true every server byte is fed alone.
class ClientSessionTest : public ::testing::TestWithParam<bool> {
 protected:
  void Start(const ClientOptions& options = Options()) { session_.emplace(options); }
  ClientSession& session() { return *session_; }

  // Feeds what the server sends; returns the action.
  ClientAction Server(std::string_view bytes) {
    ClientAction action = session_->action();
    if (GetParam()) {
      for (char c : bytes) action = session_->Feed(std::string_view(&c, 1));
    } else {
      action = session_->Feed(bytes);
    }
    return action;
  }
  // What the client wrote since the last call.
  std::string Client() { return session_->TakeOutput(); }

  // Greeting and EHLO with `ehlo`: the session is ready.
  void Connect(std::string_view ehlo, const ClientOptions& options = Options()) {
    Start(options);
    ASSERT_EQ(session().action(), ClientAction::kReadMore);
    ASSERT_EQ(session().current_wait(), ClientWait::kGreeting);
    ASSERT_EQ(Server("220 mx.test ESMTP\r\n"), ClientAction::kReadMore);
    ASSERT_EQ(Client(), "EHLO client.test\r\n");
    ASSERT_EQ(session().current_wait(), ClientWait::kHelo);
    ASSERT_EQ(Server(ehlo), ClientAction::kReadyForMessage);
    ASSERT_EQ(Client(), "");
  }

  std::optional<ClientSession> session_;
};

INSTANTIATE_TEST_SUITE_P(Split, ClientSessionTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "ByteByByte" : "Whole";
                         });

TEST_P(ClientSessionTest, ParsesMultilineEhloCapabilities) {
  Connect(kEhloFull);
  const ServerCapabilities& caps = session().capabilities();
  EXPECT_TRUE(caps.esmtp);
  EXPECT_EQ(caps.server_name, "mx.test");
  EXPECT_TRUE(caps.pipelining);
  EXPECT_TRUE(caps.size);
  EXPECT_EQ(caps.max_size, 1000u);
  EXPECT_TRUE(caps.eightbitmime);
  EXPECT_TRUE(caps.smtputf8);
  EXPECT_TRUE(caps.enhanced_status_codes);
  EXPECT_TRUE(caps.dsn);
  EXPECT_FALSE(caps.chunking);
  EXPECT_FALSE(caps.starttls);
  EXPECT_EQ(caps.auth_mechanisms, (std::vector<std::string>{"PLAIN", "LOGIN"}));
}

TEST_P(ClientSessionTest, PipelinesMailRcptDataWithDsnParameters) {
  Connect(kEhloFull);
  OutboundMessage message = Message({Rcpt("b"), Rcpt("c")}, "Subject: hi\r\n\r\nbody\r\n");
  message.needs_8bit = true;
  message.ret = DsnRet::kHeaders;
  message.envid = "id+1=";
  message.recipients[0].notify = kNotifySuccess | kNotifyFailure;
  message.recipients[0].orcpt_type = "rfc822";
  message.recipients[0].orcpt = "b@y.test";
  message.recipients[1].notify = kNotifyNever;
  ASSERT_EQ(session().SendMessage(message), ClientAction::kReadMore);
  EXPECT_EQ(Client(),
            "MAIL FROM:<a@x.test> SIZE=21 BODY=8BITMIME RET=HDRS ENVID=id+2B1+3D\r\n"
            "RCPT TO:<b@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@y.test\r\n"
            "RCPT TO:<c@y.test> NOTIFY=NEVER\r\n"
            "DATA\r\n");
  EXPECT_EQ(session().current_wait(), ClientWait::kMail);
  EXPECT_EQ(session().current_timeout(), absl::Minutes(5));
  ASSERT_EQ(Server("250 2.1.0 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(session().current_wait(), ClientWait::kRcpt);
  ASSERT_EQ(Server("250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(session().current_wait(), ClientWait::kDataInitiation);
  EXPECT_EQ(session().current_timeout(), absl::Minutes(2));
  EXPECT_EQ(Client(), "");  // nothing before the 354
  ASSERT_EQ(Server("354 End data with <CR><LF>.<CR><LF>\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(session().write_timeout(), absl::Minutes(3));
  EXPECT_EQ(Client(), "Subject: hi\r\n\r\nbody\r\n.\r\n");
  EXPECT_EQ(session().current_wait(), ClientWait::kDataTermination);
  EXPECT_EQ(session().current_timeout(), absl::Minutes(10));
  ASSERT_EQ(Server("250 2.0.0 Ok: queued as Q1\r\n"), ClientAction::kMessageDone);
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(session().action(), ClientAction::kReadyForMessage);
  ASSERT_EQ(result.recipients.size(), 2u);
  for (const RecipientResult& r : result.recipients) {
    EXPECT_EQ(r.status, RecipientStatus::kDelivered);
    EXPECT_EQ(r.reply.ToString(), "250 2.0.0 Ok: queued as Q1");
  }
  EXPECT_TRUE(result.data_sent);
  EXPECT_EQ(result.final_reply.code, 250);
  EXPECT_TRUE(absl::StrContains(result.transcript, "S: 354 End data")) << result.transcript;
  EXPECT_TRUE(absl::StrContains(result.transcript, "C: <21 octets of message data>"));
  EXPECT_EQ(session().messages_sent(), 1u);
}

TEST_P(ClientSessionTest, WithoutPipeliningSendsOneCommandPerReply) {
  Connect(kEhloPlain);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b"), Rcpt("c")}, "x\r\n")),
            ClientAction::kReadMore);
  EXPECT_EQ(Client(), "MAIL FROM:<a@x.test>\r\n");
  ASSERT_EQ(Server("250 2.1.0 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "RCPT TO:<b@y.test>\r\n");
  ASSERT_EQ(Server("250 2.1.5 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "RCPT TO:<c@y.test>\r\n");
  ASSERT_EQ(Server("250 2.1.5 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "DATA\r\n");
  ASSERT_EQ(Server("354 go\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "x\r\n.\r\n");
  ASSERT_EQ(Server("250 2.0.0 Ok\r\n"), ClientAction::kMessageDone);
  EXPECT_EQ(session().TakeResult().CountStatus(RecipientStatus::kDelivered), 2u);
}

TEST_P(ClientSessionTest, MixedRecipientResults) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("ok"), Rcpt("later"), Rcpt("never")}, "x\r\n")),
            ClientAction::kReadMore);
  Client();
  ASSERT_EQ(Server("250 2.1.0 Ok\r\n"
                   "250 2.1.5 Ok\r\n"
                   "450 4.2.1 <later@y.test>: Mailbox busy\r\n"
                   "550-5.1.1 <never@y.test>: Recipient address rejected:\r\n"
                   "550 5.1.1 User unknown in virtual mailbox table\r\n"
                   "354 go\r\n"),
            ClientAction::kReadMore);
  EXPECT_EQ(Client(), "x\r\n.\r\n");
  ASSERT_EQ(Server("250 2.0.0 Ok: queued\r\n"), ClientAction::kMessageDone);
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.recipients[0].status, RecipientStatus::kDelivered);
  EXPECT_EQ(result.recipients[1].status, RecipientStatus::kTemporaryFailure);
  EXPECT_EQ(result.recipients[1].reply.ToString(), "450 4.2.1 <later@y.test>: Mailbox busy");
  EXPECT_EQ(result.recipients[2].status, RecipientStatus::kPermanentFailure);
  EXPECT_EQ(result.recipients[2].reply.enhanced, "5.1.1");
  EXPECT_EQ(result.recipients[2].reply.ToString(),
            "550 5.1.1 <never@y.test>: Recipient address rejected: User unknown in virtual "
            "mailbox table");
  // A completed transaction: the next MAIL follows without RSET.
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "y\r\n")), ClientAction::kReadMore);
  EXPECT_TRUE(absl::StartsWith(Client(), "MAIL FROM:<a@x.test> SIZE=3\r\n"));
}

TEST_P(ClientSessionTest, AllRecipientsRejectedWithPipeliningExpectsDataRefusal) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b"), Rcpt("c")}, "x\r\n")),
            ClientAction::kReadMore);
  EXPECT_TRUE(absl::EndsWith(Client(), "DATA\r\n"));
  ASSERT_EQ(Server("250 2.1.0 Ok\r\n550 5.1.1 no b\r\n450 4.1.1 no c\r\n"
                   "554 5.5.1 Error: no valid recipients\r\n"),
            ClientAction::kMessageDone);
  EXPECT_EQ(Client(), "");  // no data
  const DeliveryResult result = session().TakeResult();
  EXPECT_FALSE(result.data_sent);
  EXPECT_EQ(result.recipients[0].status, RecipientStatus::kPermanentFailure);
  EXPECT_EQ(result.recipients[0].reply.ToString(), "550 5.1.1 no b");
  EXPECT_EQ(result.recipients[1].status, RecipientStatus::kTemporaryFailure);
  EXPECT_EQ(result.recipients[1].reply.ToString(), "450 4.1.1 no c");
  ASSERT_EQ(session().action(), ClientAction::kReadyForMessage);
  // The next transaction starts with RSET, in the same batch.
  ASSERT_EQ(session().SendMessage(Message({Rcpt("d")}, "x\r\n")), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "RSET\r\nMAIL FROM:<a@x.test> SIZE=3\r\nRCPT TO:<d@y.test>\r\nDATA\r\n");
  EXPECT_EQ(session().current_wait(), ClientWait::kRset);
  ASSERT_EQ(Server("250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n"),
            ClientAction::kReadMore);
  EXPECT_EQ(Client(), "x\r\n.\r\n");
  ASSERT_EQ(Server("250 2.0.0 Ok\r\n"), ClientAction::kMessageDone);
  EXPECT_EQ(session().TakeResult().CountStatus(RecipientStatus::kDelivered), 1u);
}

TEST_P(ClientSessionTest, AllRecipientsRejectedAndServerSays354AnywayGetsALoneDot) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "secret\r\n")), ClientAction::kReadMore);
  Client();
  ASSERT_EQ(Server("250 2.1.0 Ok\r\n550 5.1.1 no b\r\n354 go\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), ".\r\n");
  ASSERT_EQ(Server("554 5.5.1 no valid recipients\r\n"), ClientAction::kMessageDone);
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.recipients[0].reply.ToString(), "550 5.1.1 no b");
  EXPECT_FALSE(result.data_sent);
}

TEST_P(ClientSessionTest, AllRecipientsRejectedWithoutPipeliningSendsNoData) {
  Connect(kEhloPlain);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "x\r\n")), ClientAction::kReadMore);
  Client();
  ASSERT_EQ(Server("250 2.1.0 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "RCPT TO:<b@y.test>\r\n");
  ASSERT_EQ(Server("550 5.1.1 no b\r\n"), ClientAction::kMessageDone);
  EXPECT_EQ(Client(), "");
  EXPECT_EQ(session().TakeResult().recipients[0].status, RecipientStatus::kPermanentFailure);
  // RSET, alone, before the next MAIL.
  ASSERT_EQ(session().SendMessage(Message({Rcpt("c")}, "x\r\n")), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "RSET\r\n");
  ASSERT_EQ(Server("250 2.0.0 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "MAIL FROM:<a@x.test>\r\n");
}

TEST_P(ClientSessionTest, MailRefusedWithoutPipeliningDecidesEveryRecipient) {
  Connect(kEhloPlain);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b"), Rcpt("c")}, "x\r\n")),
            ClientAction::kReadMore);
  Client();
  ASSERT_EQ(Server("452 4.3.1 Insufficient system storage\r\n"), ClientAction::kMessageDone);
  EXPECT_EQ(Client(), "");
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.CountStatus(RecipientStatus::kTemporaryFailure), 2u);
  EXPECT_EQ(result.recipients[1].reply.ToString(), "452 4.3.1 Insufficient system storage");
  // A refused MAIL opened no transaction: no RSET.
  ASSERT_EQ(session().SendMessage(Message({Rcpt("c")}, "x\r\n")), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "MAIL FROM:<a@x.test>\r\n");
}

TEST_P(ClientSessionTest, MailRefusedWithPipeliningIgnoresTheFollowingRefusals) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b"), Rcpt("c")}, "x\r\n")),
            ClientAction::kReadMore);
  Client();
  ASSERT_EQ(Server("553 5.7.1 Sender rejected\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n"
                   "503 5.5.1 need MAIL\r\n"),
            ClientAction::kMessageDone);
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.CountStatus(RecipientStatus::kPermanentFailure), 2u);
  EXPECT_EQ(result.recipients[0].reply.ToString(), "553 5.7.1 Sender rejected");
  EXPECT_EQ(result.final_reply.ToString(), "553 5.7.1 Sender rejected");
}

TEST_P(ClientSessionTest, DotStuffsLinesStartingWithADot) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(
                Message({Rcpt("b")}, ".starts\r\nmiddle\r\n.\r\n..two\r\nend.\r\n. x\r\n")),
            ClientAction::kReadMore);
  Client();
  ASSERT_EQ(Server("250 Ok\r\n250 Ok\r\n354 go\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "..starts\r\nmiddle\r\n..\r\n...two\r\nend.\r\n.. x\r\n.\r\n");
}

TEST_P(ClientSessionTest, EndsABodyWithoutFinalCrlfAndNormalisesBareLineEnds) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "a\nb\r.c\r\nno newline")),
            ClientAction::kReadMore);
  // SIZE counts the octets as sent (canonical, unstuffed).
  EXPECT_TRUE(absl::StartsWith(Client(), "MAIL FROM:<a@x.test> SIZE=22\r\n"));
  ASSERT_EQ(Server("250 Ok\r\n250 Ok\r\n354 go\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "a\r\nb\r\n..c\r\nno newline\r\n.\r\n");
}

TEST_P(ClientSessionTest, EmptyBody) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "")), ClientAction::kReadMore);
  Client();
  ASSERT_EQ(Server("250 Ok\r\n250 Ok\r\n354 go\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), ".\r\n");
}

TEST_P(ClientSessionTest, BdatSendsTheWholeBodyAfterTheRecipients) {
  Connect(kEhloChunking);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b"), Rcpt("c")}, ".dot\r\nno crlf")),
            ClientAction::kReadMore);
  EXPECT_EQ(Client(), "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\n");
  ASSERT_EQ(Server("250 Ok\r\n250 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "");
  ASSERT_EQ(Server("550 5.1.1 no c\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "BDAT 15 LAST\r\n.dot\r\nno crlf\r\n");  // no stuffing
  EXPECT_EQ(session().current_wait(), ClientWait::kDataTermination);
  ASSERT_EQ(Server("250 2.0.0 15 octets received\r\n"), ClientAction::kMessageDone);
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.recipients[0].status, RecipientStatus::kDelivered);
  EXPECT_EQ(result.recipients[1].status, RecipientStatus::kPermanentFailure);
  EXPECT_TRUE(result.data_sent);
}

TEST_P(ClientSessionTest, BdatChunksArePipelined) {
  ClientOptions options = Options();
  options.bdat_chunk_size = 4;
  Connect(kEhloChunking, options);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "0123456789\r\n")), ClientAction::kReadMore);
  Client();
  ASSERT_EQ(Server("250 Ok\r\n250 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "BDAT 4\r\n0123BDAT 4\r\n4567BDAT 4 LAST\r\n89\r\n");
  EXPECT_EQ(session().current_wait(), ClientWait::kBdat);
  ASSERT_EQ(Server("250 Ok\r\n250 Ok\r\n"), ClientAction::kReadMore);
  ASSERT_EQ(Server("250 Ok 12\r\n"), ClientAction::kMessageDone);
  EXPECT_EQ(session().TakeResult().recipients[0].status, RecipientStatus::kDelivered);
}

TEST_P(ClientSessionTest, BdatChunksWithoutPipeliningWaitForEachReply) {
  ClientOptions options = Options();
  options.bdat_chunk_size = 6;
  Connect(kEhloChunkingNoPipe, options);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "0123456789\r\n")), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "MAIL FROM:<a@x.test>\r\n");
  ASSERT_EQ(Server("250 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "RCPT TO:<b@y.test>\r\n");
  ASSERT_EQ(Server("250 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "BDAT 6\r\n012345");
  ASSERT_EQ(Server("250 Ok\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "BDAT 6 LAST\r\n6789\r\n");
  ASSERT_EQ(Server("250 Ok\r\n"), ClientAction::kMessageDone);
  EXPECT_EQ(session().TakeResult().recipients[0].status, RecipientStatus::kDelivered);
}

TEST_P(ClientSessionTest, RefusedBdatChunkFailsTheTransaction) {
  ClientOptions options = Options();
  options.bdat_chunk_size = 4;
  Connect(kEhloChunking, options);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "0123456789\r\n")), ClientAction::kReadMore);
  Client();
  ASSERT_EQ(Server("250 Ok\r\n250 Ok\r\n"), ClientAction::kReadMore);
  Client();
  ASSERT_EQ(Server("552 5.3.4 too big\r\n503 5.5.1 no\r\n"), ClientAction::kReadMore);
  ASSERT_EQ(Server("503 5.5.1 no\r\n"), ClientAction::kMessageDone);
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.recipients[0].status, RecipientStatus::kPermanentFailure);
  EXPECT_EQ(result.recipients[0].reply.ToString(), "552 5.3.4 too big");
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "x\r\n")), ClientAction::kReadMore);
  EXPECT_TRUE(absl::StartsWith(Client(), "RSET\r\nMAIL"));
}

TEST_P(ClientSessionTest, RefusesMessageLargerThanServerSizeWithoutSending) {
  Connect(kEhloFull);  // SIZE 1000
  const std::string big(1001, 'x');
  const std::string_view too_big = std::string_view(big).substr(0, 999);  // +CRLF: 1001
  OutboundMessage message = Message({Rcpt("b"), Rcpt("c")}, too_big);
  ASSERT_EQ(session().SendMessage(message), ClientAction::kMessageDone);
  EXPECT_EQ(Client(), "");
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.CountStatus(RecipientStatus::kPermanentFailure), 2u);
  EXPECT_EQ(result.recipients[0].reply.code, 552);
  EXPECT_EQ(result.recipients[0].reply.enhanced, "5.3.4");
  EXPECT_TRUE(result.recipients[0].reply.local);
  EXPECT_FALSE(result.data_sent);
  // The connection is still usable; a body of exactly the limit goes.
  ASSERT_EQ(session().action(), ClientAction::kReadyForMessage);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, std::string_view(big).substr(0, 998))),
            ClientAction::kReadMore);
  EXPECT_TRUE(absl::StartsWith(Client(), "MAIL FROM:<a@x.test> SIZE=1000\r\n"));
}

TEST_P(ClientSessionTest, RefusesSmtputf8MessageToServerWithoutIt) {
  Connect(kEhloPlain);
  OutboundMessage message = Message({Rcpt("b")}, "x\r\n");
  message.needs_smtputf8 = true;
  ASSERT_EQ(session().SendMessage(message), ClientAction::kMessageDone);
  EXPECT_EQ(Client(), "");
  DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.recipients[0].status, RecipientStatus::kPermanentFailure);
  EXPECT_EQ(result.recipients[0].reply.enhanced, "5.6.7");
  // A UTF-8 address implies it.
  message = Message({Rcpt("b")}, "x\r\n");
  message.recipients[0].address = Addr("\xc3\xa9t\xc3\xa9", "y.test");
  message.recipients[0].address.utf8 = true;
  ASSERT_EQ(session().SendMessage(message), ClientAction::kMessageDone);
  EXPECT_EQ(session().TakeResult().recipients[0].reply.enhanced, "5.6.7");
  EXPECT_EQ(Client(), "");
}

TEST_P(ClientSessionTest, SendsSmtputf8WhenOfferedAndNeeded) {
  Connect(kEhloFull);
  OutboundMessage message = Message({Rcpt("b")}, "x\r\n");
  message.sender = Addr("\xc3\xa9", "x.test");
  message.sender.utf8 = true;
  ASSERT_EQ(session().SendMessage(message), ClientAction::kReadMore);
  EXPECT_TRUE(absl::StartsWith(Client(), "MAIL FROM:<\xc3\xa9@x.test> SIZE=3 SMTPUTF8\r\n"));
}

TEST_P(ClientSessionTest, EightBitWithoutServerSupport) {
  Connect(kEhloPlain);
  OutboundMessage message = Message({Rcpt("b")}, "caf\xc3\xa9\r\n");
  message.needs_8bit = true;
  ASSERT_EQ(session().SendMessage(message), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "MAIL FROM:<a@x.test>\r\n");  // sent anyway, no BODY=

  ClientOptions strict = Options();
  strict.strict_8bitmime = true;
  Connect(kEhloPlain, strict);
  ASSERT_EQ(session().SendMessage(message), ClientAction::kMessageDone);
  EXPECT_EQ(session().TakeResult().recipients[0].reply.enhanced, "5.6.3");
}

TEST_P(ClientSessionTest, RefusesAddressesWithControlCharacters) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b\r\nRSET")}, "x\r\n")),
            ClientAction::kMessageDone);
  EXPECT_EQ(Client(), "");
  EXPECT_EQ(session().TakeResult().recipients[0].status, RecipientStatus::kPermanentFailure);
}

TEST_P(ClientSessionTest, FallsBackToHeloWhenEhloIsRefused) {
  Start();
  ASSERT_EQ(Server("220 old.test SMTP\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "EHLO client.test\r\n");
  ASSERT_EQ(Server("502 5.5.2 Error: command not recognized\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "HELO client.test\r\n");
  ASSERT_EQ(Server("250 old.test\r\n"), ClientAction::kReadyForMessage);
  EXPECT_FALSE(session().capabilities().esmtp);
  OutboundMessage message = Message({Rcpt("b")}, "x\r\n");
  message.ret = DsnRet::kFull;
  ASSERT_EQ(session().SendMessage(message), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "MAIL FROM:<a@x.test>\r\n");  // no parameters, no pipelining
}

TEST_P(ClientSessionTest, HeloRefusedToo) {
  Start();
  Server("220 old.test SMTP\r\n");
  Server("500 what\r\n");
  Client();
  ASSERT_EQ(Server("550 go away\r\n"), ClientAction::kClosed);
  EXPECT_EQ(Client(), "QUIT\r\n");
  ASSERT_TRUE(session().failure().has_value());
  EXPECT_TRUE(session().failure()->permanent);
  EXPECT_EQ(session().failure()->reply.ToString(), "550 go away");
}

TEST_P(ClientSessionTest, StartTlsThenEhloAgain) {
  ClientOptions options = Options();
  options.tls = TlsPolicy::kOpportunistic;
  Start(options);
  Server("220 mx.test ESMTP\r\n");
  EXPECT_EQ(Client(), "EHLO client.test\r\n");
  ASSERT_EQ(Server("250-mx.test\r\n250-SIZE 10\r\n250 STARTTLS\r\n"), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "STARTTLS\r\n");
  EXPECT_EQ(session().current_wait(), ClientWait::kStartTls);
  ASSERT_EQ(Server("220 2.0.0 Ready to start TLS\r\n"), ClientAction::kStartTls);
  EXPECT_EQ(session().current_wait(), ClientWait::kNone);
  EXPECT_FALSE(session().tls_active());
  ASSERT_EQ(session().TlsStarted(), ClientAction::kReadMore);
  EXPECT_TRUE(session().tls_active());
  EXPECT_EQ(Client(), "EHLO client.test\r\n");
  EXPECT_FALSE(session().capabilities().size);  // forgotten
  ASSERT_EQ(Server("250-mx.test\r\n250 PIPELINING\r\n"), ClientAction::kReadyForMessage);
  EXPECT_TRUE(session().capabilities().pipelining);
  EXPECT_FALSE(session().capabilities().starttls);
}

TEST_P(ClientSessionTest, RefusesPlainTextAfterStartTlsReply) {
  ClientOptions options = Options();
  options.tls = TlsPolicy::kOpportunistic;
  Start(options);
  Server("220 mx.test ESMTP\r\n");
  Server("250-mx.test\r\n250 STARTTLS\r\n");
  Client();
  ASSERT_EQ(Server("220 Ready\r\n250-injected\r\n"), ClientAction::kClosed);
  EXPECT_TRUE(absl::StrContains(session().failure()->text, "after its STARTTLS reply"));
}

TEST_P(ClientSessionTest, OpportunisticTlsGoesOnWhenStartTlsIsRefused) {
  ClientOptions options = Options();
  options.tls = TlsPolicy::kOpportunistic;
  Start(options);
  Server("220 mx.test ESMTP\r\n");
  Server("250-mx.test\r\n250 STARTTLS\r\n");
  EXPECT_EQ(Client(), "EHLO client.test\r\nSTARTTLS\r\n");
  ASSERT_EQ(Server("454 4.7.0 TLS not available\r\n"), ClientAction::kReadyForMessage);
  EXPECT_FALSE(session().tls_active());
}

TEST_P(ClientSessionTest, RequiredTlsNotOfferedFailsTheAttempt) {
  ClientOptions options = Options();
  options.tls = TlsPolicy::kRequire;
  Start(options);
  Server("220 mx.test ESMTP\r\n");
  Client();
  ASSERT_EQ(Server(kEhloFull), ClientAction::kClosed);
  EXPECT_EQ(Client(), "QUIT\r\n");
  ASSERT_TRUE(session().failure().has_value());
  EXPECT_FALSE(session().failure()->permanent);
  EXPECT_EQ(session().failure()->reply.enhanced, "4.7.4");
}

TEST_P(ClientSessionTest, TlsHandshakeFailureFailsTheAttempt) {
  ClientOptions options = Options();
  options.tls = TlsPolicy::kRequire;
  Start(options);
  Server("220 mx.test ESMTP\r\n");
  Server("250-mx.test\r\n250 STARTTLS\r\n");
  ASSERT_EQ(Server("220 go\r\n"), ClientAction::kStartTls);
  Client();
  ASSERT_EQ(session().TlsFailed("certificate verify failed"), ClientAction::kClosed);
  EXPECT_EQ(Client(), "");  // nothing in clear text
  EXPECT_TRUE(absl::StrContains(session().failure()->text, "certificate verify failed"));
}

TEST_P(ClientSessionTest, Reply421MidTransactionFailsEveryPendingRecipient) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b"), Rcpt("c"), Rcpt("d")}, "x\r\n")),
            ClientAction::kReadMore);
  Client();
  ASSERT_EQ(Server("250 Ok\r\n250 Ok\r\n550 5.1.1 no c\r\n"), ClientAction::kReadMore);
  ASSERT_EQ(Server("421 4.3.2 mx.test Service shutting down\r\n"), ClientAction::kMessageDone);
  EXPECT_EQ(Client(), "");  // no QUIT after a 421
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.recipients[0].status, RecipientStatus::kTemporaryFailure);
  EXPECT_EQ(result.recipients[0].reply.ToString(), "421 4.3.2 mx.test Service shutting down");
  EXPECT_EQ(result.recipients[1].status, RecipientStatus::kPermanentFailure);  // kept
  EXPECT_EQ(result.recipients[2].status, RecipientStatus::kTemporaryFailure);
  EXPECT_EQ(result.recipients[2].reply.code, 421);
  EXPECT_EQ(session().action(), ClientAction::kClosed);
  ASSERT_TRUE(session().failure().has_value());
  EXPECT_EQ(session().failure()->reply.code, 421);
  EXPECT_FALSE(session().failure()->permanent);
}

TEST_P(ClientSessionTest, Reply421AfterDataFailsAcceptedRecipients) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "x\r\n")), ClientAction::kReadMore);
  Server("250 Ok\r\n250 Ok\r\n354 go\r\n");
  ASSERT_EQ(Server("421 4.4.2 timeout\r\n"), ClientAction::kMessageDone);
  EXPECT_EQ(session().TakeResult().recipients[0].status, RecipientStatus::kTemporaryFailure);
  EXPECT_EQ(session().action(), ClientAction::kClosed);
}

TEST_P(ClientSessionTest, Greeting554FailsTheAttemptAndQuits) {
  Start();
  ASSERT_EQ(Server("554 5.7.1 No SMTP service here\r\n"), ClientAction::kClosed);
  EXPECT_EQ(Client(), "QUIT\r\n");
  ASSERT_TRUE(session().failure().has_value());
  EXPECT_TRUE(session().failure()->permanent);
  EXPECT_EQ(session().failure()->reply.ToString(), "554 5.7.1 No SMTP service here");
}

TEST_P(ClientSessionTest, Greeting421FailsTemporarily) {
  Start();
  ASSERT_EQ(Server("421 busy\r\n"), ClientAction::kClosed);
  EXPECT_EQ(Client(), "");
  EXPECT_FALSE(session().failure()->permanent);
}

TEST_P(ClientSessionTest, MalformedReplyFailsTheConnection) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "x\r\n")), ClientAction::kReadMore);
  ASSERT_EQ(Server("250-Ok\r\n251 Ok\r\n"), ClientAction::kMessageDone);
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.recipients[0].status, RecipientStatus::kTemporaryFailure);
  EXPECT_TRUE(result.recipients[0].reply.local);
  EXPECT_EQ(session().action(), ClientAction::kClosed);
  EXPECT_EQ(session().failure()->text,
            "malformed reply from the server: reply code changed from 250 to 251 within a "
            "multiline reply");
}

TEST_P(ClientSessionTest, MalformedGreeting) {
  Start();
  ASSERT_EQ(Server("HTTP/1.1 400 Bad Request\r\n"), ClientAction::kClosed);
  EXPECT_TRUE(absl::StartsWith(session().failure()->text, "malformed reply"));
}

TEST_P(ClientSessionTest, UnexpectedReplyFailsTheConnection) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "x\r\n")), ClientAction::kReadMore);
  ASSERT_EQ(Server("354 what\r\n"), ClientAction::kMessageDone);
  EXPECT_EQ(session().TakeResult().recipients[0].status, RecipientStatus::kTemporaryFailure);
  EXPECT_EQ(session().failure()->text, "unexpected reply to MAIL FROM: 354 what");
}

TEST_P(ClientSessionTest, UnsolicitedReplyWhileIdle) {
  Connect(kEhloFull);
  ASSERT_EQ(Server("250 surprise\r\n"), ClientAction::kClosed);
  EXPECT_TRUE(absl::StartsWith(session().failure()->text, "unexpected reply with no command"));
}

TEST_P(ClientSessionTest, Idle421ClosesTheConnection) {
  Connect(kEhloFull);
  ASSERT_EQ(Server("421 4.4.2 idle timeout\r\n"), ClientAction::kClosed);
  EXPECT_EQ(session().failure()->reply.code, 421);
}

TEST_P(ClientSessionTest, PeerCloseMidTransaction) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b"), Rcpt("c")}, "x\r\n")),
            ClientAction::kReadMore);
  Server("250 Ok\r\n250 Ok\r\n250-partial");
  ASSERT_EQ(session().PeerClosed(), ClientAction::kMessageDone);
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.CountStatus(RecipientStatus::kTemporaryFailure), 2u);
  EXPECT_EQ(result.recipients[0].reply.ToString(),
            "451 4.4.2 lost connection with the server while waiting for the reply to RCPT TO "
            "(in the middle of a reply)");
  EXPECT_EQ(session().action(), ClientAction::kClosed);
}

TEST_P(ClientSessionTest, PeerCloseWhileIdle) {
  Connect(kEhloFull);
  ASSERT_EQ(session().PeerClosed(), ClientAction::kClosed);
  EXPECT_EQ(session().failure()->text, "connection closed by the server");
}

TEST_P(ClientSessionTest, TimeoutNamesTheWait) {
  Connect(kEhloFull);
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "x\r\n")), ClientAction::kReadMore);
  Server("250 Ok\r\n250 Ok\r\n354 go\r\n");
  Client();
  EXPECT_EQ(session().current_timeout(), absl::Minutes(10));
  ASSERT_EQ(session().TimedOut(), ClientAction::kMessageDone);
  const DeliveryResult result = session().TakeResult();
  EXPECT_EQ(result.recipients[0].reply.ToString(),
            "451 4.4.2 timeout waiting for the reply to end of data");
  EXPECT_TRUE(result.data_sent);
  EXPECT_EQ(session().action(), ClientAction::kClosed);
}

TEST_P(ClientSessionTest, ConfigurableTimeouts) {
  ClientOptions options = Options();
  options.timeouts.greeting = absl::Seconds(30);
  options.timeouts.command = absl::Seconds(20);
  Start(options);
  EXPECT_EQ(session().current_timeout(), absl::Seconds(30));
  Server("220 hi\r\n");
  EXPECT_EQ(session().current_timeout(), absl::Seconds(20));
}

TEST_P(ClientSessionTest, SeveralMessagesThenQuit) {
  Connect(kEhloFull);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "x\r\n")), ClientAction::kReadMore);
    EXPECT_EQ(Client(), "MAIL FROM:<a@x.test> SIZE=3\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
    Server("250 Ok\r\n250 Ok\r\n354 go\r\n");
    EXPECT_EQ(Client(), "x\r\n.\r\n");
    ASSERT_EQ(Server("250 Ok\r\n"), ClientAction::kMessageDone);
    EXPECT_EQ(session().TakeResult().recipients[0].status, RecipientStatus::kDelivered);
  }
  EXPECT_EQ(session().messages_sent(), 3u);
  ASSERT_EQ(session().Quit(), ClientAction::kReadMore);
  EXPECT_EQ(Client(), "QUIT\r\n");
  EXPECT_EQ(session().current_wait(), ClientWait::kQuit);
  ASSERT_EQ(Server("221 2.0.0 Bye\r\n"), ClientAction::kClosed);
  EXPECT_FALSE(session().failure().has_value());
}

TEST_P(ClientSessionTest, PeerCloseAfterQuitIsClean) {
  Connect(kEhloFull);
  session().Quit();
  ASSERT_EQ(session().PeerClosed(), ClientAction::kClosed);
  EXPECT_FALSE(session().failure().has_value());
}

TEST_P(ClientSessionTest, SendMessageWhenNotReadyIsRefusedLocally) {
  Start();
  ASSERT_EQ(session().SendMessage(Message({Rcpt("b")}, "x\r\n")), ClientAction::kMessageDone);
  EXPECT_EQ(session().TakeResult().recipients[0].status, RecipientStatus::kTemporaryFailure);
  EXPECT_EQ(session().action(), ClientAction::kReadMore);  // still waiting for the greeting
  EXPECT_EQ(Client(), "");
}

}  // namespace
}  // namespace sluice::smtp
