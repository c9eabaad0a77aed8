// The SMTP relay listener against real clients: swaks and Python's smtplib
// (plus a raw socket for BDAT) talk to an SmtpServer running on a shard
// group over a real RocksDB spool, and the test reads back what the spool
// stored.
#include "api/smtp_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "api/user_authenticator.h"
#include "common/logging.h"
#include "gtest/gtest.h"
#include "queue/rocksdb_spool.h"
#include "reactor/shard_group.h"
#include "reactor/sharded.h"
#include "reactor/tcp_listener.h"
#include "tests/queue/faulty_file_system.h"
#include "tests/queue/spool_test_util.h"
#include "tests/testing/command.h"
#include "tls/password_hash.h"
#include "tls/self_signed.h"
#include "tls/server_context.h"

namespace sluice::api {
namespace {

using ::sluice::testing::CommandResult;
using ::sluice::testing::RunCommand;

std::string WriteFile(const std::string& name, const std::string& contents) {
  return ::sluice::testing::WriteTempFile(name, contents);
}

// A message with a line that needs dot-stuffing on the wire.
constexpr char kMessage[] =
    "From: a@example.org\r\n"
    "To: b@one.example\r\n"
    "Subject: relay test\r\n"
    "Message-ID: <t1@example.org>\r\n"
    "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\n"
    "\r\n"
    "first line\r\n"
    ".a line that starts with a dot\r\n"
    "..and one with two\r\n"
    "last line\r\n";

class SmtpServerTest : public ::testing::Test {
 protected:
  void Start(absl::AnyInvocable<void(SmtpServerOptions&)> tweak = nullptr,
             rocksdb::Env* env = nullptr) {
    reactor::ShardGroupOptions group_options;
    group_options.shards = 2;
    group_options.reactor.recv_buffer_count = 64;
    auto group = reactor::ShardGroup::Start(group_options);
    ASSERT_TRUE(group.ok()) << group.status();
    group_ = std::move(*group);

    spool_path_ = absl::StrCat(::testing::TempDir(), "/smtp-spool-", getpid());
    auto spool = queue::testing::OpenFreshSpool(
        spool_path_,
        [group = group_.get()](int shard, absl::AnyInvocable<void()> task) {
          group->Post(shard, std::move(task));
        },
        due_, env);
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = std::move(*spool);

    SmtpServerOptions options;
    options.kind = SmtpListenerKind::kRelay;
    options.session.hostname = "mx.sluice.test";
    options.relay_networks = {*common::IpNetwork::Parse("127.0.0.1")};
    options.bounce_domains = {"bounces.sluice.test"};
    options.spool = spool_.get();
    limiter_ = std::make_unique<ConnectionLimiter>(100, 100);
    options.limiter = limiter_.get();
    if (tweak) tweak(options);

    auto fds = reactor::TcpListener::OpenReusePort(*reactor::SocketAddress::Parse("127.0.0.1:0"),
                                                   group_->size());
    ASSERT_TRUE(fds.ok()) << fds.status();
    port_ = reactor::SocketAddress::LocalOf((*fds)[0])->port();
    servers_ = std::make_unique<reactor::Sharded<SmtpServer>>(*group_);
    ASSERT_TRUE(servers_
                    ->Start([fds = *fds, options](int shard, reactor::Reactor& reactor) {
                      return SmtpServer::Create(reactor, fds[shard], shard, options);
                    })
                    .ok());
  }

  // A TLS context from a self-signed certificate, and one user "app" with
  // password "secret" (a cheap hash, so the test does not spend seconds).
  void EnableTlsAndAuth(SmtpServerOptions& options, int max_failures = 10) {
    auto files = tls::EnsureSelfSigned(::testing::TempDir(), "mx.sluice.test");
    ASSERT_TRUE(files.ok()) << files.status();
    tls::ServerOptions tls_options;
    tls_options.cert_chain_file = files->cert_file;
    tls_options.key_file = files->key_file;
    auto context = tls::ServerContext::Create(tls_options);
    ASSERT_TRUE(context.ok()) << context.status();
    options.tls = *context;
    tls::PasswordHashOptions cheap;
    cheap.scheme = tls::PasswordScheme::kPbkdf2Sha256;
    cheap.pbkdf2_iterations = 1000;
    UserAuthenticator::Options auth;
    auth.users = {{"app", *tls::HashPassword("secret", cheap)}};
    auth.max_failures_per_minute = max_failures;
    auth.post = [this](int shard, absl::AnyInvocable<void()> task) {
      group_->Post(shard, std::move(task));
    };
    auto authenticator = UserAuthenticator::Create(std::move(auth));
    ASSERT_TRUE(authenticator.ok()) << authenticator.status();
    authenticator_ = *std::move(authenticator);
    options.authenticator = authenticator_.get();
  }

  void TearDown() override {
    if (servers_) servers_->Stop();
    spool_.reset();
    if (group_) group_->Stop();
    std::filesystem::remove_all(spool_path_);
  }

  // Every envelope the spool handed out, read back with its body.
  std::vector<queue::StoredMessage> Spooled(size_t expected) {
    EXPECT_TRUE(due_.WaitFor(expected, absl::Seconds(30)));
    std::vector<queue::StoredMessage> stored;
    for (const queue::ScheduledMessage& message : due_.Take()) {
      absl::StatusOr<queue::StoredMessage> read = queue::testing::ReadAndWait(*spool_, message.id);
      EXPECT_TRUE(read.ok()) << read.status();
      if (read.ok()) stored.push_back(*std::move(read));
    }
    return stored;
  }

  std::string Peer(const std::string& args) {
    return absl::StrCat("python3 tests/api/smtp_peer.py ", args);
  }

  // Before the spool, which may use it until TearDown.
  queue::testing::FaultyEnv faulty_;
  std::unique_ptr<reactor::ShardGroup> group_;
  std::string spool_path_;
  queue::testing::DueCollector due_;
  std::unique_ptr<queue::RocksDbSpool> spool_;
  std::unique_ptr<ConnectionLimiter> limiter_;
  std::unique_ptr<UserAuthenticator> authenticator_;
  std::unique_ptr<reactor::Sharded<SmtpServer>> servers_;
  uint16_t port_ = 0;
};

TEST_F(SmtpServerTest, SwaksPipelinedMessageIsSpooledOncePerDomainWithReceivedHeader) {
  Start();
  const std::string data = WriteFile("swaks.eml", kMessage);
  CommandResult swaks = RunCommand(
      absl::StrCat("swaks --server 127.0.0.1:", port_, " --ehlo peer.example --from a@example.org",
                   " --to b@one.example,c@two.example,d@ONE.example --pipeline --data @", data));
  ASSERT_EQ(swaks.exit_code, 0) << swaks.output;
  EXPECT_TRUE(absl::StrContains(swaks.output, "250 2.0.0 Ok: queued as ")) << swaks.output;

  std::vector<queue::StoredMessage> stored = Spooled(2);
  ASSERT_EQ(stored.size(), 2u);
  for (const queue::StoredMessage& message : stored) {
    const queue::Envelope& envelope = message.envelope;
    EXPECT_EQ(envelope.sender(), "a@example.org");
    EXPECT_EQ(envelope.queue(), "");
    if (envelope.domain() == "one.example") {
      ASSERT_EQ(envelope.recipients_size(), 2);
      EXPECT_EQ(envelope.recipients(0).address(), "b@one.example");
      EXPECT_EQ(envelope.recipients(1).address(), "d@ONE.example");
    } else {
      EXPECT_EQ(envelope.domain(), "two.example");
      ASSERT_EQ(envelope.recipients_size(), 1);
    }
    // Our trace line (unfolded here), then exactly the bytes the client
    // sent; swaks ends its data with one more line break of its own.
    const std::string unfolded = absl::StrReplaceAll(message.body, {{"\r\n\t", " "}});
    ASSERT_TRUE(absl::StartsWith(unfolded, "Received: from peer.example ([127.0.0.1])"))
        << message.body;
    EXPECT_TRUE(absl::StrContains(unfolded, "by mx.sluice.test (sluice)"));
    EXPECT_TRUE(absl::StrContains(unfolded, "with ESMTP id "));
    const size_t end_of_trace = message.body.find("\r\nFrom: ");
    ASSERT_NE(end_of_trace, std::string::npos);
    EXPECT_EQ(message.body.substr(end_of_trace + 2), absl::StrCat(kMessage, "\r\n"));
  }
  EXPECT_EQ(stored[0].envelope.body_id(), stored[1].envelope.body_id());
}

TEST_F(SmtpServerTest, SmtplibMessageIsUnstuffedAndStoredByteForByte) {
  Start();
  const std::string data = WriteFile("smtplib.eml", kMessage);
  CommandResult peer = RunCommand(
      Peer(absl::StrCat("smtplib 127.0.0.1 ", port_, " a@example.org b@one.example ", data)));
  ASSERT_EQ(peer.exit_code, 0) << peer.output;
  EXPECT_TRUE(absl::StartsWith(peer.output, "250")) << peer.output;
  std::vector<queue::StoredMessage> stored = Spooled(1);
  ASSERT_EQ(stored.size(), 1u);
  const std::string& body = stored[0].body;
  EXPECT_TRUE(
      absl::StrContains(absl::StrReplaceAll(body, {{"\r\n\t", " "}}), "for <b@one.example>;"))
      << body;
  EXPECT_EQ(body.substr(body.find("\r\nFrom: ") + 2), kMessage);
}

TEST_F(SmtpServerTest, BdatChunksAreJoinedIntoOneMessage) {
  Start();
  const std::string data = WriteFile("bdat.eml", kMessage);
  CommandResult peer = RunCommand(
      Peer(absl::StrCat("bdat 127.0.0.1 ", port_, " a@example.org b@one.example ", data)));
  ASSERT_EQ(peer.exit_code, 0) << peer.output;
  EXPECT_TRUE(absl::StartsWith(peer.output, "250 2.0.0 Ok: queued as")) << peer.output;
  std::vector<queue::StoredMessage> stored = Spooled(1);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].body.substr(stored[0].body.find("\r\nFrom: ") + 2), kMessage);
}

TEST_F(SmtpServerTest, NoOpenRelayForAClientOutsideTheRelayNetworks) {
  Start();
  const std::string data = WriteFile("relay.eml", kMessage);
  // 127.0.0.2 is loopback but not in the relay networks (only 127.0.0.1).
  CommandResult denied = RunCommand(
      Peer(absl::StrCat("smtplib 127.0.0.1 ", port_, " a@example.org victim@elsewhere.example ",
                        data, " 127.0.0.2")));
  ASSERT_EQ(denied.exit_code, 0) << denied.output;
  EXPECT_TRUE(absl::StartsWith(denied.output, "550 5.7.1 Relaying denied")) << denied.output;

  CommandResult swaks = RunCommand(absl::StrCat("swaks --server 127.0.0.1:", port_,
                                                " --local-interface 127.0.0.2 --from a@example.org",
                                                " --to victim@elsewhere.example --data @", data));
  EXPECT_NE(swaks.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(swaks.output, "<** 550 5.7.1 Relaying denied")) << swaks.output;

  // Mail for a local bounce domain is taken from anyone, into "bounces".
  CommandResult bounce =
      RunCommand(Peer(absl::StrCat("smtplib 127.0.0.1 ", port_, " mailer-daemon@elsewhere.example",
                                   " b+123@bounces.sluice.test ", data, " 127.0.0.2")));
  EXPECT_TRUE(absl::StartsWith(bounce.output, "250")) << bounce.output;
  std::vector<queue::StoredMessage> stored = Spooled(1);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].envelope.queue(), "bounces");
  EXPECT_EQ(stored[0].envelope.domain(), "bounces.sluice.test");
}

TEST_F(SmtpServerTest, SpoolWriteFailureIsATemporary452AndNothingIsKept) {
  Start(nullptr, faulty_.env.get());
  const std::string data = WriteFile("full.eml", kMessage);
  faulty_.fs->Inject(queue::testing::FaultyFileSystem::Fault::kNoSpace);
  CommandResult full = RunCommand(
      Peer(absl::StrCat("smtplib 127.0.0.1 ", port_, " a@example.org b@one.example ", data)));
  EXPECT_TRUE(absl::StartsWith(full.output, "452 4.3.1")) << full.output;

  faulty_.fs->Inject(queue::testing::FaultyFileSystem::Fault::kNone);
  CommandResult again = RunCommand(
      Peer(absl::StrCat("smtplib 127.0.0.1 ", port_, " a@example.org b@one.example ", data)));
  EXPECT_TRUE(absl::StartsWith(again.output, "250")) << again.output;
  // Only the second message is in the spool.
  EXPECT_EQ(Spooled(1).size(), 1u);
  EXPECT_EQ(due_.size(), 0u);
}

// A submitted message without Message-ID and Date: the server adds them.
constexpr char kBareSubmission[] =
    "From: app@example.org\r\nTo: b@one.example\r\nSubject: submitted\r\n\r\nhello\r\n";

TEST_F(SmtpServerTest, SubmissionTakesMailOnlyAfterStartTlsAndAuth) {
  Start([&](SmtpServerOptions& options) {
    options.kind = SmtpListenerKind::kSubmission;
    EnableTlsAndAuth(options);
  });
  const std::string data = WriteFile("submission.eml", kBareSubmission);
  CommandResult no_auth =
      RunCommand(absl::StrCat("swaks --server 127.0.0.1:", port_,
                              " --from app@example.org --to b@one.example", " --data @", data));
  EXPECT_TRUE(absl::StrContains(no_auth.output, "<** 530 5.7.0")) << no_auth.output;

  CommandResult wrong = RunCommand(absl::StrCat(
      "swaks --server 127.0.0.1:", port_, " -tls --auth PLAIN --auth-user app",
      " --auth-password wrong --from app@example.org --to b@one.example --data @", data));
  EXPECT_TRUE(absl::StrContains(wrong.output, "535 5.7.8")) << wrong.output;

  CommandResult sent = RunCommand(absl::StrCat(
      "swaks --server 127.0.0.1:", port_, " --ehlo peer.example -tls --auth PLAIN",
      " --auth-user app --auth-password secret --from app@example.org --to b@one.example",
      " --data @", data));
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  EXPECT_TRUE(absl::StrContains(sent.output, "<~  220 2.0.0 Ready to start TLS") ||
              absl::StrContains(sent.output, "<-  220 2.0.0 Ready to start TLS"))
      << sent.output;
  EXPECT_TRUE(absl::StrContains(sent.output, "<~  235 2.7.0")) << sent.output;

  std::vector<queue::StoredMessage> stored = Spooled(1);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].envelope.tenant(), "app");
  const std::string unfolded = absl::StrReplaceAll(stored[0].body, {{"\r\n\t", " "}});
  EXPECT_TRUE(absl::StrContains(unfolded, "with ESMTPSA id")) << unfolded;
  EXPECT_TRUE(absl::StrContains(unfolded, "(TLSv1.3 ")) << unfolded;
  EXPECT_TRUE(absl::StrContains(unfolded, "\r\nMessage-ID: <")) << unfolded;
  EXPECT_TRUE(absl::StrContains(unfolded, "\r\nDate: ")) << unfolded;
  EXPECT_TRUE(absl::EndsWith(stored[0].body, "Subject: submitted\r\n\r\nhello\r\n\r\n"));
}

TEST_F(SmtpServerTest, SubmissionsSpeaksTlsFromTheFirstByte) {
  Start([&](SmtpServerOptions& options) {
    options.kind = SmtpListenerKind::kSubmissions;
    EnableTlsAndAuth(options);
  });
  const std::string data = WriteFile("submissions.eml", kBareSubmission);
  CommandResult sent = RunCommand(absl::StrCat(
      "swaks --server 127.0.0.1:", port_, " --tls-on-connect --auth LOGIN --auth-user app",
      " --auth-password secret --from app@example.org --to b@one.example --data @", data));
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  EXPECT_TRUE(absl::StrContains(sent.output, "<~  220 mx.sluice.test")) << sent.output;
  EXPECT_EQ(Spooled(1).size(), 1u);

  // openssl s_client: a TLS 1.2 handshake works too, and the greeting comes
  // only inside TLS.
  CommandResult openssl =
      RunCommand(absl::StrCat("echo quit | timeout 20 openssl s_client -connect 127.0.0.1:", port_,
                              " -tls1_2 -servername mx.sluice.test -crlf -ign_eof"));
  EXPECT_TRUE(absl::StrContains(openssl.output, "Protocol  : TLSv1.2")) << openssl.output;
  EXPECT_TRUE(absl::StrContains(openssl.output, "220 mx.sluice.test")) << openssl.output;
  EXPECT_TRUE(absl::StrContains(openssl.output, "221 2.0.0")) << openssl.output;
}

TEST_F(SmtpServerTest, RelayOffersStartTlsToOpensslAndAuthOnlyInsideIt) {
  Start([&](SmtpServerOptions& options) { EnableTlsAndAuth(options); });
  CommandResult plain =
      RunCommand(absl::StrCat("printf 'EHLO peer.example\r\nQUIT\r\n' | timeout 20 python3 -c \"",
                              "import socket,sys; s=socket.create_connection(('127.0.0.1',", port_,
                              "));", "s.sendall(sys.stdin.buffer.read()); import time; data=b'';\n",
                              "while True:\n  c=s.recv(4096)\n  if not c: break\n  data+=c\n",
                              "sys.stdout.write(data.decode())\""));
  EXPECT_TRUE(absl::StrContains(plain.output, "250-STARTTLS")) << plain.output;
  // 127.0.0.1 is loopback, but loopback AUTH without TLS is off here.
  EXPECT_FALSE(absl::StrContains(plain.output, "AUTH")) << plain.output;

  CommandResult tls = RunCommand(
      absl::StrCat("printf 'EHLO peer.example\\nquit\\n' | timeout 20 openssl s_client -connect ",
                   "127.0.0.1:", port_, " -starttls smtp -crlf -ign_eof"));
  EXPECT_TRUE(absl::StrContains(tls.output, "Protocol  : TLSv1.3")) << tls.output;
  EXPECT_TRUE(absl::StrContains(tls.output, "250-AUTH PLAIN LOGIN")) << tls.output;
}

TEST_F(SmtpServerTest, RepeatedAuthFailuresFromOneAddressGetATemporaryRefusal) {
  Start([&](SmtpServerOptions& options) {
    options.kind = SmtpListenerKind::kSubmission;
    EnableTlsAndAuth(options, /*max_failures=*/2);
  });
  for (int i = 0; i < 2; ++i) {
    CommandResult wrong = RunCommand(absl::StrCat("swaks --server 127.0.0.1:", port_,
                                                  " -tls --auth PLAIN --auth-user app",
                                                  " --auth-password wrong --quit-after AUTH"));
    EXPECT_TRUE(absl::StrContains(wrong.output, "535 5.7.8")) << wrong.output;
  }
  // Even the right password is refused for now.
  CommandResult limited = RunCommand(absl::StrCat("swaks --server 127.0.0.1:", port_,
                                                  " -tls --auth PLAIN --auth-user app",
                                                  " --auth-password secret --quit-after AUTH"));
  EXPECT_TRUE(absl::StrContains(limited.output, "454 4.7.0")) << limited.output;
}

// AUTH PLAIN without TLS from `source`, sent whether or not EHLO offered it:
// "offered 235 ..." or "not offered 538 ...".
std::string PlaintextAuth(uint16_t port, const std::string& source) {
  return RunCommand(absl::StrCat("python3 tests/api/smtp_peer.py auth 127.0.0.1 ", port,
                                 " app secret ", source))
      .output;
}

std::string SwaksPlaintextAuth(uint16_t port, const std::string& source) {
  return RunCommand(absl::StrCat("swaks --server 127.0.0.1:", port, " --local-interface ", source,
                                 " --auth PLAIN --auth-user app --auth-password secret",
                                 " --quit-after AUTH"))
      .output;
}

// smtplib gets 538 for AUTH before STARTTLS and swaks sees no AUTH offered.
void ExpectPlaintextAuthRefused(uint16_t port, const std::string& source) {
  const std::string smtplib = PlaintextAuth(port, source);
  EXPECT_TRUE(absl::StartsWith(smtplib, "not offered 538 5.7.11")) << source << ": " << smtplib;
  const std::string swaks = SwaksPlaintextAuth(port, source);
  EXPECT_TRUE(absl::StrContains(swaks, "Host did not advertise authentication"))
      << source << ": " << swaks;
}

TEST_F(SmtpServerTest, PlaintextAuthIsRefusedOnSubmissionFromEveryLoopbackAddress) {
  Start([&](SmtpServerOptions& options) {
    options.kind = SmtpListenerKind::kSubmission;
    EnableTlsAndAuth(options);
  });
  ExpectPlaintextAuthRefused(port_, "127.0.0.1");
  ExpectPlaintextAuthRefused(port_, "127.0.0.2");
}

TEST_F(SmtpServerTest, PlaintextAuthIsRefusedOnTheRelayListenerFromEveryLoopbackAddress) {
  Start([&](SmtpServerOptions& options) { EnableTlsAndAuth(options); });
  ExpectPlaintextAuthRefused(port_, "127.0.0.1");
  ExpectPlaintextAuthRefused(port_, "127.0.0.2");
}

TEST_F(SmtpServerTest, LoopbackPlaintextAuthWhenEnabledIsFor127001Only) {
  Start([&](SmtpServerOptions& options) {
    options.kind = SmtpListenerKind::kSubmission;
    options.auth_on_loopback_without_tls = true;
    EnableTlsAndAuth(options);
  });
  const std::string local = PlaintextAuth(port_, "127.0.0.1");
  EXPECT_TRUE(absl::StartsWith(local, "offered 235 2.7.0")) << local;
  EXPECT_TRUE(absl::StrContains(SwaksPlaintextAuth(port_, "127.0.0.1"), "<-  235 2.7.0"));
  // The rest of 127.0.0.0/8 is not "this host's own processes".
  ExpectPlaintextAuthRefused(port_, "127.0.0.2");
}

// Collects log lines (the sink runs on the shard threads).
class LogCapture {
 public:
  LogCapture() {
    common::SetLogSinkForTest([this](absl::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { common::SetLogSinkForTest(nullptr); }

  // The lines with every one of `parts`.
  std::vector<std::string> Matching(std::initializer_list<absl::string_view> parts) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> found;
    for (const std::string& line : lines_) {
      bool all = true;
      for (absl::string_view part : parts) all = all && absl::StrContains(line, part);
      if (all) found.push_back(line);
    }
    return found;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;  // guarded by mu_
};

TEST_F(SmtpServerTest, EveryRefusalIsLoggedWithListenerClientAndReason) {
  LogCapture log;
  Start([&](SmtpServerOptions& options) { options.session.max_message_size = 2000; });
  const std::string data = WriteFile("refused.eml", kMessage);
  // Relay denied, from outside the relay networks.
  RunCommand(Peer(absl::StrCat("smtplib 127.0.0.1 ", port_,
                               " a@example.org victim@elsewhere.example ", data, " 127.0.0.2")));
  // A bare LF inside DATA (the smuggling shape), from swaks, sent as it is
  // (no fixup, so the file carries the end of data itself).
  const std::string smuggled =
      WriteFile("smuggled.eml", "Subject: x\r\n\r\nline\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n");
  RunCommand(absl::StrCat("swaks --server 127.0.0.1:", port_,
                          " --no-data-fixup --from a@example.org --to b@one.example --data @",
                          smuggled));
  // Too big for the listener.
  const std::string big = WriteFile("big.eml", absl::StrCat(kMessage, std::string(4000, 'x')));
  RunCommand(Peer(absl::StrCat("smtplib 127.0.0.1 ", port_, " a@example.org b@one.example ", big)));
  // A message that is accepted: no warning, only a debug line (not shown).
  RunCommand(
      Peer(absl::StrCat("smtplib 127.0.0.1 ", port_, " a@example.org b@one.example ", data)));
  EXPECT_EQ(Spooled(1).size(), 1u);

  EXPECT_EQ(log.Matching({"level=warning", "msg=\"smtp refused\"", "listener=relay",
                          "client=127.0.0.2", "reply=\"550 5.7.1 Relaying denied\""})
                .size(),
            1u);
  EXPECT_EQ(log.Matching({"level=warning", "msg=\"smtp refused\"", "listener=relay",
                          "client=127.0.0.1", "reply=\"550 5.5.2 Error: bare LF in message"})
                .size(),
            1u);
  EXPECT_EQ(log.Matching({"level=warning", "msg=\"smtp refused\"", "listener=relay",
                          "client=127.0.0.1", "reply=\"552 5.3.4 "})
                .size(),
            1u);
  EXPECT_TRUE(log.Matching({"message accepted"}).empty()) << "per-message lines are debug";
}

TEST_F(SmtpServerTest, AFailedAuthIsLoggedOnceWithUserClientAndListener) {
  LogCapture log;
  Start([&](SmtpServerOptions& options) {
    options.kind = SmtpListenerKind::kSubmission;
    EnableTlsAndAuth(options);
  });
  CommandResult wrong = RunCommand(absl::StrCat(
      "swaks --server 127.0.0.1:", port_, " --local-interface 127.0.0.3 -tls --auth PLAIN",
      " --auth-user app --auth-password wrong --quit-after AUTH"));
  EXPECT_TRUE(absl::StrContains(wrong.output, "535 5.7.8")) << wrong.output;
  const std::vector<std::string> failed = log.Matching({"msg=\"smtp auth failed\""});
  ASSERT_EQ(failed.size(), 1u);
  for (absl::string_view part : {"level=warning", "listener=submission", "client=127.0.0.3",
                                 "user=app", "mechanism=PLAIN", "invalid credentials"}) {
    EXPECT_TRUE(absl::StrContains(failed[0], part)) << part << " in " << failed[0];
  }
  // The 535 is that line, not a second one.
  EXPECT_TRUE(log.Matching({"smtp refused", "535"}).empty());
}

int ConnectAndReadGreeting(uint16_t port, std::string* greeting) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return -1;
  char buffer[512];
  const ssize_t n = read(fd, buffer, sizeof(buffer));
  greeting->assign(buffer, n > 0 ? static_cast<size_t>(n) : 0);
  return fd;
}

TEST_F(SmtpServerTest, ConnectionsPastThePerIpLimitGet421) {
  Start([&](SmtpServerOptions& options) {
    limiter_ = std::make_unique<ConnectionLimiter>(100, 2);
    options.limiter = limiter_.get();
  });
  std::string greeting;
  const int first = ConnectAndReadGreeting(port_, &greeting);
  EXPECT_TRUE(absl::StartsWith(greeting, "220 ")) << greeting;
  const int second = ConnectAndReadGreeting(port_, &greeting);
  EXPECT_TRUE(absl::StartsWith(greeting, "220 ")) << greeting;
  const int third = ConnectAndReadGreeting(port_, &greeting);
  EXPECT_TRUE(absl::StartsWith(greeting, "421 4.7.0")) << greeting;
  close(third);
  close(first);
  // Once a slot is free again, a new client is served. The server learns of
  // the close on its own shard: wait (boundedly) until it has counted it.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (limiter_->total() > 1 && absl::Now() < deadline) usleep(1000);
  ASSERT_EQ(limiter_->total(), 1);
  const int fourth = ConnectAndReadGreeting(port_, &greeting);
  EXPECT_TRUE(absl::StartsWith(greeting, "220 ")) << greeting;
  close(second);
  close(fourth);
}

}  // namespace
}  // namespace sluice::api
