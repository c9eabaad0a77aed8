// TlsSession: a server and a client session talking in memory.
#include "tls/tls_session.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/tls/test_pki.h"
#include "tls/client_context.h"
#include "tls/server_context.h"

namespace sluice::tls {
namespace {

using testing::CertFiles;
using testing::Connect;
using testing::Pair;
using testing::Pump;
using testing::TestPki;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

class TlsSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = TestPki::Create();
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
    auto leaf = pki_->Leaf("mx", {"mx.example.test", "localhost"});
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    leaf_ = *leaf;
  }

  std::shared_ptr<const ServerContext> Server(ServerOptions options = {}) {
    if (options.cert_chain_file.empty()) {
      options.cert_chain_file = leaf_.cert_file;
      options.key_file = leaf_.key_file;
    }
    auto context = ServerContext::Create(options);
    EXPECT_TRUE(context.ok()) << context.status();
    return context.ok() ? *context : nullptr;
  }

  std::shared_ptr<ClientContext> Client(ClientOptions options = {}) {
    if (options.ca_file.empty()) options.ca_file = pki_->ca_file();
    auto context = ClientContext::Create(options);
    EXPECT_TRUE(context.ok()) << context.status();
    return context.ok() ? *context : nullptr;
  }

  Pair NewPair(const std::shared_ptr<const ServerContext>& server,
               const std::shared_ptr<ClientContext>& client, const std::string& host,
               VerifyMode mode = VerifyMode::kVerify) {
    Pair pair;
    auto s = server->NewSession();
    auto c = client->NewSession(host, mode);
    EXPECT_TRUE(s.ok()) << s.status();
    EXPECT_TRUE(c.ok()) << c.status();
    pair.server = std::move(*s);
    pair.client = std::move(*c);
    return pair;
  }

  std::unique_ptr<TestPki> pki_;
  CertFiles leaf_;
};

struct VersionCase {
  uint16_t version;
  const char* name;
};

class TlsVersionTest : public TlsSessionTest, public ::testing::WithParamInterface<VersionCase> {};

TEST_P(TlsVersionTest, HandshakesAndReportsVersionAndCipher) {
  ServerOptions options;
  options.max_version = GetParam().version;
  auto server = Server(options);
  auto client = Client();
  Pair pair = NewPair(server, client, "mx.example.test");
  ASSERT_TRUE(Connect(pair).ok());
  EXPECT_EQ(pair.client->version(), GetParam().name);
  EXPECT_EQ(pair.server->version(), GetParam().name);
  EXPECT_FALSE(pair.client->cipher().empty());
  EXPECT_EQ(pair.client->cipher(), pair.server->cipher());
  EXPECT_GE(pair.client->cipher_bits(), 128);
  EXPECT_TRUE(pair.client->peer_verified());
  EXPECT_FALSE(pair.client->resumed());
  EXPECT_TRUE(pair.server->is_server());
  EXPECT_FALSE(pair.client->is_server());
}

TEST_P(TlsVersionTest, CarriesDataBothWaysInManySplitSizes) {
  ServerOptions options;
  options.max_version = GetParam().version;
  auto server = Server(options);
  auto client = Client();
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{5}, size_t{100}, size_t{1459}, size_t{16384},
                       size_t{16406}, size_t{70000}}) {
    SCOPED_TRACE(chunk);
    Pair pair = NewPair(server, client, "mx.example.test");
    ASSERT_TRUE(Connect(pair, chunk).ok());
    const size_t size = chunk < 8 ? 20000 : 200000;
    const std::string up = RandomBytes(size, 1);
    const std::string down = RandomBytes(size, 2);
    // Several writes of odd sizes, in both directions at once.
    for (size_t at = 0; at < size; at += 7777) {
      ASSERT_TRUE(pair.client->WritePlaintext(std::string_view(up).substr(at, 7777)).ok());
      ASSERT_TRUE(pair.server->WritePlaintext(std::string_view(down).substr(at, 7777)).ok());
    }
    ASSERT_TRUE(Pump(pair, chunk).ok());
    EXPECT_TRUE(pair.server_received == up);
    EXPECT_TRUE(pair.client_received == down);
  }
}

TEST_P(TlsVersionTest, ResumesOnSecondConnectionFromPerHostCache) {
  ServerOptions options;
  options.max_version = GetParam().version;
  auto server = Server(options);
  auto client = Client();
  {
    Pair first = NewPair(server, client, "mx.example.test");
    ASSERT_TRUE(Connect(first).ok());
    // TLS 1.3 tickets arrive after the handshake; reading picks them up.
    ASSERT_TRUE(first.server->WritePlaintext("220 hello\r\n").ok());
    ASSERT_TRUE(Pump(first).ok());
    EXPECT_FALSE(first.client->resumed());
  }
  EXPECT_EQ(client->cached_sessions(), 1u);
  Pair second = NewPair(server, client, "mx.example.test");
  ASSERT_TRUE(Connect(second).ok());
  EXPECT_TRUE(second.client->resumed());
  EXPECT_TRUE(second.server->resumed());
  EXPECT_TRUE(second.client->peer_verified());
  // Another host name does not get that session.
  Pair other = NewPair(server, client, "localhost");
  ASSERT_TRUE(Connect(other).ok());
  EXPECT_FALSE(other.client->resumed());
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsVersionTest,
                         ::testing::Values(VersionCase{TLS1_2_VERSION, "TLSv1.2"},
                                           VersionCase{TLS1_3_VERSION, "TLSv1.3"}),
                         [](const auto& info) {
                           return std::string(info.param.version == TLS1_2_VERSION ? "Tls12"
                                                                                   : "Tls13");
                         });

TEST_F(TlsSessionTest, HandshakesWithRsaCertificate) {
  auto rsa = pki_->Leaf("rsa", {"mx.example.test"}, KeyType::kRsa2048);
  ASSERT_TRUE(rsa.ok()) << rsa.status();
  for (uint16_t version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    ServerOptions options;
    options.cert_chain_file = rsa->cert_file;
    options.key_file = rsa->key_file;
    options.max_version = version;
    Pair pair = NewPair(Server(options), Client(), "mx.example.test");
    ASSERT_TRUE(Connect(pair).ok());
    EXPECT_TRUE(pair.client->peer_verified());
    if (version == TLS1_2_VERSION) {
      EXPECT_NE(pair.client->cipher().find("RSA"), std::string_view::npos) << pair.client->cipher();
    }
  }
}

TEST_F(TlsSessionTest, ServerPicksAlpnByItsOwnPreference) {
  ServerOptions server_options;
  server_options.alpn = {"h2", "http/1.1"};
  auto server = Server(server_options);
  ClientOptions client_options;
  client_options.alpn = {"http/1.1", "h2"};
  Pair pair = NewPair(server, Client(client_options), "mx.example.test");
  ASSERT_TRUE(Connect(pair).ok());
  EXPECT_EQ(pair.server->alpn(), "h2");
  EXPECT_EQ(pair.client->alpn(), "h2");

  client_options.alpn = {"http/1.1"};
  Pair http1 = NewPair(server, Client(client_options), "mx.example.test");
  ASSERT_TRUE(Connect(http1).ok());
  EXPECT_EQ(http1.client->alpn(), "http/1.1");

  // No common protocol: the handshake goes on without ALPN.
  client_options.alpn = {"smtp"};
  Pair none = NewPair(server, Client(client_options), "mx.example.test");
  ASSERT_TRUE(Connect(none).ok());
  EXPECT_EQ(none.client->alpn(), "");
  EXPECT_EQ(none.server->alpn(), "");
}

TEST_F(TlsSessionTest, ServerRecordsSniAndClientSendsNoneForIpLiteral) {
  auto server = Server();
  auto client = Client();
  Pair named = NewPair(server, client, "MX.Example.Test.");
  ASSERT_TRUE(Connect(named).ok());
  EXPECT_EQ(named.server->sni(), "mx.example.test");
  EXPECT_TRUE(named.client->peer_verified());

  Pair ip = NewPair(server, client, "127.0.0.1");
  ASSERT_TRUE(Connect(ip).ok()) << "the leaf has IP:127.0.0.1";
  EXPECT_EQ(ip.server->sni(), "");
  EXPECT_TRUE(ip.client->peer_verified());
}

TEST_F(TlsSessionTest, VerifyFailsForWrongHostName) {
  Pair pair = NewPair(Server(), Client(), "wrong.example.test", VerifyMode::kVerify);
  ASSERT_TRUE(pair.client->Handshake().ok());
  absl::Status status = Pump(pair);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
  EXPECT_NE(status.message().find("CERTIFICATE_VERIFY_FAILED"), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("ostname mismatch"), absl::string_view::npos) << status;
  EXPECT_FALSE(pair.client->handshake_done());
  // The session stays failed.
  std::string ignored;
  EXPECT_EQ(pair.client->ReadPlaintext(&ignored).code(), absl::StatusCode::kUnauthenticated);
  // The server got the client's alert.
  absl::Status server_status = pair.server->ReadPlaintext(&ignored);
  EXPECT_FALSE(server_status.ok());
  EXPECT_FALSE(pair.server->handshake_done());
}

TEST_F(TlsSessionTest, VerifyFailsForUntrustedCertificate) {
  auto untrusted = pki_->Leaf("untrusted", {"mx.example.test"}, KeyType::kEcP256, true);
  ASSERT_TRUE(untrusted.ok());
  ServerOptions options;
  options.cert_chain_file = untrusted->cert_file;
  options.key_file = untrusted->key_file;
  Pair pair = NewPair(Server(options), Client(), "mx.example.test", VerifyMode::kVerify);
  ASSERT_TRUE(pair.client->Handshake().ok());
  absl::Status status = Pump(pair);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
  EXPECT_NE(status.message().find("self signed certificate"), absl::string_view::npos) << status;
}

TEST_F(TlsSessionTest, VerifyFailsAgainstSystemBundleForTestCa) {
  ClientOptions options;
  options.ca_file = kSystemCaBundle;
  auto client = ClientContext::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  Pair pair = NewPair(Server(), *client, "mx.example.test", VerifyMode::kVerify);
  ASSERT_TRUE(pair.client->Handshake().ok());
  absl::Status status = Pump(pair);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
  EXPECT_NE(status.message().find("unable to get local issuer certificate"),
            absl::string_view::npos)
      << status;
}

TEST_F(TlsSessionTest, OpportunisticModeEncryptsAndStillReportsVerification) {
  auto untrusted = pki_->Leaf("untrusted", {"mx.example.test"}, KeyType::kEcP256, true);
  ASSERT_TRUE(untrusted.ok());
  ServerOptions options;
  options.cert_chain_file = untrusted->cert_file;
  options.key_file = untrusted->key_file;
  auto client = Client();
  Pair bad = NewPair(Server(options), client, "mx.example.test", VerifyMode::kNone);
  ASSERT_TRUE(Connect(bad).ok());
  EXPECT_TRUE(bad.client->has_peer_certificate());
  EXPECT_FALSE(bad.client->peer_verified());
  EXPECT_NE(bad.client->verify_error().find("self signed"), std::string::npos)
      << bad.client->verify_error();
  ASSERT_TRUE(bad.client->WritePlaintext("EHLO x\r\n").ok());
  ASSERT_TRUE(Pump(bad).ok());
  EXPECT_EQ(bad.server_received, "EHLO x\r\n");

  Pair wrong_name = NewPair(Server(), client, "wrong.example.test", VerifyMode::kNone);
  ASSERT_TRUE(Connect(wrong_name).ok());
  EXPECT_FALSE(wrong_name.client->peer_verified());

  Pair good = NewPair(Server(), client, "mx.example.test", VerifyMode::kNone);
  ASSERT_TRUE(Connect(good).ok());
  EXPECT_TRUE(good.client->peer_verified()) << good.client->verify_error();
}

TEST_F(TlsSessionTest, UnverifiedSessionIsNotResumedByVerifyingConnection) {
  auto server = Server();
  auto client = Client();
  Pair opportunistic = NewPair(server, client, "mx.example.test", VerifyMode::kNone);
  ASSERT_TRUE(Connect(opportunistic).ok());
  ASSERT_TRUE(opportunistic.server->WritePlaintext("x").ok());
  ASSERT_TRUE(Pump(opportunistic).ok());
  Pair verifying = NewPair(server, client, "mx.example.test", VerifyMode::kVerify);
  ASSERT_TRUE(Connect(verifying).ok());
  EXPECT_FALSE(verifying.client->resumed());
  EXPECT_TRUE(verifying.client->peer_verified());
}

TEST_F(TlsSessionTest, StartTlsAfterPlaintextExchange) {
  auto server_context = Server();
  auto client_context = Client();
  // The plaintext part of the conversation, on the same byte stream.
  std::string wire_to_server = "EHLO client.test\r\nSTARTTLS\r\n";
  std::string wire_to_client = "220 ready\r\n250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n";
  ASSERT_EQ(wire_to_client.substr(wire_to_client.size() - 14), "220 go ahead\r\n");

  // The client switches after reading "220 go ahead" and sends its hello;
  // the server receives the command and the first TLS bytes in one read.
  auto client = client_context->NewSession("mx.example.test", VerifyMode::kVerify);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Handshake().ok());
  const std::string hello = (*client)->TakeCiphertext();
  ASSERT_FALSE(hello.empty());
  std::string server_read = "STARTTLS\r\n" + hello;
  const size_t command_end = server_read.find("\r\n") + 2;
  ASSERT_EQ(server_read.substr(0, command_end), "STARTTLS\r\n");

  auto server = server_context->NewSession();
  ASSERT_TRUE(server.ok());
  Pair pair;
  pair.client = std::move(*client);
  pair.server = std::move(*server);
  // Whatever followed the command goes to the new session, in odd pieces.
  const std::string rest = server_read.substr(command_end);
  for (size_t at = 0; at < rest.size(); at += 3) {
    pair.server->FeedCiphertext(std::string_view(rest).substr(at, 3));
    ASSERT_TRUE(pair.server->ReadPlaintext(&pair.server_received).ok());
  }
  ASSERT_TRUE(Pump(pair, 3).ok());
  ASSERT_TRUE(pair.client->handshake_done());
  ASSERT_TRUE(pair.server->handshake_done());
  ASSERT_TRUE(pair.client->WritePlaintext("EHLO client.test\r\n").ok());
  ASSERT_TRUE(Pump(pair).ok());
  EXPECT_EQ(pair.server_received, "EHLO client.test\r\n");
}

TEST_F(TlsSessionTest, WritesBeforeHandshakeAreSentAfterIt) {
  Pair pair = NewPair(Server(), Client(), "mx.example.test");
  ASSERT_TRUE(pair.client->WritePlaintext("early ").ok());
  ASSERT_TRUE(pair.server->WritePlaintext("banner ").ok());
  ASSERT_TRUE(pair.client->WritePlaintext("data").ok());
  ASSERT_TRUE(Connect(pair).ok());
  ASSERT_TRUE(Pump(pair).ok());
  EXPECT_EQ(pair.server_received, "early data");
  EXPECT_EQ(pair.client_received, "banner ");
}

TEST_F(TlsSessionTest, ShutdownDeliversCloseNotify) {
  Pair pair = NewPair(Server(), Client(), "mx.example.test");
  ASSERT_TRUE(Connect(pair).ok());
  ASSERT_TRUE(pair.client->WritePlaintext("QUIT\r\n").ok());
  ASSERT_TRUE(pair.client->Shutdown().ok());
  EXPECT_TRUE(pair.client->HasCiphertext());
  EXPECT_FALSE(pair.client->WritePlaintext("more").ok());
  ASSERT_TRUE(Pump(pair).ok());
  EXPECT_EQ(pair.server_received, "QUIT\r\n");
  EXPECT_TRUE(pair.server->peer_closed());
  ASSERT_TRUE(pair.server->Shutdown().ok());
  ASSERT_TRUE(Pump(pair).ok());
  EXPECT_TRUE(pair.client->peer_closed());
}

TEST_F(TlsSessionTest, PlaintextToTlsServerIsAnErrorWithBoringSslText) {
  auto server = Server()->NewSession();
  ASSERT_TRUE(server.ok());
  (*server)->FeedCiphertext("EHLO plain.text.client\r\n");
  std::string out;
  absl::Status status = (*server)->ReadPlaintext(&out);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("TLS handshake failed"), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("WRONG_VERSION_NUMBER"), absl::string_view::npos) << status;
  EXPECT_TRUE(out.empty());
}

TEST_F(TlsSessionTest, ClientOnlyTls12AgainstTls13OnlyServerFails) {
  ServerOptions server_options;
  server_options.min_version = TLS1_3_VERSION;
  ClientOptions client_options;
  client_options.max_version = TLS1_2_VERSION;
  Pair pair = NewPair(Server(server_options), Client(client_options), "mx.example.test");
  ASSERT_TRUE(pair.client->Handshake().ok());
  absl::Status status = Pump(pair);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("UNSUPPORTED_PROTOCOL"), absl::string_view::npos) << status;
}

}  // namespace
}  // namespace sluice::tls
