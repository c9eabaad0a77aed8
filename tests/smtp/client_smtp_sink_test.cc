// The client session over a real loopback socket against Postfix's
// smtp-sink (Debian package "postfix"), started by the test. A plain
// blocking socket drives the session; smtp-sink's options make it refuse,
// disconnect or answer 421, and -d dumps each message so the test can
// compare the delivered bytes.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "smtp/client_session.h"

namespace sluice::smtp {
namespace {

std::string SinkBinary() {
  const char* env = getenv("SMTP_SINK");
  return env != nullptr ? env : "/usr/sbin/smtp-sink";
}

std::string TempDir() {
  const char* env = getenv("TEST_TMPDIR");
  std::string base = env != nullptr ? env : "/tmp";
  std::string dir = base + "/sinkXXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return base;
  return dir;
}

int ConnectLoopback(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// smtp-sink on a free 127.0.0.1 port; SIGTERM and reaped on destruction.
class SmtpSink {
 public:
  static absl::StatusOr<std::unique_ptr<SmtpSink>> Start(std::vector<std::string> options) {
    const std::string binary = SinkBinary();
    if (access(binary.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(binary, " not found: install the Debian package postfix"));
    }
    std::unique_ptr<SmtpSink> sink(new SmtpSink());
    sink->dump_dir_ = TempDir();
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (sink->Launch(binary, options)) return sink;
    }
    return absl::InternalError("smtp-sink did not start listening");
  }

  ~SmtpSink() { Stop(); }

  uint16_t port() const { return port_; }
  const std::string& dump_dir() const { return dump_dir_; }

  // The dump files written so far (smtp-sink -d), their contents.
  std::vector<std::string> Dumps() const {
    std::vector<std::string> dumps;
    DIR* dir = opendir(dump_dir_.c_str());
    if (dir == nullptr) return dumps;
    while (dirent* entry = readdir(dir)) {
      if (!absl::StartsWith(entry->d_name, "m.")) continue;
      std::ifstream in(dump_dir_ + "/" + entry->d_name);
      std::stringstream text;
      text << in.rdbuf();
      dumps.push_back(text.str());
    }
    closedir(dir);
    return dumps;
  }

 private:
  SmtpSink() = default;

  bool Launch(const std::string& binary, const std::vector<std::string>& options) {
    // A free port: bound, read back, released.
    const int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    close(probe);

    std::vector<std::string> args = {binary};
    if (geteuid() == 0) args.insert(args.end(), {"-u", "root"});
    args.insert(args.end(), {"-d", dump_dir_ + "/m."});
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(absl::StrCat("127.0.0.1:", port_));
    args.push_back("10");
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    if (pid_ < 0) return false;
    // Ready when it accepts a connection; gone if the port was taken.
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      const int fd = ConnectLoopback(port_);
      if (fd >= 0) {
        // Listening; ready once it greets (it drops privileges after
        // opening the socket and may die doing so).
        pollfd pfd{fd, POLLIN, 0};
        char greeting[512];
        const bool greeted =
            poll(&pfd, 1, 5000) == 1 && recv(fd, greeting, sizeof(greeting), 0) > 0;
        close(fd);
        if (greeted) return true;
        Stop();
        return false;
      }
      poll(nullptr, 0, 10);
    }
    Stop();
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string dump_dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

struct Outcome {
  std::vector<DeliveryResult> results;
  std::optional<ClientFailure> failure;
  ServerCapabilities caps;
  std::string error;  // a socket problem in the test itself
};

// Drives a ClientSession over a blocking socket: sends `messages`, QUIT.
Outcome Deliver(uint16_t port, const std::vector<OutboundMessage>& messages,
                ClientOptions options = {}) {
  Outcome outcome;
  options.helo_name = "client.test";
  options.tls = TlsPolicy::kNever;
  const int fd = ConnectLoopback(port);
  if (fd < 0) {
    outcome.error = absl::StrCat("connect: ", strerror(errno));
    return outcome;
  }
  ClientSession session(options);
  ClientAction action = session.action();
  size_t next = 0;
  while (action != ClientAction::kClosed) {
    const std::string out = session.TakeOutput();
    for (size_t sent = 0; sent < out.size();) {
      const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // the read below sees the close
      sent += n;
    }
    switch (action) {
      case ClientAction::kReadMore: {
        pollfd pfd{fd, POLLIN, 0};
        const int timeout_ms = static_cast<int>(
            std::min<int64_t>(absl::ToInt64Milliseconds(session.current_timeout()), 20000));
        if (poll(&pfd, 1, timeout_ms) == 0) {
          action = session.TimedOut();
          break;
        }
        char buffer[4096];
        const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
        action = n <= 0 ? session.PeerClosed() : session.Feed(std::string_view(buffer, n));
        break;
      }
      case ClientAction::kReadyForMessage:
        action = next < messages.size() ? session.SendMessage(messages[next++]) : session.Quit();
        break;
      case ClientAction::kMessageDone:
        outcome.results.push_back(session.TakeResult());
        action = session.action();
        break;
      case ClientAction::kStartTls:
        action = session.TlsFailed("no TLS in this test");
        break;
      case ClientAction::kClosed:
        break;
    }
  }
  const std::string out = session.TakeOutput();
  if (!out.empty()) send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  close(fd);
  outcome.failure = session.failure();
  outcome.caps = session.capabilities();
  return outcome;
}

Address Addr(std::string local, std::string domain) {
  Address address;
  address.local_part = std::move(local);
  address.domain = std::move(domain);
  return address;
}

OutboundMessage Message(std::string_view body, std::vector<std::string> locals = {"b"}) {
  OutboundMessage message;
  message.sender = Addr("a", "x.test");
  for (std::string& local : locals) {
    Recipient recipient;
    recipient.address = Addr(std::move(local), "y.test");
    message.recipients.push_back(std::move(recipient));
  }
  message.body = body;
  return message;
}

std::unique_ptr<SmtpSink> StartSink(std::vector<std::string> options) {
  absl::StatusOr<std::unique_ptr<SmtpSink>> sink = SmtpSink::Start(std::move(options));
  EXPECT_TRUE(sink.ok()) << sink.status();
  return sink.ok() ? std::move(*sink) : nullptr;
}

// The body as smtp-sink dumps it: unstuffed, LF line ends.
std::string AsDumped(std::string_view canonical) {
  return absl::StrReplaceAll(absl::string_view(canonical.data(), canonical.size()),
                             {{"\r\n", "\n"}});
}

TEST(ClientSmtpSinkTest, DeliversSeveralMessagesOverOneConnection) {
  std::unique_ptr<SmtpSink> sink = StartSink({});
  ASSERT_NE(sink, nullptr);
  const std::string body1 = "Subject: one\r\n\r\n.leading dot\r\n..two\r\n.\r\nno final CRLF";
  const std::string body2 = "Subject: two\r\n\r\n" + std::string(200000, 'x') + "\r\nend\r\n";
  const std::string body3 = "Subject: three\r\n\r\ncaf\xc3\xa9\r\n";
  std::vector<OutboundMessage> messages = {Message(body1, {"b", "c"}), Message(body2),
                                           Message(body3)};
  messages[0].ret = DsnRet::kHeaders;
  messages[0].envid = "e1";
  messages[0].recipients[0].notify = kNotifySuccess;
  messages[2].needs_8bit = true;
  const Outcome outcome = Deliver(sink->port(), messages);
  ASSERT_EQ(outcome.error, "");
  EXPECT_FALSE(outcome.failure.has_value()) << outcome.failure->text;
  EXPECT_TRUE(outcome.caps.pipelining);
  ASSERT_EQ(outcome.results.size(), 3u);
  for (const DeliveryResult& result : outcome.results) {
    for (const RecipientResult& r : result.recipients) {
      EXPECT_EQ(r.status, RecipientStatus::kDelivered);
      EXPECT_EQ(r.reply.ToString(), "250 2.0.0 Ok");
    }
  }
  const std::vector<std::string> dumps = sink->Dumps();
  ASSERT_EQ(dumps.size(), 3u);
  const std::vector<std::string> expected = {AsDumped(body1 + "\r\n"), AsDumped(body2),
                                             AsDumped(body3)};
  for (const std::string& want : expected) {
    const auto found = std::find_if(dumps.begin(), dumps.end(), [&](const std::string& dump) {
      return absl::StrContains(dump, "\n" + want + "\n") &&
             absl::EndsWith(dump, "\n" + want + "\n");
    });
    EXPECT_NE(found, dumps.end()) << "not delivered intact: " << want.substr(0, 40);
  }
  const auto first = std::find_if(dumps.begin(), dumps.end(), [](const std::string& dump) {
    return absl::StrContains(dump, "Subject: one");
  });
  ASSERT_NE(first, dumps.end());
  EXPECT_TRUE(absl::StrContains(*first, "X-Mail-Args: <a@x.test> RET=HDRS ENVID=e1\n")) << *first;
  EXPECT_TRUE(absl::StrContains(*first, "X-Rcpt-Args: <b@y.test> NOTIFY=SUCCESS\n"));
  EXPECT_TRUE(absl::StrContains(*first, "X-Rcpt-Args: <c@y.test>\n"));
  const auto third = std::find_if(dumps.begin(), dumps.end(), [](const std::string& dump) {
    return absl::StrContains(dump, "Subject: three");
  });
  ASSERT_NE(third, dumps.end());
  EXPECT_TRUE(absl::StrContains(*third, "X-Mail-Args: <a@x.test> BODY=8BITMIME\n"));
}

TEST(ClientSmtpSinkTest, DeliversWithoutPipelining) {
  std::unique_ptr<SmtpSink> sink = StartSink({"-p"});
  ASSERT_NE(sink, nullptr);
  const Outcome outcome = Deliver(sink->port(), {Message("a\r\n.b\r\n", {"b", "c"})});
  ASSERT_EQ(outcome.error, "");
  EXPECT_FALSE(outcome.failure.has_value());
  EXPECT_FALSE(outcome.caps.pipelining);
  ASSERT_EQ(outcome.results.size(), 1u);
  EXPECT_EQ(outcome.results[0].CountStatus(RecipientStatus::kDelivered), 2u);
  const std::vector<std::string> dumps = sink->Dumps();
  ASSERT_EQ(dumps.size(), 1u);
  EXPECT_TRUE(absl::EndsWith(dumps[0], "\na\n.b\n\n"));
}

TEST(ClientSmtpSinkTest, SoftRejectedRecipientsFailTemporarily) {
  std::unique_ptr<SmtpSink> sink = StartSink({"-r", "RCPT"});
  ASSERT_NE(sink, nullptr);
  const Outcome outcome = Deliver(sink->port(), {Message("x\r\n", {"b", "c"}), Message("y\r\n")});
  ASSERT_EQ(outcome.error, "");
  EXPECT_FALSE(outcome.failure.has_value());
  ASSERT_EQ(outcome.results.size(), 2u);
  EXPECT_FALSE(outcome.results[0].data_sent);
  for (const RecipientResult& r : outcome.results[0].recipients) {
    EXPECT_EQ(r.status, RecipientStatus::kTemporaryFailure);
    EXPECT_EQ(r.reply.ToString(), "450 4.3.0 Error: command failed");
  }
  EXPECT_EQ(outcome.results[1].recipients[0].status, RecipientStatus::kTemporaryFailure);
  // smtp-sink opens a dump at MAIL; no message text reached it.
  for (const std::string& dump : sink->Dumps()) {
    EXPECT_FALSE(absl::StrContains(dump, "Received:")) << dump;
  }
}

TEST(ClientSmtpSinkTest, HardRejectedRecipientsFailPermanently) {
  std::unique_ptr<SmtpSink> sink = StartSink({"-f", "RCPT"});
  ASSERT_NE(sink, nullptr);
  const Outcome outcome = Deliver(sink->port(), {Message("x\r\n")});
  ASSERT_EQ(outcome.results.size(), 1u);
  EXPECT_EQ(outcome.results[0].recipients[0].status, RecipientStatus::kPermanentFailure);
  EXPECT_EQ(outcome.results[0].recipients[0].reply.ToString(), "500 5.3.0 Error: command failed");
}

TEST(ClientSmtpSinkTest, FallsBackToHelo) {
  std::unique_ptr<SmtpSink> sink = StartSink({"-f", "EHLO"});
  ASSERT_NE(sink, nullptr);
  const Outcome outcome = Deliver(sink->port(), {Message("x\r\n")});
  EXPECT_FALSE(outcome.failure.has_value());
  EXPECT_FALSE(outcome.caps.esmtp);
  ASSERT_EQ(outcome.results.size(), 1u);
  EXPECT_EQ(outcome.results[0].recipients[0].status, RecipientStatus::kDelivered);
  ASSERT_EQ(sink->Dumps().size(), 1u);
  EXPECT_TRUE(absl::StrContains(sink->Dumps()[0], "X-Client-Proto: SMTP\n"));
}

TEST(ClientSmtpSinkTest, Reply421AtDataFailsTheConnection) {
  std::unique_ptr<SmtpSink> sink = StartSink({"-Q", "DATA"});
  ASSERT_NE(sink, nullptr);
  const Outcome outcome = Deliver(sink->port(), {Message("x\r\n", {"b", "c"}), Message("y\r\n")});
  ASSERT_TRUE(outcome.failure.has_value());
  EXPECT_EQ(outcome.failure->reply.code, 421);
  EXPECT_FALSE(outcome.failure->permanent);
  ASSERT_EQ(outcome.results.size(), 1u);  // the second message never started
  for (const RecipientResult& r : outcome.results[0].recipients) {
    EXPECT_EQ(r.status, RecipientStatus::kTemporaryFailure);
    EXPECT_EQ(r.reply.code, 421);
    EXPECT_FALSE(r.reply.local);
  }
}

TEST(ClientSmtpSinkTest, DisconnectWithoutReplyFailsTemporarily) {
  std::unique_ptr<SmtpSink> sink = StartSink({"-q", "RCPT"});
  ASSERT_NE(sink, nullptr);
  const Outcome outcome = Deliver(sink->port(), {Message("x\r\n")});
  ASSERT_TRUE(outcome.failure.has_value());
  EXPECT_TRUE(absl::StartsWith(outcome.failure->text, "lost connection with the server"))
      << outcome.failure->text;
  ASSERT_EQ(outcome.results.size(), 1u);
  EXPECT_EQ(outcome.results[0].recipients[0].status, RecipientStatus::kTemporaryFailure);
  EXPECT_TRUE(outcome.results[0].recipients[0].reply.local);
}

TEST(ClientSmtpSinkTest, RefusedGreetingFailsTheAttempt) {
  std::unique_ptr<SmtpSink> sink = StartSink({"-f", "CONNECT"});
  ASSERT_NE(sink, nullptr);
  const Outcome outcome = Deliver(sink->port(), {Message("x\r\n")});
  ASSERT_TRUE(outcome.failure.has_value());
  EXPECT_TRUE(outcome.failure->permanent);
  EXPECT_EQ(outcome.failure->reply.code / 100, 5);
  EXPECT_TRUE(outcome.results.empty());
}

}  // namespace
}  // namespace sluice::smtp
