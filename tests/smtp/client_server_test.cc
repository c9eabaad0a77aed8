// The client session against sluice's own server session, in memory: every
// byte one writes is fed to the other, in whole writes or byte by byte.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "smtp/client_session.h"
#include "smtp/server_session.h"

namespace sluice::smtp {
namespace {

// Refuses recipients whose local part starts with "perm" (550) or "temp" (450).
class TestPolicy : public ServerPolicy {
 public:
  PolicyDecision CheckRcptTo(const ServerSession&, const Envelope&,
                             const Recipient& recipient) override {
    if (absl::StartsWith(recipient.address.local_part, "perm")) {
      return PolicyDecision::Reject(550, "5.1.1", "User unknown");
    }
    if (absl::StartsWith(recipient.address.local_part, "temp")) {
      return PolicyDecision::Reject(450, "4.2.1", "Mailbox busy");
    }
    return PolicyDecision::Accept();
  }
};

struct Config {
  bool byte_by_byte = false;
  bool pipelining = true;
  bool chunking = true;
  size_t chunk_size = 0;
  bool starttls = false;
};

class Pair {
 public:
  Pair(const Config& config, ClientOptions client_options, const ServerOptions& server_options)
      : config_(config),
        client_(Adjust(config, std::move(client_options))),
        server_(server_options, &policy_) {
    server_.Start();
  }

  // Sends `messages` over one connection, then QUIT.
  void Run(const std::vector<OutboundMessage>& messages) {
    ClientAction action = client_.action();
    size_t next = 0;
    for (int step = 0; step < 100000; ++step) {
      ToServer(client_.TakeOutput());
      switch (action) {
        case ClientAction::kReadMore: {
          std::string bytes = server_.TakeOutput();
          if (bytes.empty()) {
            action = server_closed_ ? client_.PeerClosed() : client_.TimedOut();
            break;
          }
          action = ToClient(bytes);
          break;
        }
        case ClientAction::kStartTls:
          // No real TLS in memory: both sides switch at the same point.
          EXPECT_TRUE(server_tls_pending_);
          server_tls_pending_ = false;
          HandleServer(server_.TlsStarted());
          action = client_.TlsStarted();
          break;
        case ClientAction::kReadyForMessage:
          action = next < messages.size() ? client_.SendMessage(messages[next++]) : client_.Quit();
          break;
        case ClientAction::kMessageDone:
          results_.push_back(client_.TakeResult());
          action = client_.action();
          break;
        case ClientAction::kClosed:
          return;
      }
    }
    ADD_FAILURE() << "no end";
  }

  ClientSession& client() { return client_; }
  const std::vector<ReceivedMessage>& received() const { return received_; }
  const std::vector<DeliveryResult>& results() const { return results_; }
  bool server_closed() const { return server_closed_; }

 private:
  static ClientOptions Adjust(const Config& config, ClientOptions options) {
    options.use_pipelining = config.pipelining;
    options.use_chunking = config.chunking;
    options.bdat_chunk_size = config.chunk_size;
    options.tls = config.starttls ? TlsPolicy::kRequire : TlsPolicy::kNever;
    return options;
  }

  ClientAction ToClient(std::string_view bytes) {
    ClientAction action = client_.action();
    if (!config_.byte_by_byte) return client_.Feed(bytes);
    for (char c : bytes) action = client_.Feed(std::string_view(&c, 1));
    return action;
  }

  void ToServer(std::string_view bytes) {
    if (bytes.empty() || server_closed_) return;
    if (!config_.byte_by_byte) return HandleServer(server_.Feed(bytes));
    for (char c : bytes) HandleServer(server_.Feed(std::string_view(&c, 1)));
  }

  void HandleServer(ServerAction action) {
    while (true) {
      switch (action) {
        case ServerAction::kReadMore:
          return;
        case ServerAction::kMessage:
          received_.push_back(server_.TakeMessage());
          action = server_.SupplyMessageResult(
              MessageResult::Accepted(absl::StrCat("Q", received_.size())));
          break;
        case ServerAction::kStartTls:
          server_tls_pending_ = true;
          return;
        case ServerAction::kClose:
          server_closed_ = true;
          return;
        case ServerAction::kAuthenticate:
          ADD_FAILURE() << "unexpected AUTH";
          return;
        case ServerAction::kCheckRecipient:
          action = server_.SupplyRecipientResult(PolicyDecision::Accept());
          break;
      }
    }
  }

  const Config config_;
  TestPolicy policy_;
  ClientSession client_;
  ServerSession server_;
  bool server_tls_pending_ = false;
  bool server_closed_ = false;
  std::vector<ReceivedMessage> received_;
  std::vector<DeliveryResult> results_;
};

Address Addr(std::string local, std::string domain) {
  Address address;
  address.local_part = std::move(local);
  address.domain = std::move(domain);
  return address;
}

Recipient Rcpt(std::string local) {
  Recipient recipient;
  recipient.address = Addr(std::move(local), "y.test");
  return recipient;
}

ClientOptions ClientDefaults() {
  ClientOptions options;
  options.helo_name = "client.test";
  return options;
}

ServerOptions ServerDefaults() {
  ServerOptions options;
  options.hostname = "mx.test";
  options.max_message_size = 100000;
  return options;
}

class ClientServerTest : public ::testing::TestWithParam<Config> {};

std::string ConfigName(const ::testing::TestParamInfo<Config>& info) {
  const Config& c = info.param;
  return absl::StrCat(c.byte_by_byte ? "Bytes" : "Whole", c.pipelining ? "Pipe" : "NoPipe",
                      c.chunking ? absl::StrCat("Bdat", c.chunk_size) : "Data",
                      c.starttls ? "Tls" : "");
}

INSTANTIATE_TEST_SUITE_P(
    Variants, ClientServerTest,
    ::testing::Values(Config{false, true, false, 0, false}, Config{true, true, false, 0, false},
                      Config{false, false, false, 0, false}, Config{true, false, false, 0, true},
                      Config{false, true, true, 0, false}, Config{false, true, true, 7, false},
                      Config{true, false, true, 5, false}, Config{false, true, false, 0, true}),
    ConfigName);

TEST_P(ClientServerTest, DeliversMessagesWithMixedRecipients) {
  const std::string body1 =
      "Subject: one\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nlast line without CRLF";
  const std::string body2 = "Subject: two\r\n\r\nbare\nLF and caf\xc3\xa9\r\n";
  const std::string body3 = "Subject: three\r\n\r\nnobody gets this\r\n";
  std::vector<OutboundMessage> messages(4);
  messages[0].sender = Addr("a", "x.test");
  messages[0].recipients = {Rcpt("b"), Rcpt("perm1"), Rcpt("temp1"), Rcpt("c")};
  messages[0].recipients[0].notify = kNotifyFailure | kNotifyDelay;
  messages[0].recipients[0].orcpt_type = "rfc822";
  messages[0].recipients[0].orcpt = "b+orig@y.test";
  messages[0].envid = "env 1";
  messages[0].ret = DsnRet::kHeaders;
  messages[0].body = body1;
  messages[1].sender = Address();  // null sender
  messages[1].recipients = {Rcpt("d")};
  messages[1].body = body2;
  messages[1].needs_8bit = true;
  messages[2].sender = Addr("a", "x.test");
  messages[2].recipients = {Rcpt("perm2"), Rcpt("temp2")};
  messages[2].body = body3;
  messages[3].sender = Addr("\xc3\xa9", "x.test");
  messages[3].sender.utf8 = true;
  messages[3].recipients = {Rcpt("e")};
  messages[3].body = body3;

  ServerOptions server_options = ServerDefaults();
  server_options.offer_starttls = GetParam().starttls;
  Pair pair(GetParam(), ClientDefaults(), server_options);
  pair.Run(messages);

  EXPECT_FALSE(pair.client().failure().has_value()) << pair.client().failure()->text;
  EXPECT_TRUE(pair.server_closed());
  EXPECT_EQ(pair.client().tls_active(), GetParam().starttls);
  ASSERT_EQ(pair.results().size(), 4u);
  const DeliveryResult& r1 = pair.results()[0];
  EXPECT_EQ(r1.recipients[0].status, RecipientStatus::kDelivered);
  EXPECT_EQ(r1.recipients[1].status, RecipientStatus::kPermanentFailure);
  EXPECT_EQ(r1.recipients[1].reply.ToString(), "550 5.1.1 User unknown");
  EXPECT_EQ(r1.recipients[2].status, RecipientStatus::kTemporaryFailure);
  EXPECT_EQ(r1.recipients[2].reply.ToString(), "450 4.2.1 Mailbox busy");
  EXPECT_EQ(r1.recipients[3].status, RecipientStatus::kDelivered);
  EXPECT_EQ(r1.recipients[3].reply.ToString(), "250 2.0.0 Ok: queued as Q1");
  EXPECT_EQ(pair.results()[1].CountStatus(RecipientStatus::kDelivered), 1u);
  const DeliveryResult& r3 = pair.results()[2];
  EXPECT_FALSE(r3.data_sent);
  EXPECT_EQ(r3.recipients[0].status, RecipientStatus::kPermanentFailure);
  EXPECT_EQ(r3.recipients[1].status, RecipientStatus::kTemporaryFailure);
  EXPECT_EQ(pair.results()[3].CountStatus(RecipientStatus::kDelivered), 1u);

  ASSERT_EQ(pair.received().size(), 3u);
  const ReceivedMessage& m1 = pair.received()[0];
  EXPECT_EQ(m1.body, body1 + "\r\n");  // unstuffed, CRLF added
  EXPECT_EQ(m1.envelope.mail_from.ToString(), "a@x.test");
  ASSERT_EQ(m1.envelope.recipients.size(), 2u);
  EXPECT_EQ(m1.envelope.recipients[0].address.ToString(), "b@y.test");
  EXPECT_EQ(m1.envelope.recipients[0].notify, kNotifyFailure | kNotifyDelay);
  EXPECT_EQ(m1.envelope.recipients[0].orcpt, "b+orig@y.test");
  EXPECT_EQ(m1.envelope.recipients[1].address.ToString(), "c@y.test");
  EXPECT_EQ(m1.envelope.envid, "env 1");
  EXPECT_EQ(m1.envelope.ret, DsnRet::kHeaders);
  EXPECT_EQ(m1.envelope.declared_size, body1.size() + 2);
  const ReceivedMessage& m2 = pair.received()[1];
  EXPECT_TRUE(m2.envelope.mail_from.IsNull());
  EXPECT_EQ(m2.envelope.body, BodyType::k8BitMime);
  EXPECT_EQ(m2.body, "Subject: two\r\n\r\nbare\r\nLF and caf\xc3\xa9\r\n");
  const ReceivedMessage& m3 = pair.received()[2];
  EXPECT_TRUE(m3.envelope.smtputf8);
  EXPECT_EQ(m3.body, body3);
}

TEST_P(ClientServerTest, ServerSizeLimitIsHonouredLocally) {
  ServerOptions server_options = ServerDefaults();
  server_options.max_message_size = 50;
  server_options.offer_starttls = GetParam().starttls;
  Pair pair(GetParam(), ClientDefaults(), server_options);
  const std::string big(60, 'x');
  const std::string small = "small\r\n";
  std::vector<OutboundMessage> messages(2);
  for (OutboundMessage& m : messages) {
    m.sender = Addr("a", "x.test");
    m.recipients = {Rcpt("b")};
  }
  messages[0].body = big;
  messages[1].body = small;
  pair.Run(messages);
  ASSERT_EQ(pair.results().size(), 2u);
  EXPECT_EQ(pair.results()[0].recipients[0].reply.ToString(),
            "552 5.3.4 message size 62 exceeds the server's limit of 50");
  EXPECT_EQ(pair.results()[1].recipients[0].status, RecipientStatus::kDelivered);
  ASSERT_EQ(pair.received().size(), 1u);
  EXPECT_EQ(pair.received()[0].body, small);
}

}  // namespace
}  // namespace sluice::smtp
