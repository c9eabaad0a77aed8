// DNS lookups per second: the reactor resolver (c-ares on io_uring, one
// thread) against blocking res_nquery() in a thread pool, same domains, same
// concurrency, same run, against a local NSD the benchmark starts itself
// (Debian package "nsd"). Also the cost of a cache hit.
//
//   bazel run -c opt //bench:dns_bench
//
// BM_ColdLookups/<concurrency>: each iteration resolves the MX of 10,000
// distinct domains both ways with an empty cache; counters:
//   reactor_per_s, res_query_per_s   lookups per second of each
//   reactor_vs_res_query             their ratio (> 1: the reactor is faster)
#include <arpa/nameser.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <resolv.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dns/resolver.h"
#include "reactor/reactor.h"
#include "tests/dns/nsd_server.h"

namespace sluice::bench {
namespace {

constexpr int kDomains = 10'000;

std::string BenchZone() {
  std::string z =
      "$ORIGIN bench.test.\n"
      "$TTL 3600\n"
      "@ IN SOA ns.bench.test. admin.bench.test. 1 3600 600 86400 60\n"
      "@ IN NS ns\n"
      "ns IN A 127.0.0.1\n";
  for (int i = 0; i < 100; ++i) absl::StrAppend(&z, "mx", i, " IN A 192.0.2.", i + 1, "\n");
  for (int i = 0; i < kDomains; ++i) {
    absl::StrAppend(&z, "d", i, " IN MX 10 mx", i % 100, "\n");
  }
  return z;
}

}  // namespace

dns::testing::NsdServer* server_instance = nullptr;

namespace {

dns::testing::NsdServer& Server() {
  static dns::testing::NsdServer* server = [] {
    auto started = dns::testing::NsdServer::Start({{"bench.test", BenchZone(), true}});
    if (!started.ok()) {
      fprintf(stderr, "dns_bench: %s\n", std::string(started.status().message()).c_str());
      exit(1);
    }
    server_instance = started->release();
    return server_instance;
  }();
  return *server;
}

std::vector<std::string> Domains() {
  std::vector<std::string> domains;
  domains.reserve(kDomains);
  for (int i = 0; i < kDomains; ++i) domains.push_back(absl::StrCat("d", i, ".bench.test"));
  return domains;
}

std::unique_ptr<reactor::Reactor> MakeReactor() {
  reactor::ReactorOptions options;
  options.ring_entries = 1024;
  options.recv_buffer_count = 8;
  auto reactor = reactor::Reactor::Create(options);
  if (!reactor.ok()) return nullptr;
  return *std::move(reactor);
}

dns::DnsConfig Config(size_t concurrency) {
  dns::DnsConfig config;
  config.servers = {Server().address()};
  config.max_queries_in_flight = concurrency;
  config.query_timeout = absl::Seconds(2);
  return config;
}

// Resolves every domain's MX on one reactor with `concurrency` in flight;
// returns the seconds taken and the number that succeeded.
double ReactorLookups(const std::vector<std::string>& domains, size_t concurrency, size_t* ok) {
  std::unique_ptr<reactor::Reactor> reactor = MakeReactor();
  auto resolver = dns::Resolver::Create(*reactor, Config(concurrency));
  if (!resolver.ok()) return -1;
  std::unique_ptr<dns::Resolver> r = *std::move(resolver);
  *ok = 0;
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point end;
  reactor->Defer([&] {
    r->ResolveSites(
        domains, concurrency,
        [&](size_t, absl::StatusOr<dns::Site> site) {
          if (site.ok()) ++*ok;
        },
        [&] {
          end = std::chrono::steady_clock::now();
          reactor->Defer([&] {
            r.reset();
            reactor->RequestStop();
          });
        });
  });
  reactor->Run();
  return std::chrono::duration<double>(end - start).count();
}

// The same with blocking res_nquery() on `threads` threads.
double BlockingLookups(const std::vector<std::string>& domains, size_t threads, size_t* ok) {
  std::atomic<size_t> next{0};
  std::atomic<size_t> succeeded{0};
  const uint16_t port = Server().port();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      struct __res_state state {};
      res_ninit(&state);
      state.nscount = 1;
      state.nsaddr_list[0].sin_family = AF_INET;
      state.nsaddr_list[0].sin_port = htons(port);
      state.nsaddr_list[0].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      state.retrans = 2;
      state.retry = 2;
      unsigned char answer[4096];
      while (true) {
        const size_t i = next.fetch_add(1);
        if (i >= domains.size()) break;
        const int n =
            res_nquery(&state, domains[i].c_str(), ns_c_in, ns_t_mx, answer, sizeof(answer));
        if (n > 0) succeeded.fetch_add(1);
      }
      res_nclose(&state);
    });
  }
  for (std::thread& t : pool) t.join();
  *ok = succeeded.load();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void BM_ColdLookups(benchmark::State& state) {
  const size_t concurrency = static_cast<size_t>(state.range(0));
  const std::vector<std::string> domains = Domains();
  double reactor_seconds = 0, blocking_seconds = 0;
  size_t reactor_ok = 0, blocking_ok = 0;
  for (auto _ : state) {
    size_t ok = 0;
    const double r = ReactorLookups(domains, concurrency, &ok);
    if (r < 0) {
      state.SkipWithError("cannot create the resolver");
      return;
    }
    reactor_seconds += r;
    reactor_ok += ok;
    blocking_seconds += BlockingLookups(domains, concurrency, &ok);
    blocking_ok += ok;
  }
  const double lookups = static_cast<double>(state.iterations()) * kDomains;
  if (reactor_ok != lookups || blocking_ok != lookups) {
    state.SkipWithError("some lookups failed");
    return;
  }
  state.counters["reactor_per_s"] = lookups / reactor_seconds;
  state.counters["res_query_per_s"] = lookups / blocking_seconds;
  state.counters["reactor_vs_res_query"] = blocking_seconds / reactor_seconds;
}

BENCHMARK(BM_ColdLookups)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

// A resolver with `domains` cached; the reactor has stopped, which a cache
// hit does not need (it answers before the call returns).
struct Warm {
  std::unique_ptr<reactor::Reactor> reactor;
  std::unique_ptr<dns::Resolver> resolver;
};

Warm WarmResolver(int domains) {
  Warm w;
  w.reactor = MakeReactor();
  w.resolver = *dns::Resolver::Create(*w.reactor, Config(64));
  std::vector<std::string> names = Domains();
  names.resize(domains);
  w.reactor->Defer([&] {
    w.resolver->ResolveSites(
        names, 64, [](size_t, absl::StatusOr<dns::Site>) {},
        [&] { w.reactor->Defer([&] { w.reactor->RequestStop(); }); });
  });
  w.reactor->Run();
  return w;
}

void BM_CacheHitQuery(benchmark::State& state) {
  Warm w = WarmResolver(1000);
  const std::vector<std::string> names = Domains();
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    w.resolver->Query(names[i], dns::RecordType::kMx,
                      [&](const dns::Answer& a) { hits += a.status == dns::AnswerStatus::kOk; });
    if (++i == 1000) i = 0;
  }
  if (hits != static_cast<size_t>(state.iterations()))
    state.SkipWithError("not every lookup was a hit");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CacheHitQuery);

void BM_CacheHitResolveSite(benchmark::State& state) {
  Warm w = WarmResolver(1000);
  const std::vector<std::string> names = Domains();
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    w.resolver->ResolveSite(names[i], [&](absl::StatusOr<dns::Site> s) { hits += s.ok(); });
    if (++i == 1000) i = 0;
  }
  if (hits != static_cast<size_t>(state.iterations()))
    state.SkipWithError("not every lookup was a hit");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CacheHitResolveSite);

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  delete sluice::bench::server_instance;  // stops nsd
  return 0;
}
