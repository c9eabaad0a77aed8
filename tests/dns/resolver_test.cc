// Resolver against a real authoritative server (NSD) on loopback, plus a
// hand-written UDP server for SERVFAIL and a socket that never answers.
#include "dns/resolver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "common/metrics.h"
#include "dns/dns_error.h"
#include "reactor/reactor.h"
#include "tests/dns/fake_dns_server.h"
#include "tests/dns/nsd_server.h"

namespace sluice::dns {
namespace {

using testing::FakeDnsServer;
using testing::NsdServer;
using testing::ZoneFile;

constexpr int kBulkDomains = 10'000;
constexpr int kBulkMxHosts = 50;

std::string MainZone() {
  std::string z =
      "$ORIGIN sluice.test.\n"
      "$TTL 300\n"
      "@ IN SOA ns.sluice.test. admin.sluice.test. 1 3600 600 86400 60\n"
      "@ IN NS ns\n"
      "ns IN A 127.0.0.1\n"
      "multi IN MX 20 mx3\n"
      "multi IN MX 10 mx1\n"
      "multi IN MX 10 mx2\n"
      "multi IN MX 5 mx0\n"
      "mx0 IN A 192.0.2.10\n"
      "mx1 IN A 192.0.2.11\n"
      "mx2 IN A 192.0.2.12\n"
      "mx2 IN AAAA 2001:db8::12\n"
      "mx3 IN A 192.0.2.13\n"
      "implicit IN A 192.0.2.20\n"
      "implicit IN AAAA 2001:db8::20\n"
      "nullmx IN MX 0 .\n"
      "nodata IN TXT \"only text here\"\n"
      "alias IN CNAME chain1\n"
      "chain1 IN CNAME multi\n"
      "outside IN CNAME target.other.test.\n"
      "dangling IN CNAME mx.elsewhere.test.\n"
      "v6only IN MX 10 v6host\n"
      "v6host IN AAAA 2001:db8::66\n"
      "ttl 30 IN MX 10 mx1\n"
      "txt IN TXT \"v=spf1 -all\"\n"
      "txt IN TXT \"part one\" \"part two\"\n"
      "_25._tcp.mx1 IN TLSA 3 1 1 "
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
      "xn--bcher-kva IN MX 10 mx1\n"
      "rollup-a IN MX 10 mx1\n"
      "rollup-a IN MX 20 mx2\n"
      "rollup-b IN MX 5 mx2\n"
      "rollup-b IN MX 5 mx1\n";
  // 80 A records: 1,300+ bytes, past the 512 of a plain UDP answer.
  for (int i = 1; i <= 80; ++i) absl::StrAppend(&z, "big IN A 198.51.100.", i, "\n");
  return z;
}

std::string OtherZone() {
  return "$ORIGIN other.test.\n"
         "$TTL 300\n"
         "@ IN SOA ns.other.test. admin.other.test. 1 3600 600 86400 60\n"
         "@ IN NS ns.sluice.test.\n"
         "target IN MX 10 mx1.sluice.test.\n";
}

std::string BulkZone() {
  std::string z =
      "$ORIGIN bulk.test.\n"
      "$TTL 3600\n"
      "@ IN SOA ns.bulk.test. admin.bulk.test. 1 3600 600 86400 60\n"
      "@ IN NS ns.sluice.test.\n";
  for (int i = 0; i < kBulkDomains; ++i) {
    absl::StrAppend(&z, "d", i, " IN MX 10 mx", i % kBulkMxHosts, ".sluice.test.\n");
  }
  return z;
}

using Step = std::function<void(std::function<void()> next)>;

class ResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<ZoneFile> zones = {
        {"sluice.test", MainZone(), true},
        {"other.test", OtherZone(), true},
        {"bulk.test", BulkZone(), true},
        // Configured but unloadable: NSD answers SERVFAIL for it.
        {"broken.test", "this is not a zone file\n", false},
    };
    absl::StatusOr<std::unique_ptr<NsdServer>> server = NsdServer::Start(zones);
    if (server.ok()) {
      server_ = server->release();
    } else {
      start_error_ = new absl::Status(server.status());
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    reactor::ReactorOptions options;
    options.ring_entries = 256;
    options.recv_buffer_count = 8;
    options.recv_buffer_size = 4096;
    absl::StatusOr<std::unique_ptr<reactor::Reactor>> reactor = reactor::Reactor::Create(options);
    ASSERT_TRUE(reactor.ok()) << reactor.status();
    reactor_ = *std::move(reactor);
  }

  DnsConfig Config() const {
    DnsConfig config;
    config.servers = {server_->address()};
    config.query_timeout = absl::Milliseconds(500);
    config.tries = 2;
    config.mx_port = 2525;
    config.cache.min_ttl = absl::Seconds(1);
    return config;
  }

  void MakeResolver(const DnsConfig& config, const ResolverMetrics* metrics = nullptr) {
    absl::StatusOr<std::unique_ptr<Resolver>> resolver =
        Resolver::Create(*reactor_, config, &clock_, metrics);
    ASSERT_TRUE(resolver.ok()) << resolver.status();
    resolver_ = *std::move(resolver);
  }

  // Runs `steps` in order on the loop (each calls next() when done), then
  // destroys the resolver and stops. A test that hangs fails after 30 s.
  void Run(std::vector<Step> steps) {
    auto shared = std::make_shared<std::vector<Step>>(std::move(steps));
    auto index = std::make_shared<size_t>(0);
    auto finish = [this] {
      reactor_->Defer([this] {
        resolver_.reset();
        reactor_->RequestStop();
      });
    };
    auto advance = std::make_shared<std::function<void()>>();
    *advance = [shared, index, finish, advance] {
      if (*index == shared->size()) {
        finish();
        return;
      }
      Step& step = (*shared)[(*index)++];
      step([advance] { (*advance)(); });
    };
    reactor::TimerId watchdog = reactor_->RunAfter(absl::Seconds(30), [this, finish] {
      ADD_FAILURE() << "test timed out";
      finish();
    });
    reactor_->Defer([advance] { (*advance)(); });
    reactor_->Run();
    reactor_->CancelTimer(watchdog);
    *advance = nullptr;  // break the self-reference
    EXPECT_EQ(reactor_->in_flight(), 0u);
  }

  absl::StatusOr<MxResult> Mx(std::string_view domain) {
    std::optional<absl::StatusOr<MxResult>> out;
    Run({[&](auto next) {
      resolver_->LookupMx(domain, [&, next](absl::StatusOr<MxResult> r) {
        out = std::move(r);
        next();
      });
    }});
    if (!out) return absl::InternalError("no answer");
    return *std::move(out);
  }

  static NsdServer* server_;
  static absl::Status* start_error_;
  common::FakeClock clock_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<Resolver> resolver_;
};

NsdServer* ResolverTest::server_ = nullptr;
absl::Status* ResolverTest::start_error_ = nullptr;

TEST_F(ResolverTest, MxSortedByPreferenceWithEqualOnesShuffled) {
  MakeResolver(Config());
  std::set<std::string> first_of_equal;
  uint64_t sent = 0;
  std::vector<Step> steps;
  for (int i = 0; i < 40; ++i) {
    steps.push_back([&](auto next) {
      resolver_->LookupMx("Multi.Sluice.Test.", [&, next](absl::StatusOr<MxResult> r) {
        ASSERT_TRUE(r.ok()) << r.status();
        EXPECT_FALSE(r->implicit);
        EXPECT_EQ(r->domain, "multi.sluice.test");
        ASSERT_EQ(r->mx.size(), 4u);
        EXPECT_EQ(r->mx[0], (MxRecord{5, "mx0.sluice.test"}));
        EXPECT_EQ(r->mx[1].preference, 10);
        EXPECT_EQ(r->mx[2].preference, 10);
        EXPECT_EQ((std::set<std::string>{r->mx[1].host, r->mx[2].host}),
                  (std::set<std::string>{"mx1.sluice.test", "mx2.sluice.test"}));
        EXPECT_EQ(r->mx[3], (MxRecord{20, "mx3.sluice.test"}));
        first_of_equal.insert(r->mx[1].host);
        sent = resolver_->stats().queries_sent;
        next();
      });
    });
  }
  Run(std::move(steps));
  EXPECT_EQ(first_of_equal.size(), 2u) << "equal preferences were never shuffled";
  // One query; the other 39 lookups were cache hits, each shuffled afresh.
  EXPECT_EQ(sent, 1u);
}

TEST_F(ResolverTest, MetricsCountQueriesByTypeAndResultAndCacheLookups) {
  common::MetricsRegistry registry(0);
  absl::StatusOr<ResolverMetrics> metrics = RegisterResolverMetrics(registry);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  MakeResolver(Config(), &*metrics);
  std::vector<bool> ok;
  std::vector<Step> steps;
  // The second lookup of multi comes from the cache.
  for (const char* domain : {"multi.sluice.test", "multi.sluice.test", "nope.sluice.test"}) {
    steps.push_back([&, domain](auto next) {
      resolver_->LookupMx(domain, [&, next](absl::StatusOr<MxResult> r) {
        ok.push_back(r.ok());
        next();
      });
    });
  }
  Run(std::move(steps));
  EXPECT_EQ(ok, (std::vector<bool>{true, true, false}));
  const int mx = ResolverMetrics::QueryTypeIndex(RecordType::kMx);
  EXPECT_EQ(metrics->queries[mx][static_cast<int>(AnswerStatus::kOk)]->Value(), 1u);
  EXPECT_EQ(metrics->queries[mx][static_cast<int>(AnswerStatus::kNxDomain)]->Value(), 1u);
  EXPECT_EQ(metrics->cache_hits->Value(), 1u);
  EXPECT_EQ(metrics->cache_misses->Value(), 2u);
  const std::string text = registry.RenderPrometheus();
  EXPECT_NE(text.find("sluice_dns_queries_total{result=\"nxdomain\",type=\"mx\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_dns_cache_lookups_total{result=\"hit\"} 1"), std::string::npos)
      << text;
}

TEST_F(ResolverTest, ImplicitMxWhenTheDomainHasOnlyAddresses) {
  MakeResolver(Config());
  absl::StatusOr<MxResult> r = Mx("implicit.sluice.test");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->implicit);
  EXPECT_EQ(r->mx, (std::vector<MxRecord>{{0, "implicit.sluice.test"}}));
}

TEST_F(ResolverTest, NullMxIsAPermanentFailureOfItsOwn) {
  MakeResolver(Config());
  absl::StatusOr<MxResult> r = Mx("nullmx.sluice.test");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(FailureOf(r.status()), DnsFailure::kNullMx);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(IsTemporaryDnsError(r.status()));
}

TEST_F(ResolverTest, NxDomainIsPermanent) {
  MakeResolver(Config());
  absl::StatusOr<MxResult> r = Mx("nope.sluice.test");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(FailureOf(r.status()), DnsFailure::kNxDomain) << r.status();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(IsTemporaryDnsError(r.status()));
}

TEST_F(ResolverTest, NoDataForMxAndAddressesIsPermanent) {
  DnsConfig config = Config();
  MakeResolver(config);
  // No MX, and no address for an implicit MX either.
  absl::StatusOr<MxResult> r = Mx("nodata.sluice.test");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(FailureOf(r.status()), DnsFailure::kNoData) << r.status();
  EXPECT_FALSE(IsTemporaryDnsError(r.status()));
}

TEST_F(ResolverTest, NoDataIsCachedNegativelyUntilTheSoaTtl) {
  MakeResolver(Config());
  uint64_t sent_first = 0, sent_cached = 0, sent_expired = 0;
  Run({[&](auto next) {
         resolver_->Query("nodata.sluice.test", RecordType::kA, [&, next](const Answer& a) {
           EXPECT_EQ(a.status, AnswerStatus::kNoData);
           sent_first = resolver_->stats().queries_sent;
           next();
         });
       },
       [&](auto next) {
         clock_.Advance(absl::Seconds(59));  // the zone's SOA minimum is 60 s
         resolver_->Query("nodata.sluice.test", RecordType::kA, [&, next](const Answer& a) {
           EXPECT_EQ(a.status, AnswerStatus::kNoData);
           sent_cached = resolver_->stats().queries_sent;
           next();
         });
       },
       [&](auto next) {
         clock_.Advance(absl::Seconds(1));
         resolver_->Query("nodata.sluice.test", RecordType::kA, [&, next](const Answer& a) {
           EXPECT_EQ(a.status, AnswerStatus::kNoData);
           sent_expired = resolver_->stats().queries_sent;
           next();
         });
       }});
  EXPECT_EQ(sent_first, 1u);
  EXPECT_EQ(sent_cached, 1u);
  EXPECT_EQ(sent_expired, 2u);
}

TEST_F(ResolverTest, ServFailFromTheServerIsTemporary) {
  MakeResolver(Config());
  absl::StatusOr<MxResult> r = Mx("broken.test");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(FailureOf(r.status()), DnsFailure::kServFail) << r.status();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsTemporaryDnsError(r.status()));
}

TEST_F(ResolverTest, ServFailIsCachedBrieflyThenRetried) {
  absl::StatusOr<std::unique_ptr<FakeDnsServer>> fake =
      FakeDnsServer::Start(FakeDnsServer::Mode::kServFail);
  ASSERT_TRUE(fake.ok()) << fake.status();
  DnsConfig config = Config();
  config.servers = {(*fake)->address()};
  config.cache.temporary_error_ttl = absl::Seconds(5);
  MakeResolver(config);
  std::vector<DnsFailure> failures;
  std::vector<int> server_queries;
  auto lookup = [&](std::function<void()> next) {
    resolver_->LookupMx("example.test", [&, next](absl::StatusOr<MxResult> r) {
      failures.push_back(FailureOf(r.status()));
      server_queries.push_back((*fake)->queries());
      next();
    });
  };
  Run({lookup,
       [&](auto next) {
         clock_.Advance(absl::Seconds(4));
         lookup(next);
       },
       [&](auto next) {
         clock_.Advance(absl::Seconds(1));
         lookup(next);
       }});
  EXPECT_EQ(failures, (std::vector<DnsFailure>(3, DnsFailure::kServFail)));
  // tries = 2 per lookup; the second lookup came from the short negative cache.
  EXPECT_EQ(server_queries, (std::vector<int>{2, 2, 4}));
}

TEST_F(ResolverTest, ServerThatNeverAnswersTimesOut) {
  absl::StatusOr<std::unique_ptr<FakeDnsServer>> silent =
      FakeDnsServer::Start(FakeDnsServer::Mode::kSilent);
  ASSERT_TRUE(silent.ok()) << silent.status();
  DnsConfig config = Config();
  config.servers = {(*silent)->address()};
  config.query_timeout = absl::Milliseconds(100);
  config.tries = 2;
  MakeResolver(config);
  absl::StatusOr<MxResult> r = Mx("example.test");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(FailureOf(r.status()), DnsFailure::kTimeout) << r.status();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(IsTemporaryDnsError(r.status()));
}

TEST_F(ResolverTest, DestroyingTheResolverAnswersPendingLookups) {
  absl::StatusOr<std::unique_ptr<FakeDnsServer>> silent =
      FakeDnsServer::Start(FakeDnsServer::Mode::kSilent);
  ASSERT_TRUE(silent.ok()) << silent.status();
  DnsConfig config = Config();
  config.servers = {(*silent)->address()};
  config.query_timeout = absl::Seconds(10);
  MakeResolver(config);
  std::optional<absl::Status> status;
  Run({[&](auto next) {
    resolver_->LookupMx("example.test", [&](absl::StatusOr<MxResult> r) { status = r.status(); });
    reactor_->Defer(next);  // the query is on the wire; now shut down
  }});
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(IsTemporaryDnsError(*status)) << *status;
}

TEST_F(ResolverTest, FollowsCnameChains) {
  MakeResolver(Config());
  std::optional<absl::StatusOr<Site>> alias, multi, outside;
  uint64_t chases = 0;
  Run({[&](auto next) {
         resolver_->ResolveSite("alias.sluice.test", [&, next](absl::StatusOr<Site> s) {
           alias = std::move(s);
           next();
         });
       },
       [&](auto next) {
         resolver_->ResolveSite("multi.sluice.test", [&, next](absl::StatusOr<Site> s) {
           multi = std::move(s);
           next();
         });
       },
       [&](auto next) {
         resolver_->ResolveSite("outside.sluice.test", [&, next](absl::StatusOr<Site> s) {
           outside = std::move(s);
           chases = resolver_->stats().cname_chases;
           next();
         });
       }});
  ASSERT_TRUE(alias && alias->ok()) << (alias ? alias->status() : absl::UnknownError("none"));
  ASSERT_TRUE(multi && multi->ok());
  EXPECT_EQ((*alias)->key, (*multi)->key);
  EXPECT_EQ((*alias)->mx.size(), 4u);
  ASSERT_TRUE(outside && outside->ok()) << outside->status();
  EXPECT_EQ((*outside)->key, "mx:mx1.sluice.test");
  // NSD chased those chains itself (both zones are its own).
  EXPECT_EQ(chases, 0u);
}

TEST_F(ResolverTest, CnameTheServerDidNotChaseIsAskedForByTheResolver) {
  MakeResolver(Config());
  std::optional<Answer> answer;
  ResolverStats stats;
  Run({[&](auto next) {
    resolver_->Query("dangling.sluice.test", RecordType::kMx, [&, next](const Answer& a) {
      answer = a;
      stats = resolver_->stats();
      next();
    });
  }});
  ASSERT_TRUE(answer.has_value());
  // NSD gives only the CNAME (it serves no elsewhere.test); the resolver
  // asks for the target itself, which NSD refuses: a server failure.
  EXPECT_EQ(stats.cname_chases, 1u);
  EXPECT_EQ(stats.queries_sent, 2u);
  EXPECT_EQ(answer->status, AnswerStatus::kServFail) << answer->detail;
}

TEST_F(ResolverTest, AaaaOnlyHost) {
  DnsConfig config = Config();
  config.address_order = AddressOrder::kIpv4First;
  MakeResolver(config);
  std::optional<absl::StatusOr<Destination>> destination;
  std::optional<absl::StatusOr<std::vector<reactor::SocketAddress>>> v4only;
  Run({[&](auto next) {
         resolver_->ResolveDestination("v6only.sluice.test",
                                       [&, next](absl::StatusOr<Destination> d) {
                                         destination = std::move(d);
                                         next();
                                       });
       },
       [&](auto next) {
         // The same host asked for IPv4 only (the AAAA answer is cached).
         resolver_->Query("v6host.sluice.test", RecordType::kA, [&, next](const Answer& a) {
           EXPECT_EQ(a.status, AnswerStatus::kNoData);
           next();
         });
       }});
  ASSERT_TRUE(destination && destination->ok()) << destination->status();
  const Destination& d = **destination;
  ASSERT_EQ(d.hosts.size(), 1u);
  EXPECT_EQ(d.hosts[0].host, "v6host.sluice.test");
  ASSERT_TRUE(d.hosts[0].status.ok()) << d.hosts[0].status;
  ASSERT_EQ(d.hosts[0].addresses.size(), 1u);
  EXPECT_EQ(d.hosts[0].addresses[0].ToString(), "[2001:db8::66]:2525");
}

TEST_F(ResolverTest, DestinationAddressesFollowTheConfiguredFamilyOrder) {
  for (AddressOrder order : {AddressOrder::kIpv4First, AddressOrder::kIpv6First,
                             AddressOrder::kIpv4Only, AddressOrder::kIpv6Only}) {
    SetUp();
    DnsConfig config = Config();
    config.address_order = order;
    MakeResolver(config);
    std::optional<absl::StatusOr<std::vector<reactor::SocketAddress>>> out;
    Run({[&](auto next) {
      resolver_->LookupAddresses("mx2.sluice.test",
                                 [&, next](absl::StatusOr<std::vector<reactor::SocketAddress>> a) {
                                   out = std::move(a);
                                   next();
                                 });
    }});
    ASSERT_TRUE(out && out->ok());
    std::vector<std::string> hosts;
    for (const reactor::SocketAddress& a : **out) hosts.push_back(a.HostString());
    switch (order) {
      case AddressOrder::kIpv4First:
        EXPECT_EQ(hosts, (std::vector<std::string>{"192.0.2.12", "2001:db8::12"}));
        break;
      case AddressOrder::kIpv6First:
        EXPECT_EQ(hosts, (std::vector<std::string>{"2001:db8::12", "192.0.2.12"}));
        break;
      case AddressOrder::kIpv4Only:
        EXPECT_EQ(hosts, (std::vector<std::string>{"192.0.2.12"}));
        break;
      case AddressOrder::kIpv6Only:
        EXPECT_EQ(hosts, (std::vector<std::string>{"2001:db8::12"}));
        break;
    }
  }
}

TEST_F(ResolverTest, MxDestinationHasAddressesOfEveryHost) {
  MakeResolver(Config());
  std::optional<absl::StatusOr<Destination>> out;
  Run({[&](auto next) {
    resolver_->ResolveDestination("multi.sluice.test", [&, next](absl::StatusOr<Destination> d) {
      out = std::move(d);
      next();
    });
  }});
  ASSERT_TRUE(out && out->ok()) << out->status();
  const Destination& d = **out;
  EXPECT_EQ(d.site.source, SiteSource::kMx);
  ASSERT_EQ(d.hosts.size(), 4u);
  EXPECT_EQ(d.hosts[0].host, "mx0.sluice.test");
  EXPECT_EQ(d.hosts[0].addresses[0].ToString(), "192.0.2.10:2525");
  EXPECT_EQ(d.hosts[3].host, "mx3.sluice.test");
  for (const DestinationHost& h : d.hosts) {
    EXPECT_TRUE(h.status.ok()) << h.host;
    EXPECT_FALSE(h.addresses.empty()) << h.host;
  }
}

TEST_F(ResolverTest, TruncatedAnswerIsRetriedOverTcp) {
  // The server really truncates this answer over UDP...
  absl::StatusOr<uint16_t> flags = testing::ProbeFlags(server_->port(), "big.sluice.test", 1, 2000);
  ASSERT_TRUE(flags.ok()) << flags.status();
  ASSERT_NE(*flags & 0x0200, 0) << "expected the UDP answer to be truncated (TC)";
  // ...and the resolver still gets all 80 addresses.
  DnsConfig config = Config();
  config.address_order = AddressOrder::kIpv4Only;
  MakeResolver(config);
  std::optional<absl::StatusOr<std::vector<reactor::SocketAddress>>> out;
  Run({[&](auto next) {
    resolver_->LookupAddresses("big.sluice.test",
                               [&, next](absl::StatusOr<std::vector<reactor::SocketAddress>> a) {
                                 out = std::move(a);
                                 next();
                               });
  }});
  ASSERT_TRUE(out && out->ok()) << out->status();
  EXPECT_EQ((*out)->size(), 80u);
}

TEST_F(ResolverTest, TlsaAndTxtAsRawRecords) {
  MakeResolver(Config());
  std::optional<absl::StatusOr<TlsaResult>> tlsa;
  std::optional<absl::StatusOr<std::vector<TxtRecord>>> txt;
  Run({[&](auto next) {
         resolver_->LookupTlsa("mx1.sluice.test", 25, [&, next](absl::StatusOr<TlsaResult> t) {
           tlsa = std::move(t);
           next();
         });
       },
       [&](auto next) {
         resolver_->LookupTxt("txt.sluice.test",
                              [&, next](absl::StatusOr<std::vector<TxtRecord>> t) {
                                txt = std::move(t);
                                next();
                              });
       }});
  ASSERT_TRUE(tlsa && tlsa->ok()) << tlsa->status();
  ASSERT_EQ((*tlsa)->records.size(), 1u);
  const TlsaRecord& r = (*tlsa)->records[0];
  EXPECT_EQ(r.usage, 3);
  EXPECT_EQ(r.selector, 1);
  EXPECT_EQ(r.matching_type, 1);
  ASSERT_EQ(r.data.size(), 32u);
  EXPECT_EQ(static_cast<uint8_t>(r.data[0]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(r.data[31]), 0xef);
  EXPECT_FALSE((*tlsa)->authenticated);  // NSD does not validate
  ASSERT_TRUE(txt && txt->ok()) << txt->status();
  std::set<std::string> joined;
  for (const TxtRecord& t : **txt) joined.insert(t.Joined());
  EXPECT_EQ(joined, (std::set<std::string>{"v=spf1 -all", "part onepart two"}));
}

TEST_F(ResolverTest, InternationalisedDomainIsAskedAsALabel) {
  MakeResolver(Config());
  absl::StatusOr<MxResult> r = Mx("Bücher.sluice.test");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->domain, "xn--bcher-kva.sluice.test");
  EXPECT_EQ(r->mx, (std::vector<MxRecord>{{10, "mx1.sluice.test"}}));
}

TEST_F(ResolverTest, TtlExpiryWithTheFakeClock) {
  MakeResolver(Config());  // min_ttl 1 s; the record's TTL is 30 s
  std::vector<uint64_t> sent;
  auto lookup = [&](std::function<void()> next) {
    resolver_->LookupMx("ttl.sluice.test", [&, next](absl::StatusOr<MxResult> r) {
      EXPECT_TRUE(r.ok()) << r.status();
      sent.push_back(resolver_->stats().queries_sent);
      next();
    });
  };
  Run({lookup, lookup,
       [&](auto next) {
         clock_.Advance(absl::Seconds(29));
         lookup(next);
       },
       [&](auto next) {
         clock_.Advance(absl::Seconds(1));
         lookup(next);
       }});
  EXPECT_EQ(sent, (std::vector<uint64_t>{1, 1, 1, 2}));
}

TEST_F(ResolverTest, ConcurrentLookupsShareOneQuery) {
  MakeResolver(Config());
  int answered = 0;
  ResolverStats stats;
  Run({[&](auto next) {
    for (int i = 0; i < 50; ++i) {
      resolver_->LookupMx("rollup-a.sluice.test", [&, next](absl::StatusOr<MxResult> r) {
        EXPECT_TRUE(r.ok()) << r.status();
        if (++answered < 50) return;
        stats = resolver_->stats();
        next();
      });
    }
  }});
  EXPECT_EQ(answered, 50);
  EXPECT_EQ(stats.queries_sent, 1u);
  EXPECT_EQ(stats.coalesced, 49u);
}

TEST_F(ResolverTest, SiteKeysRollUpDomainsWithTheSameMxHosts) {
  MakeResolver(Config());
  std::vector<std::string> keys;
  ResolverStats stats;
  Run({[&](auto next) {
    resolver_->ResolveSites(
        {"rollup-a.sluice.test", "rollup-b.sluice.test", "multi.sluice.test",
         "rollup-a.sluice.test"},
        2,
        [&](size_t, absl::StatusOr<Site> s) {
          ASSERT_TRUE(s.ok()) << s.status();
          keys.push_back(s->key);
        },
        [&, next] {
          stats = resolver_->stats();
          next();
        });
  }});
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()),
            (std::set<std::string>{"mx:mx1.sluice.test,mx2.sluice.test",
                                   "mx:mx0.sluice.test,mx1.sluice.test,mx2.sluice.test,"
                                   "mx3.sluice.test"}));
  EXPECT_EQ(stats.queries_sent, 3u);  // rollup-a asked once
}

TEST_F(ResolverTest, StaticRoutesAndSmartHostOverrideDns) {
  DnsConfig config = Config();
  config.static_routes.push_back(StaticRoute{"*.routed.test", {"127.0.0.1:2600"}});
  config.static_routes.push_back(StaticRoute{"multi.sluice.test", {"mx1.sluice.test:2601"}});
  MakeResolver(config);
  std::optional<absl::StatusOr<Destination>> wildcard, named;
  ResolverStats after_wildcard;
  Run({[&](auto next) {
         resolver_->ResolveDestination("a.b.routed.test", [&, next](absl::StatusOr<Destination> d) {
           wildcard = std::move(d);
           after_wildcard = resolver_->stats();
           next();
         });
       },
       [&](auto next) {
         resolver_->ResolveDestination("multi.sluice.test",
                                       [&, next](absl::StatusOr<Destination> d) {
                                         named = std::move(d);
                                         next();
                                       });
       }});
  ASSERT_TRUE(wildcard && wildcard->ok()) << wildcard->status();
  EXPECT_EQ((*wildcard)->site.source, SiteSource::kStaticRoute);
  EXPECT_EQ((*wildcard)->site.key, "static:127.0.0.1:2600");
  ASSERT_EQ((*wildcard)->hosts.size(), 1u);
  EXPECT_EQ((*wildcard)->hosts[0].addresses[0].ToString(), "127.0.0.1:2600");
  EXPECT_EQ(after_wildcard.queries_sent, 0u);  // no DNS for a numeric static route
  ASSERT_TRUE(named && named->ok()) << named->status();
  EXPECT_EQ((*named)->site.source, SiteSource::kStaticRoute);
  ASSERT_EQ((*named)->hosts.size(), 1u);
  EXPECT_EQ((*named)->hosts[0].addresses[0].ToString(), "192.0.2.11:2601");

  SetUp();
  config.smart_hosts = {"127.0.0.1:2700"};
  MakeResolver(config);
  std::optional<absl::StatusOr<Site>> smart;
  Run({[&](auto next) {
    resolver_->ResolveSite("anything.example", [&, next](absl::StatusOr<Site> s) {
      smart = std::move(s);
      next();
    });
  }});
  ASSERT_TRUE(smart && smart->ok()) << smart->status();
  EXPECT_EQ((*smart)->source, SiteSource::kSmartHost);
  EXPECT_EQ((*smart)->key, "smarthost:127.0.0.1:2700");
}

TEST_F(ResolverTest, BatchOfTenThousandDomainsWithBoundedConcurrency) {
  DnsConfig config = Config();
  config.max_queries_in_flight = 128;
  MakeResolver(config);
  std::vector<std::string> domains;
  for (int i = 0; i < kBulkDomains; ++i) domains.push_back(absl::StrCat("d", i, ".bulk.test"));
  constexpr size_t kWindow = 200;
  size_t completed = 0, ok = 0, max_outstanding = 0;
  ResolverStats at_start;
  std::vector<bool> seen(kBulkDomains, false);
  std::set<std::string> keys;
  bool done = false;
  ResolverStats stats;
  Run({[&](auto next) {
    resolver_->ResolveSites(
        domains, kWindow,
        [&](size_t index, absl::StatusOr<Site> s) {
          ++completed;
          ASSERT_LT(index, seen.size());
          EXPECT_FALSE(seen[index]) << "answered twice: " << index;
          seen[index] = true;
          if (s.ok()) {
            ++ok;
            keys.insert(s->key);
            EXPECT_EQ(s->key, absl::StrCat("mx:mx", index % kBulkMxHosts, ".sluice.test"));
          } else {
            ADD_FAILURE() << s.status();
          }
          const ResolverStats now = resolver_->stats();
          max_outstanding = std::max(max_outstanding, now.queries_in_flight + now.queries_queued);
        },
        [&, next] {
          done = true;
          stats = resolver_->stats();
          next();
        });
    // Right after the call: the window is full, the rest waits.
    at_start = resolver_->stats();
  }});
  EXPECT_TRUE(done);
  EXPECT_EQ(completed, static_cast<size_t>(kBulkDomains));
  EXPECT_EQ(ok, static_cast<size_t>(kBulkDomains));
  EXPECT_EQ(keys.size(), static_cast<size_t>(kBulkMxHosts));
  EXPECT_EQ(stats.queries_sent, static_cast<uint64_t>(kBulkDomains));
  // The batch window (200 domains) was filled; the channel put 128 on the
  // wire and queued the rest; the window was never exceeded.
  EXPECT_EQ(at_start.queries_in_flight, 128u);
  EXPECT_EQ(at_start.queries_queued, kWindow - 128);
  EXPECT_LE(max_outstanding, kWindow);
}

TEST_F(ResolverTest, IdleResolverLetsAStoppingReactorDrain) {
  // A reactor whose drain would give up only after a minute...
  reactor::ReactorOptions options;
  options.ring_entries = 64;
  options.recv_buffer_count = 8;
  options.stop_grace = absl::Seconds(60);
  absl::StatusOr<std::unique_ptr<reactor::Reactor>> reactor = reactor::Reactor::Create(options);
  ASSERT_TRUE(reactor.ok()) << reactor.status();
  reactor_ = *std::move(reactor);
  MakeResolver(Config());
  bool answered = false;
  reactor_->Defer([&] {
    resolver_->LookupMx("multi.sluice.test", [&](absl::StatusOr<MxResult> r) {
      EXPECT_TRUE(r.ok()) << r.status();
      answered = true;
      // ...stops with the resolver alive and its UDP socket open (c-ares
      // runs with STAYOPEN): no poll may stay armed on an idle socket, or
      // Run() would wait out the grace period with a request in flight.
      reactor_->Defer([&] { reactor_->RequestStop(); });
    });
  });
  reactor::TimerId watchdog = reactor_->RunAfter(absl::Seconds(20), [&] {
    ADD_FAILURE() << "no answer";
    reactor_->RequestStop();
  });
  reactor_->Run();
  reactor_->CancelTimer(watchdog);
  EXPECT_TRUE(answered);
  EXPECT_EQ(reactor_->in_flight(), 0u);
  // Destroyed after the loop ended: nothing is left in the ring to leak.
  resolver_.reset();
}

}  // namespace
}  // namespace sluice::dns
