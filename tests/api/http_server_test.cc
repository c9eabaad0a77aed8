// The HTTP API against real clients: curl and Python's http.client (plus
// raw sockets for pipelining, slow and malformed clients) talk to an
// HttpServer on a two-shard group over a real RocksDB spool, and the test
// reads back what the spool stored.
#include "api/http_server.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/api_key_store.h"
#include "api/http_injection_worker.h"
#include "api/proto/google/rpc/status.pb.h"
#include "api/proto/sluice/v1/injection.pb.h"
#include "common/metrics.h"
#include "grpc/grpc_wire.h"
#include "gtest/gtest.h"
#include "queue/rocksdb_spool.h"
#include "queue/spool_keys.h"
#include "reactor/shard_group.h"
#include "reactor/sharded.h"
#include "reactor/tcp_listener.h"
#include "tests/api/http2_test_client.h"
#include "tests/queue/faulty_file_system.h"
#include "tests/queue/spool_test_util.h"
#include "tests/testing/command.h"

namespace sluice::api {
namespace {

using ::sluice::testing::CommandResult;
using ::sluice::testing::RunCommand;

std::string WriteFile(const std::string& name, const std::string& contents) {
  return ::sluice::testing::WriteTempFile(name, contents);
}

constexpr int kRequestTimeoutMs = 600;

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(bool with_keys = true, rocksdb::Env* env = nullptr) {
    if (RunCommand("command -v curl").exit_code != 0) {
      FAIL() << "curl is not installed (Debian package curl)";
    }
    reactor::ShardGroupOptions group_options;
    group_options.shards = 2;
    group_options.reactor.recv_buffer_count = 64;
    auto group = reactor::ShardGroup::Start(group_options);
    ASSERT_TRUE(group.ok()) << group.status();
    group_ = std::move(*group);

    spool_path_ = absl::StrCat(::testing::TempDir(), "/http-spool-", getpid());
    auto spool = queue::testing::OpenFreshSpool(
        spool_path_,
        [group = group_.get()](int shard, absl::AnyInvocable<void()> task) {
          group->Post(shard, std::move(task));
        },
        due_, env);
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = std::move(*spool);

    std::vector<ApiKeySpec> specs;
    if (with_keys) {
      specs = {
          {"injector", ApiKeyStore::Sha256Hex("inject-token"), {"inject"}, 0, 0},
          {"reader", ApiKeyStore::Sha256Hex("read-token"), {"read"}, 0, 0},
          {"operator", ApiKeyStore::Sha256Hex("admin-token"), {"admin"}, 0, 0},
          {"limited", ApiKeyStore::Sha256Hex("limited-token"), {"read"}, 1, 2},
      };
    }
    auto keys = ApiKeyStore::Create(specs);
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = *std::move(keys);
    worker_ = std::make_unique<HttpInjectionWorker>(InjectionLimits{}, common::Clock::Real(), 255);

    HttpServerOptions options;
    options.transport.limits.max_body_bytes = 4 << 20;
    options.transport.request_timeout = absl::Milliseconds(kRequestTimeoutMs);
    options.transport.idle_timeout = absl::Seconds(30);
    options.spool = spool_.get();
    options.operations = spool_.get();
    options.keys = keys_;
    options.injector.hostname = "api.sluice.test";
    options.injector.worker = worker_.get();
    options.metrics = &metrics_;
    options.post = [group = group_.get()](int shard, absl::AnyInvocable<void()> task) {
      group->Post(shard, std::move(task));
    };

    auto fds = reactor::TcpListener::OpenReusePort(*reactor::SocketAddress::Parse("127.0.0.1:0"),
                                                   group_->size());
    ASSERT_TRUE(fds.ok()) << fds.status();
    port_ = reactor::SocketAddress::LocalOf((*fds)[0])->port();
    servers_ = std::make_unique<reactor::Sharded<HttpServer>>(*group_);
    ASSERT_TRUE(servers_
                    ->Start([fds = *fds, options](int shard, reactor::Reactor& reactor) {
                      return HttpServer::Create(reactor, fds[shard], shard, options);
                    })
                    .ok());
  }

  void TearDown() override {
    if (servers_) servers_->Stop();
    worker_.reset();
    spool_.reset();
    if (group_) group_->Stop();
    std::filesystem::remove_all(spool_path_);
  }

  std::string Url(const std::string& path) {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

  // curl: prints the body, then "\nstatus=NNN".
  CommandResult Curl(const std::string& args) {
    return RunCommand(absl::StrCat("curl -sS -w '\\nstatus=%{http_code}' ", args));
  }

  CommandResult Python(const std::string& args) {
    return RunCommand(absl::StrCat("python3 tests/api/http_client.py ", args));
  }

  // Every envelope the spool handed out, read back with its body.
  std::vector<queue::StoredMessage> Spooled(size_t expected) {
    EXPECT_TRUE(due_.WaitFor(expected, absl::Seconds(60)));
    std::vector<queue::StoredMessage> stored;
    for (const queue::ScheduledMessage& message : due_.Take()) {
      absl::StatusOr<queue::StoredMessage> read = queue::testing::ReadAndWait(*spool_, message.id);
      EXPECT_TRUE(read.ok()) << read.status();
      if (read.ok()) stored.push_back(*std::move(read));
    }
    return stored;
  }

  queue::testing::FaultyEnv faulty_;
  std::unique_ptr<reactor::ShardGroup> group_;
  std::string spool_path_;
  queue::testing::DueCollector due_;
  std::unique_ptr<queue::RocksDbSpool> spool_;
  std::shared_ptr<const ApiKeyStore> keys_;
  std::unique_ptr<HttpInjectionWorker> worker_;
  common::MetricsRegistry metrics_{2};
  std::unique_ptr<reactor::Sharded<HttpServer>> servers_;
  uint16_t port_ = 0;
};

constexpr char kTwoRecipients[] = R"json({
  "from": "Shop <shop@example.org>",
  "subject": "Hello {{name}}",
  "text": "Dear {{name}}, your order {{order}} shipped.",
  "html": "<p>Dear {{name}}</p>",
  "tenant": "acme",
  "campaign": "orders",
  "recipients": [
    {"email": "ada@one.example", "substitutions": {"name": "Ada", "order": "A-1"}},
    {"email": "bob@two.example", "substitutions": {"name": "Bob <b>", "order": "B-2"}}
  ]
})json";

std::vector<std::string> MessageIds(const std::string& json) {
  std::vector<std::string> ids;
  constexpr std::string_view kKey = "\"message_id\":\"";
  for (size_t at = json.find(kKey); at != std::string::npos; at = json.find(kKey, at + 1)) {
    ids.push_back(json.substr(at + kKey.size(), common::MessageId::kTextLength));
  }
  return ids;
}

// The integer after "name": in `json`, or -1.
int64_t JsonInteger(const std::string& json, const std::string& name) {
  const std::string key = absl::StrCat("\"", name, "\":");
  const size_t at = json.find(key);
  if (at == std::string::npos) return -1;
  return std::strtoll(json.c_str() + at + key.size(), nullptr, 10);
}

TEST_F(HttpServerTest, CurlInjectionIsSpooledPerRecipientWithSubstitutionsAndReadable) {
  Start();
  const std::string body = WriteFile("two.json", kTwoRecipients);
  CommandResult curl =
      Curl(absl::StrCat("-H 'Authorization: Bearer inject-token' -H 'Content-Type: "
                        "application/json' --data-binary @",
                        body, " ", Url("/api/v1/messages")));
  ASSERT_EQ(curl.exit_code, 0) << curl.output;
  ASSERT_TRUE(absl::EndsWith(curl.output, "status=200")) << curl.output;
  const std::vector<std::string> ids = MessageIds(curl.output);
  ASSERT_EQ(ids.size(), 2u) << curl.output;
  EXPECT_TRUE(absl::StrContains(curl.output, "\"email\":\"ada@one.example\"")) << curl.output;
  EXPECT_TRUE(absl::StrContains(curl.output, "\"rejected\":[]")) << curl.output;

  // 200 came after the commit: both are in the spool already.
  std::vector<queue::StoredMessage> stored = Spooled(2);
  ASSERT_EQ(stored.size(), 2u);
  std::map<std::string, const queue::StoredMessage*> by_recipient;
  for (const queue::StoredMessage& m : stored) {
    ASSERT_EQ(m.envelope.recipients_size(), 1);
    by_recipient[m.envelope.recipients(0).address()] = &m;
    EXPECT_EQ(m.envelope.sender(), "shop@example.org");
    EXPECT_EQ(m.envelope.tenant(), "acme");
    EXPECT_EQ(m.envelope.campaign(), "orders");
  }
  const queue::StoredMessage& ada = *by_recipient.at("ada@one.example");
  EXPECT_EQ(ada.envelope.domain(), "one.example");
  EXPECT_TRUE(absl::StrContains(ada.body, "Subject: Hello Ada\r\n")) << ada.body;
  EXPECT_TRUE(absl::StrContains(ada.body, "order A-1 shipped")) << ada.body;
  EXPECT_TRUE(absl::StrContains(ada.body, "@api.sluice.test>")) << ada.body;
  const queue::StoredMessage& bob = *by_recipient.at("bob@two.example");
  EXPECT_TRUE(absl::StrContains(bob.body, "Dear Bob &lt;b&gt;")) << bob.body;  // HTML-escaped
  EXPECT_EQ(queue::ParseIdKey(ada.envelope.id())->ToString(), ids[0]);

  // GET /api/v1/messages/{id} with the read key.
  CommandResult get = Curl(absl::StrCat("-H 'Authorization: Bearer read-token' ",
                                        Url(absl::StrCat("/api/v1/messages/", ids[1]))));
  ASSERT_TRUE(absl::EndsWith(get.output, "status=200")) << get.output;
  EXPECT_TRUE(absl::StrContains(get.output, absl::StrCat("\"id\":\"", ids[1], "\"")));
  EXPECT_TRUE(absl::StrContains(
      get.output, "\"recipients\":[{\"address\":\"bob@two.example\",\"state\":\"pending\""))
      << get.output;
  EXPECT_TRUE(absl::StrContains(get.output, "\"domain\":\"two.example\"")) << get.output;
  CommandResult missing = Curl(absl::StrCat("-H 'Authorization: Bearer read-token' ",
                                            Url("/api/v1/messages/00000000000000000000000000")));
  EXPECT_TRUE(absl::EndsWith(missing.output, "status=404")) << missing.output;
}

TEST_F(HttpServerTest, RawContentSharesOneBodyAndGetsMessageIdAndDate) {
  Start();
  const std::string body = WriteFile("raw.json", R"({"envelope_sender": "b@example.org",
        "content": "From: b@example.org\nSubject: raw\n\nraw body\n",
        "recipients": [{"email": "x@one.example"}, {"email": "y@one.example"},
                       {"email": "z@two.example"}]})");
  CommandResult curl = Curl(absl::StrCat("-H 'Authorization: Bearer inject-token' --data-binary @",
                                         body, " ", Url("/api/v1/messages")));
  ASSERT_TRUE(absl::EndsWith(curl.output, "status=200")) << curl.output;
  const std::vector<std::string> ids = MessageIds(curl.output);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], ids[1]);  // one envelope per domain
  EXPECT_NE(ids[0], ids[2]);
  std::vector<queue::StoredMessage> stored = Spooled(2);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].envelope.body_id(), stored[1].envelope.body_id());
  EXPECT_TRUE(absl::StrContains(stored[0].body, "Message-ID: <")) << stored[0].body;
  EXPECT_TRUE(absl::StrContains(stored[0].body, "\r\nDate: ")) << stored[0].body;
  EXPECT_TRUE(absl::StrContains(stored[0].body, "\r\n\r\nraw body\r\n")) << stored[0].body;
}

TEST_F(HttpServerTest, MetricsAreRenderedInThePrometheusFormat) {
  Start();
  absl::StatusOr<common::Counter*> counter =
      metrics_.AddCounter("sluice_test_widgets_total", "Widgets.", {{"kind", "blue"}});
  ASSERT_TRUE(counter.ok()) << counter.status();
  (*counter)->Add(7);
  const std::string sample = "sluice_test_widgets_total{kind=\"blue\"} 7\n";
  CommandResult got = Curl(absl::StrCat("-D - ", Url("/metrics")));
  EXPECT_TRUE(absl::StrContains(got.output, "Content-Type: text/plain; version=0.0.4"))
      << got.output;
  EXPECT_TRUE(absl::StrContains(got.output, sample)) << got.output;
  EXPECT_TRUE(absl::StrContains(got.output, "status=200")) << got.output;
  // HEAD: the headers only.
  CommandResult head = Curl(absl::StrCat("-I ", Url("/metrics")));
  EXPECT_TRUE(absl::StrContains(head.output, "status=200")) << head.output;
  EXPECT_FALSE(absl::StrContains(head.output, sample)) << head.output;
}

TEST_F(HttpServerTest, EveryValidationErrorIs400NamingTheField) {
  Start();
  CommandResult python = Python(absl::StrCat("validation ", port_));
  EXPECT_EQ(python.exit_code, 0) << python.output;
}

TEST_F(HttpServerTest, AuthenticationScopesAndRateLimit) {
  Start();
  CommandResult python = Python(absl::StrCat("auth ", port_));
  EXPECT_EQ(python.exit_code, 0) << python.output;
  // curl shows the challenge too.
  CommandResult curl = RunCommand(absl::StrCat("curl -sS -i ", Url("/api/v1/queues")));
  EXPECT_TRUE(absl::StrContains(curl.output, "HTTP/1.1 401")) << curl.output;
  EXPECT_TRUE(absl::StrContains(curl.output, "WWW-Authenticate: Bearer")) << curl.output;
}

TEST_F(HttpServerTest, WithoutKeysLoopbackClientsHaveEveryScope) {
  Start(/*with_keys=*/false);
  CommandResult inject = Curl(absl::StrCat(
      "--data-binary '{\"from\":\"a@example.org\",\"text\":\"t\",\"recipients\":[{\"email\":"
      "\"r@one.example\"}]}' ",
      Url("/api/v1/messages")));
  EXPECT_TRUE(absl::EndsWith(inject.output, "status=200")) << inject.output;
  CommandResult queues = Curl(Url("/api/v1/queues"));
  EXPECT_TRUE(absl::EndsWith(queues.output, "status=200")) << queues.output;
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrderBehindAnAsyncOne) {
  Start();
  CommandResult python = Python(absl::StrCat("pipeline ", port_));
  EXPECT_EQ(python.exit_code, 0) << python.output;
}

TEST_F(HttpServerTest, MalformedAndOversizeHeadersGet400And431ThenClose) {
  Start();
  CommandResult python = Python(absl::StrCat("bad_request ", port_));
  EXPECT_EQ(python.exit_code, 0) << python.output;
}

TEST_F(HttpServerTest, OversizeBodyIs413) {
  Start();
  const std::string body = WriteFile("big.json", std::string(5 << 20, ' '));
  CommandResult curl = Curl(absl::StrCat("-H 'Authorization: Bearer inject-token' --data-binary @",
                                         body, " ", Url("/api/v1/messages")));
  EXPECT_TRUE(absl::EndsWith(curl.output, "status=413")) << curl.output.substr(0, 300);
  EXPECT_EQ(due_.size(), 0u);
}

TEST_F(HttpServerTest, SlowClientIsCutOffAfterTheRequestTimeout) {
  Start();
  CommandResult python = Python(absl::StrCat("slow ", port_, " ", kRequestTimeoutMs));
  EXPECT_EQ(python.exit_code, 0) << python.output;
}

TEST_F(HttpServerTest, TenThousandRecipientsEachGetTheirOwnSubstitution) {
  Start();
  constexpr int kCount = 10'000;
  const std::string ids_path = absl::StrCat(::testing::TempDir(), "/bulk-ids.txt");
  CommandResult python = Python(absl::StrCat("bulk ", port_, " ", kCount, " ", ids_path));
  ASSERT_EQ(python.exit_code, 0) << python.output;
  std::map<std::string, std::string> id_of;  // recipient -> message id, as answered
  std::ifstream ids(ids_path);
  std::string email, id;
  while (ids >> email >> id) id_of[email] = id;
  ASSERT_EQ(id_of.size(), static_cast<size_t>(kCount));

  std::vector<queue::StoredMessage> stored = Spooled(kCount);
  ASSERT_EQ(stored.size(), static_cast<size_t>(kCount));
  int checked = 0;
  for (const queue::StoredMessage& m : stored) {
    ASSERT_EQ(m.envelope.recipients_size(), 1);
    const std::string& address = m.envelope.recipients(0).address();
    const int n = std::stoi(address.substr(1, address.find('@') - 1));
    EXPECT_EQ(queue::ParseIdKey(m.envelope.id())->ToString(), id_of[address]);
    EXPECT_EQ(m.envelope.campaign(), "bulk-test");
    const std::string code = absl::StrCat("value-", n);
    ASSERT_TRUE(absl::StrContains(m.body, absl::StrCat("Subject: Your code ", code, "\r\n")))
        << m.body;
    ASSERT_TRUE(absl::StrContains(m.body, absl::StrCat("your code is ", code, " for Example & Co")))
        << m.body;
    ASSERT_TRUE(absl::StrContains(m.body, absl::StrCat("<b>", code, "</b>"))) << m.body;
    ++checked;
  }
  EXPECT_EQ(checked, kCount);
}

TEST_F(HttpServerTest, StopAnswersTheInjectionInFlightBeforeItFinishes) {
  Start();
  const std::string ids_path = absl::StrCat(::testing::TempDir(), "/stop-ids.txt");
  CommandResult python;
  std::thread client([&] { python = Python(absl::StrCat("bulk ", port_, " 5000 ", ids_path)); });
  // The first envelopes are committed: the request is being spooled.
  ASSERT_TRUE(due_.WaitFor(1, absl::Seconds(60)));
  servers_->Stop();
  client.join();
  EXPECT_EQ(python.exit_code, 0) << python.output;
  EXPECT_EQ(Spooled(5000).size(), 5000u);
}

TEST_F(HttpServerTest, AdminCountsRetriesAndPurgesByFilter) {
  Start();
  // One message due in an hour, straight into the spool.
  common::MessageIdGenerator ids(common::Clock::Real(), 9, 1);
  queue::NewMessage later = queue::testing::MakeMessage(
      ids, {"later.example"}, "body", absl::ToUnixMillis(absl::Now() + absl::Hours(1)));
  const std::string later_id = queue::testing::IdOf(later.envelopes[0]).ToString();
  ASSERT_TRUE(queue::testing::EnqueueAndWait(*spool_, later).ok());
  const std::string body = WriteFile("two.json", kTwoRecipients);
  ASSERT_TRUE(
      absl::EndsWith(Curl(absl::StrCat("-H 'Authorization: Bearer inject-token' --data-binary @",
                                       body, " ", Url("/api/v1/messages")))
                         .output,
                     "status=200"));
  const std::string admin = "-H 'Authorization: Bearer admin-token' ";

  CommandResult queues = Curl(admin + Url("/api/v1/queues?group_by=domain"));
  ASSERT_TRUE(absl::EndsWith(queues.output, "status=200")) << queues.output;
  EXPECT_TRUE(absl::StrContains(queues.output, "\"group_by\":\"domain\"")) << queues.output;
  // Ages as qshape buckets them: the injected two are new, the one put
  // straight into the spool says it was created in 1970.
  EXPECT_TRUE(
      absl::StrContains(queues.output, "\"age_buckets_minutes\":[5,10,20,40,80,160,320,640,1280]"))
      << queues.output;
  EXPECT_TRUE(absl::StrContains(queues.output,
                                "{\"key\":\"later.example\",\"envelopes\":1,\"recipients\":1,"
                                "\"ages\":[0,0,0,0,0,0,0,0,0,1]}"))
      << queues.output;
  EXPECT_TRUE(absl::StrContains(queues.output,
                                "\"total\":{\"envelopes\":3,\"recipients\":3,"
                                "\"ages\":[2,0,0,0,0,0,0,0,0,1]}"))
      << queues.output;
  CommandResult by_campaign =
      Curl(admin + "'" + Url("/api/v1/queues?group_by=campaign&tenant=acme") + "'");
  EXPECT_TRUE(absl::StrContains(by_campaign.output,
                                "{\"key\":\"orders\",\"envelopes\":2,\"recipients\":2,"))
      << by_campaign.output;

  // The listing pages through the queue in arrival order.
  CommandResult first = Curl(admin + Url("/api/v1/messages?limit=2"));
  ASSERT_TRUE(absl::EndsWith(first.output, "status=200")) << first.output;
  EXPECT_TRUE(absl::StrContains(first.output, absl::StrCat("{\"id\":\"", later_id, "\"")))
      << first.output;
  EXPECT_TRUE(absl::StrContains(first.output, "\"recipients\":1,\"domain\":\"later.example\""))
      << first.output;
  const size_t next_at = first.output.find("\"next\":\"");
  ASSERT_NE(next_at, std::string::npos) << first.output;
  const std::string next = first.output.substr(next_at + 8, common::MessageId::kTextLength);
  CommandResult second = Curl(admin + "'" + Url("/api/v1/messages?limit=2&after=" + next) + "'");
  EXPECT_TRUE(absl::StrContains(second.output, "\"domain\":\"two.example\"")) << second.output;
  EXPECT_FALSE(absl::StrContains(second.output, "later.example")) << second.output;
  EXPECT_TRUE(absl::StrContains(second.output, "\"next\":\"\"")) << second.output;
  CommandResult acme = Curl(admin + Url("/api/v1/messages?tenant=acme"));
  EXPECT_TRUE(absl::StrContains(acme.output, "\"domain\":\"one.example\"")) << acme.output;
  EXPECT_FALSE(absl::StrContains(acme.output, "later.example")) << acme.output;
  CommandResult bad_limit = Curl(admin + Url("/api/v1/messages?limit=5000"));
  EXPECT_TRUE(absl::StrContains(bad_limit.output, "\"field\":\"limit\"")) << bad_limit.output;
  CommandResult bad_after = Curl(admin + Url("/api/v1/messages?after=nope"));
  EXPECT_TRUE(absl::StrContains(bad_after.output, "\"field\":\"after\"")) << bad_after.output;
  CommandResult bad_group = Curl(admin + Url("/api/v1/queues?group_by=colour"));
  EXPECT_TRUE(absl::EndsWith(bad_group.output, "status=400")) << bad_group.output;
  EXPECT_TRUE(absl::StrContains(bad_group.output, "\"field\":\"group_by\"")) << bad_group.output;
  CommandResult bad_filter = Curl(admin + Url("/api/v1/queues?colour=red"));
  EXPECT_TRUE(absl::StrContains(bad_filter.output, "\"field\":\"colour\"")) << bad_filter.output;

  CommandResult retry = Curl(admin + "-X POST " + Url("/api/v1/retry?domain=later.example"));
  ASSERT_TRUE(absl::EndsWith(retry.output, "status=200")) << retry.output;
  EXPECT_TRUE(absl::StrContains(retry.output, "{\"rescheduled\":1}")) << retry.output;
  CommandResult get = Curl(admin + Url(absl::StrCat("/api/v1/messages/", later_id)));
  const int64_t due = JsonInteger(get.output, "next_due_unix_ms");
  EXPECT_GT(due, 0) << get.output;
  EXPECT_LE(due, absl::ToUnixMillis(absl::Now())) << get.output;

  CommandResult purge_all = Curl(admin + "-X DELETE " + Url("/api/v1/messages"));
  EXPECT_TRUE(absl::EndsWith(purge_all.output, "status=400")) << purge_all.output;
  CommandResult purge = Curl(admin + "-X DELETE " + Url("/api/v1/messages?domain=later.example"));
  ASSERT_TRUE(absl::EndsWith(purge.output, "status=200")) << purge.output;
  EXPECT_TRUE(absl::StrContains(purge.output, "{\"purged\":1}")) << purge.output;
  CommandResult gone = Curl(admin + Url(absl::StrCat("/api/v1/messages/", later_id)));
  EXPECT_TRUE(absl::EndsWith(gone.output, "status=404")) << gone.output;
  // Reading needs read or admin; purging needs admin.
  CommandResult reader_purge = Curl("-H 'Authorization: Bearer read-token' -X DELETE " +
                                    Url("/api/v1/messages?domain=one.example"));
  EXPECT_TRUE(absl::EndsWith(reader_purge.output, "status=403")) << reader_purge.output;
}

TEST_F(HttpServerTest, DashboardIsServedWithoutAKeyAndItsDataNeedsOne) {
  Start();
  CommandResult page = Curl("-i " + Url("/"));
  ASSERT_TRUE(absl::EndsWith(page.output, "status=200")) << page.output;
  EXPECT_TRUE(absl::StrContains(page.output, "Content-Type: text/html; charset=utf-8"))
      << page.output;
  EXPECT_TRUE(absl::StrContains(page.output,
                                "Content-Security-Policy: default-src 'none'; "
                                "script-src 'self'"))
      << page.output;
  EXPECT_TRUE(absl::StrContains(page.output, "X-Content-Type-Options: nosniff")) << page.output;
  EXPECT_TRUE(absl::StrContains(page.output, "<script src=\"/dashboard/app.js\"")) << page.output;
  CommandResult script = Curl("-i " + Url("/dashboard/app.js"));
  EXPECT_TRUE(absl::StrContains(script.output, "Content-Type: text/javascript")) << script.output;
  EXPECT_TRUE(absl::StrContains(script.output, "/api/v1/stats")) << script.output;
  EXPECT_TRUE(absl::StrContains(Curl("-i " + Url("/dashboard/style.css")).output,
                                "Content-Type: text/css"));
  EXPECT_TRUE(absl::EndsWith(Curl(Url("/dashboard/nope.js")).output, "status=404"));
  EXPECT_TRUE(absl::EndsWith(Curl("-I " + Url("/")).output, "status=200"));
  // Every path but the root is still its own: no catch-all.
  EXPECT_TRUE(absl::EndsWith(Curl(Url("/nope")).output, "status=404"));
  // The numbers behind it are read-scoped.
  for (const char* path : {"/api/v1/stats", "/api/v1/sites", "/api/v1/failures"}) {
    EXPECT_TRUE(absl::EndsWith(Curl(Url(path)).output, "status=401")) << path;
  }
  CommandResult stats = Curl("-H 'Authorization: Bearer read-token' " + Url("/api/v1/stats"));
  ASSERT_TRUE(absl::EndsWith(stats.output, "status=200")) << stats.output;
  EXPECT_TRUE(absl::StrContains(stats.output, "\"interval_seconds\":5,")) << stats.output;
  EXPECT_TRUE(absl::StrContains(stats.output, "\"history\":[")) << stats.output;
  CommandResult bad_since =
      Curl("-H 'Authorization: Bearer read-token' " + Url("/api/v1/stats?since=yesterday"));
  EXPECT_TRUE(absl::StrContains(bad_since.output, "\"field\":\"since\"")) << bad_since.output;
  // Without a delivery engine, its views say so.
  CommandResult failures = Curl("-H 'Authorization: Bearer read-token' " + Url("/api/v1/failures"));
  EXPECT_TRUE(absl::EndsWith(failures.output, "status=503")) << failures.output;
  CommandResult bad_sort =
      Curl("-H 'Authorization: Bearer read-token' " + Url("/api/v1/sites?sort=colour"));
  EXPECT_TRUE(absl::StrContains(bad_sort.output, "\"field\":\"sort\"")) << bad_sort.output;
}

TEST_F(HttpServerTest, SpoolFailureIs503AndReadyzFollowsTheSpool) {
  Start(true, faulty_.env.get());
  CommandResult ready = Curl(Url("/readyz"));
  EXPECT_EQ(ready.output, "ready\n\nstatus=200");
  CommandResult health = Curl(Url("/healthz"));
  EXPECT_EQ(health.output, "ok\n\nstatus=200");

  faulty_.fs->Inject(queue::testing::FaultyFileSystem::Fault::kNoSpace);
  const std::string body = WriteFile("two.json", kTwoRecipients);
  CommandResult curl =
      RunCommand(absl::StrCat("curl -sS -i -H 'Authorization: Bearer inject-token' --data-binary @",
                              body, " ", Url("/api/v1/messages")));
  EXPECT_TRUE(absl::StrContains(curl.output, "HTTP/1.1 503")) << curl.output;
  EXPECT_TRUE(absl::StrContains(curl.output, "Retry-After: 1")) << curl.output;
  EXPECT_TRUE(absl::StrContains(curl.output, "\"field\":\"spool\"")) << curl.output;
  CommandResult not_ready = Curl(Url("/readyz"));
  EXPECT_TRUE(absl::EndsWith(not_ready.output, "status=503")) << not_ready.output;

  faulty_.fs->Inject(queue::testing::FaultyFileSystem::Fault::kNone);
  CommandResult again = Curl(absl::StrCat("-H 'Authorization: Bearer inject-token' --data-binary @",
                                          body, " ", Url("/api/v1/messages")));
  EXPECT_TRUE(absl::EndsWith(again.output, "status=200")) << again.output;
  EXPECT_TRUE(absl::EndsWith(Curl(Url("/readyz")).output, "status=200"));
  // Nothing of the failed request was kept: only the second one's two.
  EXPECT_EQ(Spooled(2).size(), 2u);
}

// One gRPC InjectRequest, framed, and the headers of its call.
std::string GrpcInjectBody() {
  sluice::v1::InjectRequest request;
  request.mutable_from()->set_email("shop@example.org");
  request.set_text("hello");
  request.add_recipients()->set_email("ada@one.example");
  return grpc::EncodeMessage(request.SerializeAsString());
}

std::vector<std::pair<std::string, std::string>> GrpcHeaders(std::string timeout = "") {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"content-type", "application/grpc"},
      {"te", "trailers"},
      {"authorization", "Bearer inject-token"}};
  if (!timeout.empty()) headers.emplace_back("grpc-timeout", timeout);
  return headers;
}

// A gRPC call's deadline (grpc-timeout) holds on the server: with the
// spool's disk hung, the only answer that can come is DEADLINE_EXCEEDED,
// for a unary call and for a stream alike.
TEST_F(HttpServerTest, GrpcCallsEndAtTheirDeadlineWhileTheSpoolHangs) {
  Start(true, faulty_.env.get());
  const std::string body = GrpcInjectBody();
  const auto headers = GrpcHeaders("300m");

  faulty_.fs->Stall(true);
  testing::Http2TestClient client;
  ASSERT_TRUE(client.Connect(port_));
  const int32_t unary = client.Submit("POST", "/sluice.v1.Injection/Inject", headers, body);
  const int32_t stream = client.Submit("POST", "/sluice.v1.Injection/InjectStream", headers, body);
  const absl::Time start = absl::Now();
  ASSERT_TRUE(client.Exchange({unary, stream}, 30000));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  for (int32_t id : {unary, stream}) {
    const testing::ClientStream& s = client.stream(id);
    EXPECT_EQ(s.status, 200);
    EXPECT_EQ(s.trailers.at("grpc-status"), "4") << id;  // DEADLINE_EXCEEDED
  }
  EXPECT_TRUE(client.stream(stream).body.empty());  // nothing was answered
  faulty_.fs->Stall(false);
}

// A full disk: UNAVAILABLE, nothing kept, with retry info saying when to
// try again; once the disk has room the same call is OK.
TEST_F(HttpServerTest, GrpcInjectIsUnavailableWithRetryInfoWhileTheSpoolCannotWrite) {
  Start(true, faulty_.env.get());
  faulty_.fs->Inject(queue::testing::FaultyFileSystem::Fault::kNoSpace);
  testing::Http2TestClient client;
  ASSERT_TRUE(client.Connect(port_));
  const int32_t refused =
      client.Submit("POST", "/sluice.v1.Injection/Inject", GrpcHeaders(), GrpcInjectBody());
  ASSERT_TRUE(client.Exchange({refused}, 30000));
  const testing::ClientStream& no = client.stream(refused);
  EXPECT_EQ(no.trailers.at("grpc-status"), "14");  // UNAVAILABLE
  EXPECT_TRUE(absl::StrContains(grpc::PercentDecode(no.trailers.at("grpc-message")), "spool"));
  std::string details;
  ASSERT_TRUE(absl::Base64Unescape(no.trailers.at("grpc-status-details-bin"), &details));
  google::rpc::Status status;
  ASSERT_TRUE(status.ParseFromString(details));
  EXPECT_EQ(status.code(), 14);
  ASSERT_EQ(status.details_size(), 1);
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(status.details(0).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 1);

  faulty_.fs->Inject(queue::testing::FaultyFileSystem::Fault::kNone);
  const int32_t taken =
      client.Submit("POST", "/sluice.v1.Injection/Inject", GrpcHeaders(), GrpcInjectBody());
  ASSERT_TRUE(client.Exchange({taken}, 30000));
  EXPECT_EQ(client.stream(taken).trailers.at("grpc-status"), "0");
  EXPECT_EQ(Spooled(1).size(), 1u);  // only the second call's message
}

}  // namespace
}  // namespace sluice::api
