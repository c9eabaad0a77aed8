// HTTP/2 and HTTPS against real clients: nghttp (nghttp2-client), curl and
// an nghttp2 client session over a socket talk to two HttpServers on a
// two-shard group over a real RocksDB spool: a plaintext listener (HTTP/1.1
// and h2c with prior knowledge) and a TLS one (ALPN h2 / http/1.1).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/api_key_store.h"
#include "api/http_injection_worker.h"
#include "api/http_server.h"
#include "gtest/gtest.h"
#include "queue/rocksdb_spool.h"
#include "reactor/shard_group.h"
#include "reactor/sharded.h"
#include "reactor/tcp_listener.h"
#include "tests/api/http2_test_client.h"
#include "tests/queue/spool_test_util.h"
#include "tests/testing/command.h"
#include "tls/self_signed.h"
#include "tls/server_context.h"

namespace sluice::api {
namespace {

using ::sluice::testing::CommandResult;
using ::sluice::testing::RunCommand;

std::string WriteFile(const std::string& name, const std::string& contents) {
  return ::sluice::testing::WriteTempFile(name, contents);
}

constexpr char kTwoRecipients[] = R"json({
  "from": "Shop <shop@example.org>",
  "subject": "Hello {{name}}",
  "text": "Dear {{name}}, your order shipped.",
  "recipients": [
    {"email": "ada@one.example", "substitutions": {"name": "Ada"}},
    {"email": "bob@two.example", "substitutions": {"name": "Bob"}}
  ]
})json";

constexpr char kInject[] = "-H 'Authorization: Bearer inject-token' ";

std::vector<std::string> MessageIds(const std::string& json) {
  std::vector<std::string> ids;
  constexpr std::string_view kKey = "\"message_id\":\"";
  for (size_t at = json.find(kKey); at != std::string::npos; at = json.find(kKey, at + 1)) {
    ids.push_back(json.substr(at + kKey.size(), common::MessageId::kTextLength));
  }
  return ids;
}

// The stream_id of the nghttp -v frame line at `at`.
std::string StreamIdAt(const std::string& output, size_t at) {
  const size_t id = output.find("stream_id=", at);
  return output.substr(id, output.find('>', id) - id);
}

class Http2ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"curl", "nghttp"}) {
      if (RunCommand(absl::StrCat("command -v ", tool)).exit_code != 0) {
        FAIL() << tool << " is not installed (Debian packages curl and nghttp2-client)";
      }
    }
    if (!absl::StrContains(RunCommand("curl --version").output, "HTTP2")) {
      FAIL() << "this curl has no HTTP/2 support";
    }
    reactor::ShardGroupOptions group_options;
    group_options.shards = 2;
    group_options.reactor.recv_buffer_count = 64;
    auto group = reactor::ShardGroup::Start(group_options);
    ASSERT_TRUE(group.ok()) << group.status();
    group_ = std::move(*group);

    spool_path_ = absl::StrCat(::testing::TempDir(), "/http2-spool-", getpid());
    auto spool = queue::testing::OpenFreshSpool(
        spool_path_,
        [group = group_.get()](int shard, absl::AnyInvocable<void()> task) {
          group->Post(shard, std::move(task));
        },
        due_, nullptr);
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = std::move(*spool);

    auto keys =
        ApiKeyStore::Create({{"injector", ApiKeyStore::Sha256Hex("inject-token"), {"inject"}, 0, 0},
                             {"reader", ApiKeyStore::Sha256Hex("read-token"), {"read"}, 0, 0}});
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = *std::move(keys);
    worker_ = std::make_unique<HttpInjectionWorker>(InjectionLimits{}, common::Clock::Real(), 255);

    HttpServerOptions options;
    options.transport.limits.max_body_bytes = 4 << 20;
    options.transport.request_timeout = absl::Milliseconds(600);
    options.spool = spool_.get();
    options.operations = spool_.get();
    options.keys = keys_;
    options.injector.hostname = "api.sluice.test";
    options.injector.worker = worker_.get();
    options.post = [group = group_.get()](int shard, absl::AnyInvocable<void()> task) {
      group->Post(shard, std::move(task));
    };
    plain_ = StartServer(options, &port_);

    auto files = tls::EnsureSelfSigned(::testing::TempDir(), "api.sluice.test");
    ASSERT_TRUE(files.ok()) << files.status();
    tls::ServerOptions tls_options;
    tls_options.cert_chain_file = files->cert_file;
    tls_options.key_file = files->key_file;
    tls_options.alpn = {"h2", "http/1.1"};
    auto context = tls::ServerContext::Create(tls_options);
    ASSERT_TRUE(context.ok()) << context.status();
    options.transport.tls = *context;
    tls_ = StartServer(options, &tls_port_);
  }

  std::unique_ptr<reactor::Sharded<HttpServer>> StartServer(const HttpServerOptions& options,
                                                            uint16_t* port) {
    auto fds = reactor::TcpListener::OpenReusePort(*reactor::SocketAddress::Parse("127.0.0.1:0"),
                                                   group_->size());
    EXPECT_TRUE(fds.ok()) << fds.status();
    *port = reactor::SocketAddress::LocalOf((*fds)[0])->port();
    auto servers = std::make_unique<reactor::Sharded<HttpServer>>(*group_);
    EXPECT_TRUE(servers
                    ->Start([fds = *fds, options](int shard, reactor::Reactor& reactor) {
                      return HttpServer::Create(reactor, fds[shard], shard, options);
                    })
                    .ok());
    return servers;
  }

  void TearDown() override {
    if (tls_) tls_->Stop();
    if (plain_) plain_->Stop();
    worker_.reset();
    spool_.reset();
    if (group_) group_->Stop();
    std::filesystem::remove_all(spool_path_);
  }

  std::string Url(const std::string& path) {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  std::string TlsUrl(const std::string& path) {
    return absl::StrCat("https://127.0.0.1:", tls_port_, path);
  }

  // curl: prints the body, then "\nversion=V status=NNN".
  CommandResult Curl(const std::string& args) {
    return RunCommand(
        absl::StrCat("curl -sS -w '\\nversion=%{http_version} status=%{http_code}' ", args));
  }

  size_t Spooled(size_t expected) {
    EXPECT_TRUE(due_.WaitFor(expected, absl::Seconds(60)));
    return due_.Take().size();
  }

  std::unique_ptr<reactor::ShardGroup> group_;
  std::string spool_path_;
  queue::testing::DueCollector due_;
  std::unique_ptr<queue::RocksDbSpool> spool_;
  std::shared_ptr<const ApiKeyStore> keys_;
  std::unique_ptr<HttpInjectionWorker> worker_;
  std::unique_ptr<reactor::Sharded<HttpServer>> plain_;
  std::unique_ptr<reactor::Sharded<HttpServer>> tls_;
  uint16_t port_ = 0;
  uint16_t tls_port_ = 0;
};

TEST_F(Http2ServerTest, H2cPriorKnowledgeHealthzWithCurlAndNghttp) {
  CommandResult curl = Curl(absl::StrCat("--http2-prior-knowledge ", Url("/healthz")));
  EXPECT_EQ(curl.exit_code, 0) << curl.output;
  EXPECT_EQ(curl.output, "ok\n\nversion=2 status=200");
  CommandResult nghttp = RunCommand(absl::StrCat("nghttp -v ", Url("/healthz")));
  EXPECT_EQ(nghttp.exit_code, 0) << nghttp.output;
  EXPECT_TRUE(absl::StrContains(nghttp.output, ":status: 200")) << nghttp.output;
  EXPECT_TRUE(absl::StrContains(nghttp.output, "\nok\n")) << nghttp.output;
  // HEAD: headers only.
  CommandResult head =
      RunCommand(absl::StrCat("curl -sS -I --http2-prior-knowledge ", Url("/healthz")));
  EXPECT_TRUE(absl::StartsWith(head.output, "HTTP/2 200")) << head.output;
  EXPECT_TRUE(absl::StrContains(head.output, "content-length: 3")) << head.output;
  // The same port still speaks HTTP/1.1.
  CommandResult http1 = Curl(absl::StrCat("--http1.1 ", Url("/healthz")));
  EXPECT_EQ(http1.output, "ok\n\nversion=1.1 status=200");
}

TEST_F(Http2ServerTest, H2cInjectionAnswers200WithMessageIdsAndBadJsonIs400) {
  const std::string body = WriteFile("two.json", kTwoRecipients);
  CommandResult curl = Curl(absl::StrCat("--http2-prior-knowledge ", kInject,
                                         "-H 'Content-Type: application/json' --data-binary @",
                                         body, " ", Url("/api/v1/messages")));
  ASSERT_EQ(curl.exit_code, 0) << curl.output;
  EXPECT_TRUE(absl::EndsWith(curl.output, "version=2 status=200")) << curl.output;
  EXPECT_EQ(MessageIds(curl.output).size(), 2u) << curl.output;
  EXPECT_EQ(Spooled(2), 2u);

  CommandResult bad =
      Curl(absl::StrCat("--http2-prior-knowledge ", kInject, "--data-binary '{\"from\": oops' ",
                        Url("/api/v1/messages")));
  EXPECT_TRUE(absl::EndsWith(bad.output, "version=2 status=400")) << bad.output;
  EXPECT_TRUE(absl::StrContains(bad.output, "\"error\"")) << bad.output;
  // Without the key: 401 with its challenge, as over HTTP/1.1.
  CommandResult denied = RunCommand(absl::StrCat(
      "curl -sS -i --http2-prior-knowledge --data-binary @", body, " ", Url("/api/v1/messages")));
  EXPECT_TRUE(absl::StartsWith(denied.output, "HTTP/2 401")) << denied.output;
  EXPECT_TRUE(absl::StrContains(denied.output, "www-authenticate: Bearer")) << denied.output;
}

TEST_F(Http2ServerTest, H2OverTlsIsNegotiatedWithAlpn) {
  CommandResult nghttp = RunCommand(absl::StrCat("nghttp -v ", TlsUrl("/healthz")));
  EXPECT_EQ(nghttp.exit_code, 0) << nghttp.output;
  EXPECT_TRUE(absl::StrContains(nghttp.output, "The negotiated protocol: h2")) << nghttp.output;
  EXPECT_TRUE(absl::StrContains(nghttp.output, ":status: 200")) << nghttp.output;

  const std::string body = WriteFile("two-tls.json", kTwoRecipients);
  CommandResult curl = Curl(absl::StrCat("--http2 -k ", kInject, "--data-binary @", body, " ",
                                         TlsUrl("/api/v1/messages")));
  ASSERT_EQ(curl.exit_code, 0) << curl.output;
  EXPECT_TRUE(absl::EndsWith(curl.output, "version=2 status=200")) << curl.output;
  EXPECT_EQ(MessageIds(curl.output).size(), 2u) << curl.output;
  EXPECT_EQ(Spooled(2), 2u);
}

TEST_F(Http2ServerTest, HttpsServesHttp11Too) {
  CommandResult curl = Curl(absl::StrCat("--http1.1 -k ", TlsUrl("/healthz")));
  EXPECT_EQ(curl.exit_code, 0) << curl.output;
  EXPECT_EQ(curl.output, "ok\n\nversion=1.1 status=200");
  const std::string body = WriteFile("two-tls1.json", kTwoRecipients);
  CommandResult inject = Curl(absl::StrCat("--http1.1 -k ", kInject, "--data-binary @", body, " ",
                                           TlsUrl("/api/v1/messages")));
  EXPECT_TRUE(absl::EndsWith(inject.output, "version=1.1 status=200")) << inject.output;
  EXPECT_EQ(Spooled(2), 2u);
  // Plaintext to the TLS port fails rather than being served.
  CommandResult plain =
      Curl(absl::StrCat("--max-time 5 ", "http://127.0.0.1:", tls_port_, "/healthz"));
  EXPECT_FALSE(absl::EndsWith(plain.output, "status=200")) << plain.output;
}

TEST_F(Http2ServerTest, ConcurrentStreamsOnOneConnectionWithNghttp) {
  const std::string body = WriteFile("two-many.json", kTwoRecipients);
  // Eight injections as eight streams of one connection, h2c and h2.
  for (const std::string& url : {Url("/api/v1/messages"), TlsUrl("/api/v1/messages")}) {
    CommandResult nghttp = RunCommand(absl::StrCat(
        "nghttp -v -n -m 8 -H 'authorization: Bearer inject-token' -d ", body, " ", url));
    EXPECT_EQ(nghttp.exit_code, 0) << nghttp.output;
    // Every request went out before the first answer came back, and each
    // stream got its own answer.
    const size_t first_answer = nghttp.output.find("recv HEADERS frame");
    std::set<std::string> sent, answered;
    for (size_t at = nghttp.output.find("send HEADERS frame"); at != std::string::npos;
         at = nghttp.output.find("send HEADERS frame", at + 1)) {
      EXPECT_LT(at, first_answer);
      sent.insert(StreamIdAt(nghttp.output, at));
    }
    for (size_t at = first_answer; at != std::string::npos;
         at = nghttp.output.find("recv HEADERS frame", at + 1)) {
      answered.insert(StreamIdAt(nghttp.output, at));
    }
    EXPECT_EQ(sent.size(), 8u) << nghttp.output;
    EXPECT_EQ(answered, sent) << nghttp.output;
    size_t ok = 0;
    for (size_t at = nghttp.output.find(":status: 200"); at != std::string::npos;
         at = nghttp.output.find(":status: 200", at + 1)) {
      ++ok;
    }
    EXPECT_EQ(ok, 8u) << nghttp.output;
    EXPECT_EQ(Spooled(16), 16u);
  }
}

TEST_F(Http2ServerTest, StreamsAreNotSerializedBehindASlowInjection) {
  // Stream 1: 3,000 recipients (prepared on the worker, spooled in
  // batches); stream 3, sent after it: /healthz. The second is answered
  // first.
  std::string big =
      R"({"from": "a@example.org", "subject": "s", "text": "t {{n}}", "recipients": [)";
  constexpr int kRecipients = 3000;
  for (int i = 0; i < kRecipients; ++i) {
    absl::StrAppend(&big, i > 0 ? "," : "", "{\"email\": \"r", i,
                    "@one.example\", \"substitutions\": {\"n\": \"", i, "\"}}");
  }
  big += "]}";
  testing::Http2TestClient client;
  ASSERT_TRUE(client.Connect(port_));
  const int32_t slow =
      client.Submit("POST", "/api/v1/messages", {{"authorization", "Bearer inject-token"}}, big);
  const int32_t fast = client.Submit("GET", "/healthz");
  ASSERT_TRUE(client.Exchange({slow, fast}));
  EXPECT_EQ(client.stream(fast).status, 200);
  EXPECT_EQ(client.stream(slow).status, 200) << client.stream(slow).body.substr(0, 300);
  EXPECT_EQ(MessageIds(client.stream(slow).body).size(), static_cast<size_t>(kRecipients));
  EXPECT_EQ(client.close_order, (std::vector<int32_t>{fast, slow}));
  EXPECT_EQ(Spooled(kRecipients), static_cast<size_t>(kRecipients));
}

TEST_F(Http2ServerTest, AStreamNotCompleteInTimeIs408WhileOthersAreServed) {
  testing::Http2TestClient client;
  ASSERT_TRUE(client.Connect(port_));
  // Headers, then a body that never comes.
  const int32_t stuck = client.Submit("POST", "/api/v1/messages",
                                      {{"authorization", "Bearer inject-token"}}, "", 16384,
                                      /*defer_upload=*/true);
  const int32_t fine = client.Submit("GET", "/healthz");
  ASSERT_TRUE(client.Exchange({stuck, fine}));
  EXPECT_EQ(client.stream(fine).status, 200);
  EXPECT_EQ(client.stream(stuck).status, 408);
  EXPECT_EQ(client.close_order, (std::vector<int32_t>{fine, stuck}));
  EXPECT_FALSE(client.goaway);  // the connection lives on
  const int32_t again = client.Submit("GET", "/healthz");
  ASSERT_TRUE(client.Exchange({again}));
  EXPECT_EQ(client.stream(again).status, 200);
}

TEST_F(Http2ServerTest, StopAnswersStreamsInFlightThenSendsGoaway) {
  std::string big = R"({"from": "a@example.org", "subject": "s", "text": "t", "recipients": [)";
  constexpr int kRecipients = 2000;
  for (int i = 0; i < kRecipients; ++i) {
    absl::StrAppend(&big, i > 0 ? "," : "", "{\"email\": \"r", i, "@one.example\"}");
  }
  big += "]}";
  testing::Http2TestClient client;
  ASSERT_TRUE(client.Connect(port_));
  const int32_t id =
      client.Submit("POST", "/api/v1/messages", {{"authorization", "Bearer inject-token"}}, big);
  std::thread stopper([&] {
    // Once spooling has begun, stop the listener under the request.
    due_.WaitFor(1, absl::Seconds(60));
    plain_->Stop();
  });
  ASSERT_TRUE(client.Exchange({id}));
  stopper.join();
  EXPECT_EQ(client.stream(id).status, 200);
  EXPECT_EQ(MessageIds(client.stream(id).body).size(), static_cast<size_t>(kRecipients));
  // GOAWAY, then the connection closes.
  EXPECT_TRUE(client.ReadUntilClosed());
  EXPECT_TRUE(client.goaway);
  EXPECT_EQ(client.goaway_code, NGHTTP2_NO_ERROR);
}

}  // namespace
}  // namespace sluice::api
