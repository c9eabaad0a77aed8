// ServerContext: loading, errors, Reload(); EnsureSelfSigned().
#include "tls/server_context.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "openssl/asn1.h"
#include "openssl/pem.h"
#include "openssl/x509.h"
#include "tests/tls/test_pki.h"
#include "tls/client_context.h"
#include "tls/self_signed.h"

namespace sluice::tls {
namespace {

using testing::Connect;
using testing::FreshTempDir;
using testing::Pair;
using testing::Pump;
using testing::ReadTextFile;
using testing::TestPki;
using testing::WriteTextFile;

Pair NewPair(const ServerContext& server, ClientContext& client, const std::string& host,
             VerifyMode mode) {
  Pair pair;
  pair.server = std::move(*server.NewSession());
  pair.client = std::move(*client.NewSession(host, mode));
  return pair;
}

std::shared_ptr<ClientContext> ClientTrusting(const std::string& ca_file) {
  ClientOptions options;
  options.ca_file = ca_file;
  auto client = ClientContext::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return *client;
}

TEST(SelfSignedTest, GeneratesOnceAndReusesAfter) {
  const std::string data_dir = FreshTempDir("data");
  absl::StatusOr<SelfSignedFiles> first = EnsureSelfSigned(data_dir, "mx1.example.test");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->generated);
  EXPECT_EQ(first->cert_file, data_dir + "/tls/selfsigned.crt");
  EXPECT_EQ(first->key_file, data_dir + "/tls/selfsigned.key");
  struct stat st;
  ASSERT_EQ(stat(first->key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string cert_pem = *ReadTextFile(first->cert_file);
  const std::string key_pem = *ReadTextFile(first->key_file);

  absl::StatusOr<SelfSignedFiles> second = EnsureSelfSigned(data_dir, "mx1.example.test");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->generated);
  EXPECT_EQ(*ReadTextFile(second->cert_file), cert_pem);
  EXPECT_EQ(*ReadTextFile(second->key_file), key_pem);
}

TEST(SelfSignedTest, IsEcP256ValidOneYear) {
  const std::string data_dir = FreshTempDir("data");
  auto files = EnsureSelfSigned(data_dir, "mx1.example.test");
  ASSERT_TRUE(files.ok()) << files.status();
  const std::string pem = *ReadTextFile(files->cert_file);
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  bssl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(cert, nullptr);
  int days = 0, seconds = 0;
  ASSERT_TRUE(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()),
                             X509_get0_notAfter(cert.get())));
  EXPECT_EQ(days, 365);
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(cert.get())), 0);
  bssl::UniquePtr<EVP_PKEY> key(X509_get_pubkey(cert.get()));
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_id(key.get()), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_bits(key.get()), 256);
}

// The subjectAltNames, checked the way a client checks them: with the
// certificate as its own trust anchor, each name verifies.
TEST(SelfSignedTest, CoversHostnameLocalhostAndLoopback) {
  const std::string data_dir = FreshTempDir("data");
  auto files = EnsureSelfSigned(data_dir, "mx1.example.test");
  ASSERT_TRUE(files.ok()) << files.status();
  ServerOptions options;
  options.cert_chain_file = files->cert_file;
  options.key_file = files->key_file;
  auto server = ServerContext::Create(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = ClientTrusting(files->cert_file);
  for (const char* host : {"mx1.example.test", "localhost", "127.0.0.1"}) {
    SCOPED_TRACE(host);
    Pair pair = NewPair(**server, *client, host, VerifyMode::kVerify);
    ASSERT_TRUE(Connect(pair).ok());
    EXPECT_TRUE(pair.client->peer_verified());
  }
  Pair other = NewPair(**server, *client, "other.example.test", VerifyMode::kVerify);
  ASSERT_TRUE(other.client->Handshake().ok());
  EXPECT_EQ(Pump(other).code(), absl::StatusCode::kUnauthenticated);
}

TEST(SelfSignedTest, RegeneratesWhenKeyIsMissingOrBroken) {
  const std::string data_dir = FreshTempDir("data");
  auto first = EnsureSelfSigned(data_dir, "mx1.example.test");
  ASSERT_TRUE(first.ok());
  const std::string cert_pem = *ReadTextFile(first->cert_file);
  ASSERT_TRUE(WriteTextFile(first->key_file, "not a key").ok());
  auto second = EnsureSelfSigned(data_dir, "mx1.example.test");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->generated);
  EXPECT_NE(*ReadTextFile(second->cert_file), cert_pem);
  ServerOptions options;
  options.cert_chain_file = second->cert_file;
  options.key_file = second->key_file;
  EXPECT_TRUE(ServerContext::Create(options).ok());
}

TEST(SelfSignedTest, RefusesEmptyArguments) {
  EXPECT_FALSE(EnsureSelfSigned("", "mx").ok());
  EXPECT_FALSE(EnsureSelfSigned(FreshTempDir("data"), "").ok());
}

class ServerContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::move(*TestPki::Create());
    client_ = ClientTrusting(pki_->ca_file());
  }
  std::unique_ptr<TestPki> pki_;
  std::shared_ptr<ClientContext> client_;
};

TEST_F(ServerContextTest, ReportsMissingAndMismatchedFiles) {
  auto a = pki_->Leaf("a", {"a.test"});
  auto b = pki_->Leaf("b", {"b.test"});
  ASSERT_TRUE(a.ok() && b.ok());
  ServerOptions options;
  options.cert_chain_file = a->cert_file;
  options.key_file = pki_->dir() + "/missing.key";
  absl::StatusOr<std::shared_ptr<const ServerContext>> missing = ServerContext::Create(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("missing.key"), absl::string_view::npos)
      << missing.status();

  options.key_file = b->key_file;
  absl::StatusOr<std::shared_ptr<const ServerContext>> mismatch = ServerContext::Create(options);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("KEY_VALUES_MISMATCH"), absl::string_view::npos)
      << mismatch.status();

  options.key_file = a->key_file;
  options.alpn = {""};
  EXPECT_FALSE(ServerContext::Create(options).ok());
  options.alpn = {};
  options.min_version = TLS1_1_VERSION;
  EXPECT_FALSE(ServerContext::Create(options).ok());
  ServerOptions empty;
  EXPECT_FALSE(ServerContext::Create(empty).ok());
}

TEST_F(ServerContextTest, ReloadPicksUpNewCertificateAndKeepsOldSessions) {
  const std::string cert_file = pki_->dir() + "/live.crt";
  const std::string key_file = pki_->dir() + "/live.key";
  auto old_leaf = pki_->Leaf("old", {"old.example.test"});
  auto new_leaf = pki_->Leaf("new", {"new.example.test"}, KeyType::kRsa2048);
  ASSERT_TRUE(old_leaf.ok() && new_leaf.ok());
  ASSERT_TRUE(WriteTextFile(cert_file, *ReadTextFile(old_leaf->cert_file)).ok());
  ASSERT_TRUE(WriteTextFile(key_file, *ReadTextFile(old_leaf->key_file)).ok());
  ServerOptions options;
  options.cert_chain_file = cert_file;
  options.key_file = key_file;
  auto created = ServerContext::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  std::shared_ptr<const ServerContext> live = *created;

  Pair before = NewPair(*live, *client_, "old.example.test", VerifyMode::kVerify);
  ASSERT_TRUE(Connect(before).ok());

  // The operator replaces both files; the listener reloads and swaps.
  ASSERT_TRUE(WriteTextFile(cert_file, *ReadTextFile(new_leaf->cert_file)).ok());
  ASSERT_TRUE(WriteTextFile(key_file, *ReadTextFile(new_leaf->key_file)).ok());
  auto reloaded = live->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_NE((*reloaded)->certificate_sha256(), live->certificate_sha256());
  EXPECT_EQ((*reloaded)->certificate_sha256().size(), 64u);
  live = *reloaded;

  Pair after = NewPair(*live, *client_, "new.example.test", VerifyMode::kVerify);
  ASSERT_TRUE(Connect(after).ok());
  EXPECT_TRUE(after.client->peer_verified());
  Pair old_name = NewPair(*live, *client_, "old.example.test", VerifyMode::kVerify);
  ASSERT_TRUE(old_name.client->Handshake().ok());
  EXPECT_EQ(Pump(old_name).code(), absl::StatusCode::kUnauthenticated);

  // The connection made before the reload still works: it holds the old
  // context.
  ASSERT_TRUE(before.client->WritePlaintext("still here").ok());
  ASSERT_TRUE(before.server->WritePlaintext("me too").ok());
  ASSERT_TRUE(Pump(before).ok());
  EXPECT_EQ(before.server_received, "still here");
  EXPECT_EQ(before.client_received, "me too");

  // A broken file makes Reload fail and leaves the running context alone.
  ASSERT_TRUE(WriteTextFile(key_file, "garbage").ok());
  EXPECT_FALSE(live->Reload().ok());
  Pair still = NewPair(*live, *client_, "new.example.test", VerifyMode::kVerify);
  EXPECT_TRUE(Connect(still).ok());
}

TEST(ClientContextTest, SessionCacheIsBoundedLeastRecentlyUsed) {
  auto pki = std::move(*TestPki::Create());
  auto leaf = pki->Leaf("multi", {"a.test", "b.test", "c.test"});
  ASSERT_TRUE(leaf.ok());
  ServerOptions server_options;
  server_options.cert_chain_file = leaf->cert_file;
  server_options.key_file = leaf->key_file;
  auto server = *ServerContext::Create(server_options);
  ClientOptions options;
  options.ca_file = pki->ca_file();
  options.session_cache_size = 2;
  auto client = *ClientContext::Create(options);

  auto connect = [&](const std::string& host) {
    Pair pair = NewPair(*server, *client, host, VerifyMode::kVerify);
    EXPECT_TRUE(Connect(pair).ok());
    EXPECT_TRUE(pair.server->WritePlaintext("hi").ok());  // carries the TLS 1.3 tickets along
    EXPECT_TRUE(Pump(pair).ok());
    return pair.client->resumed();
  };
  EXPECT_FALSE(connect("a.test"));
  EXPECT_FALSE(connect("b.test"));
  EXPECT_TRUE(connect("a.test"));   // a is now the most recently used
  EXPECT_FALSE(connect("c.test"));  // evicts b
  EXPECT_EQ(client->cached_sessions(), 2u);
  EXPECT_TRUE(connect("a.test"));
  EXPECT_TRUE(connect("c.test"));
  EXPECT_FALSE(connect("b.test"));
  client->ForgetSession("B.TEST");
  EXPECT_FALSE(connect("b.test"));
}

TEST(ClientContextTest, RejectsBadOptions) {
  ClientOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  auto missing = ClientContext::Create(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/ca.pem"), absl::string_view::npos);
  ClientOptions versions;
  versions.min_version = TLS1_VERSION;
  EXPECT_FALSE(ClientContext::Create(versions).ok());
  auto system = ClientContext::Create(ClientOptions{});
  ASSERT_TRUE(system.ok()) << system.status();
  EXPECT_FALSE((*system)->NewSession("", VerifyMode::kVerify).ok());
}

}  // namespace
}  // namespace sluice::tls
