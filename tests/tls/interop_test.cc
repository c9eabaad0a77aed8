// Interop with real peers on 127.0.0.1: `openssl s_client` against a TLS
// echo server on the reactor, and our client sessions against
// `openssl s_server`. The openssl tool comes from Debian's "openssl".
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "reactor/shard_group.h"
#include "reactor/sharded.h"
#include "reactor/socket_address.h"
#include "reactor/tcp_listener.h"
#include "tests/tls/subprocess.h"
#include "tests/tls/test_pki.h"
#include "tests/tls/tls_echo_service.h"
#include "tls/client_context.h"
#include "tls/server_context.h"

namespace sluice::tls {
namespace {

using testing::CertFiles;
using testing::FreshTempDir;
using testing::kOpenssl;
using testing::Subprocess;
using testing::TestPki;
using testing::TlsEchoService;

constexpr absl::Duration kWait = absl::Seconds(20);

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

class InteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::move(*TestPki::Create());
    auto leaf = pki_->Leaf("localhost", {"localhost"});
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    leaf_ = *leaf;
  }
  void TearDown() override {
    if (echo_) echo_->Stop();
    if (group_) group_->Stop();
  }

  // Starts the TLS echo server on one shard; returns its port.
  uint16_t StartEcho() {
    reactor::ShardGroupOptions group_options;
    group_options.shards = 1;
    group_options.reactor.recv_buffer_count = 64;
    group_ = *reactor::ShardGroup::Start(group_options);
    ServerOptions options;
    options.cert_chain_file = leaf_.cert_file;
    options.key_file = leaf_.key_file;
    options.alpn = {"h2", "http/1.1"};
    auto context = ServerContext::Create(options);
    EXPECT_TRUE(context.ok()) << context.status();
    auto fds =
        reactor::TcpListener::OpenReusePort(*reactor::SocketAddress::Parse("127.0.0.1:0"), 1);
    EXPECT_TRUE(fds.ok()) << fds.status();
    const int fd = (*fds)[0];
    const uint16_t port = reactor::SocketAddress::LocalOf(fd)->port();
    echo_ = std::make_unique<reactor::Sharded<TlsEchoService>>(*group_);
    std::shared_ptr<const ServerContext> ctx = *context;
    EXPECT_TRUE(echo_
                    ->Start([fd, ctx](int, reactor::Reactor& reactor) {
                      echo_service_ = nullptr;
                      auto service = TlsEchoService::Create(reactor, fd, ctx);
                      if (service.ok()) echo_service_ = service->get();
                      return service;
                    })
                    .ok());
    return port;
  }

  std::vector<std::string> SClient(uint16_t port, std::vector<std::string> extra) {
    std::vector<std::string> argv = {kOpenssl,
                                     "s_client",
                                     "-connect",
                                     absl::StrCat("127.0.0.1:", port),
                                     "-servername",
                                     "localhost",
                                     "-CAfile",
                                     pki_->ca_file(),
                                     "-verify_return_error"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  // Runs s_client: sends a line, waits for the echo, closes stdin.
  std::string EchoThroughSClient(uint16_t port, std::vector<std::string> extra) {
    auto client = Subprocess::Start(SClient(port, std::move(extra)));
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return "";
    EXPECT_TRUE((*client)->Write("hello over tls\n").ok());
    // s_client does not print what it sends, so this line is the echo.
    EXPECT_TRUE((*client)->ReadUntil("hello over tls\n", kWait)) << (*client)->output();
    (*client)->CloseStdin();
    absl::StatusOr<int> rc = (*client)->Wait(kWait);
    EXPECT_TRUE(rc.ok()) << rc.status();
    EXPECT_EQ(rc.value_or(-1), 0) << (*client)->output();
    return (*client)->output();
  }

  static inline TlsEchoService* echo_service_ = nullptr;
  std::unique_ptr<TestPki> pki_;
  CertFiles leaf_;
  std::unique_ptr<reactor::ShardGroup> group_;
  std::unique_ptr<reactor::Sharded<TlsEchoService>> echo_;
};

TEST_F(InteropTest, SClientTls13HandshakeAndEcho) {
  const uint16_t port = StartEcho();
  const std::string out = EchoThroughSClient(port, {"-tls1_3", "-alpn", "http/1.1,h2"});
  EXPECT_TRUE(absl::StrContains(out, "New, TLSv1.3")) << out;
  EXPECT_TRUE(absl::StrContains(out, "Verify return code: 0 (ok)")) << out;
  EXPECT_TRUE(absl::StrContains(out, "ALPN protocol: h2")) << out;
  ASSERT_TRUE(echo_service_->WaitForHandshakes(1, kWait));
  const auto records = echo_service_->records();
  EXPECT_EQ(records[0].version, "TLSv1.3");
  EXPECT_EQ(records[0].sni, "localhost");
  EXPECT_EQ(records[0].alpn, "h2");
  EXPECT_FALSE(records[0].resumed);
  EXPECT_TRUE(echo_service_->errors().empty());
}

TEST_F(InteropTest, SClientTls12HandshakeAndEcho) {
  const uint16_t port = StartEcho();
  const std::string out = EchoThroughSClient(port, {"-tls1_2"});
  EXPECT_TRUE(absl::StrContains(out, "New, TLSv1.2")) << out;
  EXPECT_TRUE(absl::StrContains(out, "Verify return code: 0 (ok)")) << out;
  ASSERT_TRUE(echo_service_->WaitForHandshakes(1, kWait));
  EXPECT_EQ(echo_service_->records()[0].version, "TLSv1.2");
  EXPECT_EQ(echo_service_->records()[0].alpn, "");
}

TEST_F(InteropTest, SClientTls12ReconnectResumes) {
  const uint16_t port = StartEcho();
  auto client = Subprocess::Start(SClient(port, {"-tls1_2", "-reconnect"}));
  ASSERT_TRUE(client.ok()) << client.status();
  (*client)->CloseStdin();
  absl::StatusOr<int> rc = (*client)->Wait(kWait);
  ASSERT_TRUE(rc.ok()) << rc.status();
  const std::string& out = (*client)->output();
  EXPECT_EQ(*rc, 0) << out;
  // One full handshake, then five reconnections with the same session.
  EXPECT_EQ(Count(out, "Reused, TLSv1.2"), 5u) << out;
  ASSERT_TRUE(echo_service_->WaitForHandshakes(6, kWait));
  size_t resumed = 0;
  for (const auto& record : echo_service_->records()) resumed += record.resumed ? 1 : 0;
  EXPECT_EQ(resumed, 5u);
}

TEST_F(InteropTest, SClientTls13SessionFileResumes) {
  const uint16_t port = StartEcho();
  const std::string session_file = FreshTempDir("sess") + "/session.pem";
  const std::string first = EchoThroughSClient(port, {"-tls1_3", "-sess_out", session_file});
  EXPECT_TRUE(absl::StrContains(first, "New, TLSv1.3")) << first;
  const std::string second = EchoThroughSClient(port, {"-tls1_3", "-sess_in", session_file});
  EXPECT_TRUE(absl::StrContains(second, "Reused, TLSv1.3")) << second;
  ASSERT_TRUE(echo_service_->WaitForHandshakes(2, kWait));
  const auto records = echo_service_->records();
  EXPECT_FALSE(records[0].resumed);
  EXPECT_TRUE(records[1].resumed);
}

TEST_F(InteropTest, PlaintextClientGetsClosedWithError) {
  const uint16_t port = StartEcho();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const char kPlain[] = "EHLO plaintext\r\n";
  ASSERT_EQ(write(fd, kPlain, sizeof(kPlain) - 1), static_cast<ssize_t>(sizeof(kPlain) - 1));
  // The server answers with an alert and closes: read to EOF.
  std::string got;
  char buf[512];
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    ASSERT_EQ(poll(&pfd, 1, 20000), 1) << "server did not close";
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0], 0x15) << "a TLS alert record";
  const auto errors = echo_service_->errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(absl::StrContains(errors[0], "WRONG_VERSION_NUMBER")) << errors[0];
}

// ---- our client against openssl s_server ----

struct ClientResult {
  absl::Status status;
  std::string response;
  std::string version;
  std::string alpn;
  bool resumed = false;
  bool verified = false;
};

// Connects a blocking socket, runs `session` over it, sends `request` and
// reads until the server closes. Every wait is bounded.
ClientResult RunClient(uint16_t port, ClientContext& context, const std::string& host,
                       VerifyMode mode, const std::string& request) {
  ClientResult result;
  auto made = context.NewSession(host, mode);
  if (!made.ok()) {
    result.status = made.status();
    return result;
  }
  TlsSession& session = **made;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    result.status = absl::UnavailableError("connect failed");
    return result;
  }
  auto flush = [&] {
    std::string out = session.TakeCiphertext();
    size_t at = 0;
    while (at < out.size()) {
      ssize_t n = write(fd, out.data() + at, out.size() - at);
      if (n <= 0) return false;
      at += static_cast<size_t>(n);
    }
    return true;
  };
  result.status = session.WritePlaintext(request);  // held until the handshake is done
  if (result.status.ok()) result.status = session.Handshake();
  flush();
  char buf[16384];
  while (result.status.ok() && !session.peer_closed()) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 20000) != 1) {
      result.status = absl::DeadlineExceededError("server went quiet");
      break;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;  // EOF (s_server -www may close without close_notify)
    session.FeedCiphertext(std::string_view(buf, static_cast<size_t>(n)));
    result.status = session.ReadPlaintext(&result.response);
    flush();
  }
  if (result.status.ok() && session.handshake_done()) {
    (void)session.Shutdown();
    flush();
  }
  close(fd);
  result.version = std::string(session.version());
  result.alpn = std::string(session.alpn());
  result.resumed = session.resumed();
  result.verified = session.peer_verified();
  return result;
}

class SServerTest : public InteropTest {
 protected:
  // Starts s_server with `extra` options; returns its port.
  uint16_t StartSServer(std::vector<std::string> extra, const CertFiles* cert = nullptr) {
    if (cert == nullptr) cert = &leaf_;
    std::vector<std::string> argv = {kOpenssl,      "s_server",     "-accept",
                                     "127.0.0.1:0", "-cert",        cert->cert_file,
                                     "-key",        cert->key_file, "-www"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto server = Subprocess::Start(argv);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return 0;
    server_ = std::move(*server);
    // "ACCEPT 127.0.0.1:<port>" once it listens.
    const bool listening = server_->ReadUntil("ACCEPT 127.0.0.1:", kWait);
    EXPECT_TRUE(listening) << server_->output();
    if (!listening) return 0;
    const size_t at = server_->output().find("ACCEPT 127.0.0.1:");
    EXPECT_TRUE(server_->ReadUntil("\n", kWait, at)) << server_->output();
    uint32_t port = 0;
    std::string digits;
    for (size_t i = at + 17; i < server_->output().size() && isdigit(server_->output()[i]); ++i) {
      digits.push_back(server_->output()[i]);
    }
    EXPECT_TRUE(absl::SimpleAtoi(digits, &port)) << server_->output();
    return static_cast<uint16_t>(port);
  }

  std::shared_ptr<ClientContext> Client(std::vector<std::string> alpn = {}) {
    ClientOptions options;
    options.ca_file = pki_->ca_file();
    options.alpn = std::move(alpn);
    return *ClientContext::Create(options);
  }

  std::unique_ptr<Subprocess> server_;
};

constexpr char kGet[] = "GET / HTTP/1.0\r\n\r\n";

TEST_F(SServerTest, ClientHandshakesBothVersionsAndVerifies) {
  for (const char* version : {"-tls1_2", "-tls1_3"}) {
    SCOPED_TRACE(version);
    const uint16_t port = StartSServer({version});
    auto client = Client();
    ClientResult r = RunClient(port, *client, "localhost", VerifyMode::kVerify, kGet);
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_TRUE(absl::StartsWith(r.response, "HTTP/1.0 200 ok")) << r.response;
    const std::string expected = version == std::string("-tls1_2") ? "TLSv1.2" : "TLSv1.3";
    EXPECT_EQ(r.version, expected);
    EXPECT_TRUE(absl::StrContains(r.response, "New, " + expected)) << r.response;
    EXPECT_TRUE(r.verified);
    server_.reset();
  }
}

TEST_F(SServerTest, ClientResumesFromPerHostCache) {
  for (const char* version : {"-tls1_2", "-tls1_3"}) {
    SCOPED_TRACE(version);
    const uint16_t port = StartSServer({version});
    auto client = Client();
    ClientResult first = RunClient(port, *client, "localhost", VerifyMode::kVerify, kGet);
    ASSERT_TRUE(first.status.ok()) << first.status;
    EXPECT_FALSE(first.resumed);
    ClientResult second = RunClient(port, *client, "localhost", VerifyMode::kVerify, kGet);
    ASSERT_TRUE(second.status.ok()) << second.status;
    EXPECT_TRUE(second.resumed);
    EXPECT_TRUE(absl::StrContains(second.response, "Reused, ")) << second.response;
    EXPECT_TRUE(second.verified);
    server_.reset();
  }
}

TEST_F(SServerTest, ClientNegotiatesAlpn) {
  const uint16_t port = StartSServer({"-alpn", "http/1.1"});
  auto client = Client({"h2", "http/1.1"});
  ClientResult r = RunClient(port, *client, "localhost", VerifyMode::kVerify, kGet);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.alpn, "http/1.1");
}

TEST_F(SServerTest, ClientRefusesWrongNameAndUntrustedCertInVerifyMode) {
  const uint16_t port = StartSServer({"-naccept", "10"});
  auto client = Client();
  ClientResult wrong = RunClient(port, *client, "mx.other.test", VerifyMode::kVerify, kGet);
  EXPECT_EQ(wrong.status.code(), absl::StatusCode::kUnauthenticated) << wrong.status;
  EXPECT_TRUE(absl::StrContains(wrong.status.message(), "ostname mismatch")) << wrong.status;
  // Opportunistic: the same peer is fine, and reported as unverified.
  ClientResult opportunistic = RunClient(port, *client, "mx.other.test", VerifyMode::kNone, kGet);
  ASSERT_TRUE(opportunistic.status.ok()) << opportunistic.status;
  EXPECT_FALSE(opportunistic.verified);
  EXPECT_TRUE(absl::StartsWith(opportunistic.response, "HTTP/1.0 200 ok"));
  server_.reset();

  auto untrusted = pki_->Leaf("untrusted", {"localhost"}, KeyType::kEcP256, true);
  ASSERT_TRUE(untrusted.ok());
  const uint16_t port2 = StartSServer({}, &*untrusted);
  ClientResult refused = RunClient(port2, *client, "localhost", VerifyMode::kVerify, kGet);
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kUnauthenticated) << refused.status;
  EXPECT_TRUE(absl::StrContains(refused.status.message(), "self signed")) << refused.status;
}

}  // namespace
}  // namespace sluice::tls
