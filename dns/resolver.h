// Resolver: a shard's DNS, on the shard's own io_uring loop.
//
// Lookups for MX (ordered, implicit MX, null MX), A/AAAA, TLSA and TXT;
// sites (MX rollup, static routes, smart host) and destinations (a site with
// the addresses of its hosts); a batch call that routes many domains with a
// bounded number in flight. Every question goes through the DnsCache and
// SingleFlight: a cached answer comes back at once, and a question already
// on the wire gets no second query. Names may be internationalised; they
// are converted to A-labels first.
//
// One Resolver per shard, used on the reactor's thread only. Callbacks run
// on that thread, either before the call returns (cache hits, bad names) or
// from the loop; they may start further lookups but must not destroy the
// Resolver. Destroy it on the loop's thread while the reactor is alive:
// lookups still pending then complete with a temporary error.
// Errors are absl::Status values described in dns_error.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "dns/answer.h"
#include "dns/ares_channel.h"
#include "dns/dns_cache.h"
#include "dns/dns_config.h"
#include "dns/single_flight.h"
#include "dns/site.h"
#include "dns/static_router.h"
#include "reactor/reactor.h"
#include "reactor/socket_address.h"

namespace sluice::dns {

struct MxResult {
  std::string domain;        // normalised
  std::vector<MxRecord> mx;  // by preference, shuffled among equals
  bool implicit = false;     // no MX: {0, domain} (the domain has addresses)
};

struct TlsaResult {
  std::vector<TlsaRecord> records;
  // The resolver validated the answer (AD bit); DANE must ignore it if not.
  bool authenticated = false;
};

struct ResolverStats {
  uint64_t queries_sent = 0;  // DNS queries handed to c-ares
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t coalesced = 0;        // lookups that joined a query in flight
  uint64_t cname_chases = 0;     // follow-up queries for unchased CNAMEs
  size_t queries_in_flight = 0;  // on the wire now
  size_t queries_queued = 0;     // waiting for max_queries_in_flight
};

// The resolver's series in a metrics registry (shared by every shard's
// resolver; each adds to its own shard's cell). Any pointer may be null.
struct ResolverMetrics {
  // Record types and results with their own series; index with
  // QueryTypeIndex() and AnswerStatus. The label values are kQueryTypeNames
  // and kQueryResultNames.
  static constexpr int kQueryTypes = 6;  // a, aaaa, mx, tlsa, txt, other
  static constexpr int kQueryResults = 7;
  static constexpr const char* kQueryTypeNames[kQueryTypes] = {"a",    "aaaa", "mx",
                                                               "tlsa", "txt",  "other"};
  // In the order of AnswerStatus.
  static constexpr const char* kQueryResultNames[kQueryResults] = {
      "ok", "nxdomain", "nodata", "servfail", "timeout", "error", "badname"};
  static int QueryTypeIndex(RecordType type);

  // Queries c-ares sent, counted when they complete (answer, failure,
  // timeout or shutdown), by record type and result.
  common::Counter* queries[kQueryTypes][kQueryResults] = {};
  // Questions answered from the cache, and those that were not (they
  // joined a query in flight or sent one).
  common::Counter* cache_hits = nullptr;
  common::Counter* cache_misses = nullptr;
};

// sluice_dns_queries_total{type,result} and
// sluice_dns_cache_lookups_total{result="hit|miss"} in `registry`.
absl::StatusOr<ResolverMetrics> RegisterResolverMetrics(common::MetricsRegistry& registry);

class Resolver {
 public:
  using AnswerCallback = absl::AnyInvocable<void(const Answer&)>;
  using MxCallback = absl::AnyInvocable<void(absl::StatusOr<MxResult>)>;
  using AddressesCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<reactor::SocketAddress>>)>;
  using TlsaCallback = absl::AnyInvocable<void(absl::StatusOr<TlsaResult>)>;
  using TxtCallback = absl::AnyInvocable<void(absl::StatusOr<std::vector<TxtRecord>>)>;
  using SiteCallback = absl::AnyInvocable<void(absl::StatusOr<Site>)>;
  using DestinationCallback = absl::AnyInvocable<void(absl::StatusOr<Destination>)>;
  using BatchItemCallback = absl::AnyInvocable<void(size_t index, absl::StatusOr<Site>)>;

  // `cache_clock` defaults to the reactor's clock; tests pass a FakeClock to
  // step through TTLs (c-ares keeps its own real-time query timeouts).
  // `metrics` (may be null) must outlive the resolver.
  static absl::StatusOr<std::unique_ptr<Resolver>> Create(
      reactor::Reactor& reactor, const DnsConfig& config,
      const common::Clock* cache_clock = nullptr, const ResolverMetrics* metrics = nullptr);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // One question, cached and coalesced. `done` gets the raw answer,
  // negative and failed ones included (see Answer::status).
  void Query(std::string_view name, RecordType type, AnswerCallback done);

  // The mail exchangers of `domain`. No MX: the implicit MX {0, domain} if
  // the domain has an address; null MX: DnsFailure::kNullMx.
  void LookupMx(std::string_view domain, MxCallback done);
  // The addresses of `host` (port 0) in the configured family order; a
  // numeric address comes back as itself.
  void LookupAddresses(std::string_view host, AddressesCallback done);
  // TLSA of _<port>._tcp.<host>. None: NotFound (kNoData or kNxDomain).
  void LookupTlsa(std::string_view host, uint16_t port, TlsaCallback done);
  void LookupTxt(std::string_view name, TxtCallback done);

  // The site of `domain`: its static route or the smart host if configured,
  // else its MX set.
  void ResolveSite(std::string_view domain, SiteCallback done);
  // The site plus the addresses of each of its hosts (with ports). Fails
  // only when no host has an address (the most temporary error wins).
  void ResolveDestination(std::string_view domain, DestinationCallback done);

  // Resolves the site of every domain, keeping at most `max_in_flight`
  // domains unresolved at once; `on_each(index, site)` as each completes,
  // then `on_done` once.
  void ResolveSites(std::vector<std::string> domains, size_t max_in_flight,
                    BatchItemCallback on_each, absl::AnyInvocable<void()> on_done);

  ResolverStats stats() const;
  DnsCache& cache() { return cache_; }
  const DnsConfig& config() const { return config_; }

 private:
  struct Batch;

  Resolver(reactor::Reactor& reactor, const DnsConfig& config, const common::Clock& clock,
           StaticRouter router, const ResolverMetrics* metrics);
  void CountQuery(RecordType type, AnswerStatus status);

  void QueryCanonical(const std::string& name, RecordType type, AnswerCallback done, int depth);
  void OnResponse(const std::string& name, RecordType type, int depth, int ares_status,
                  absl::Span<const uint8_t> packet);
  void Finish(const std::string& name, RecordType type, Answer answer);
  void Pump(const std::shared_ptr<Batch>& batch);

  reactor::Reactor& reactor_;
  const DnsConfig config_;
  const StaticRouter router_;
  DnsCache cache_;
  SingleFlight<Answer> flights_;
  absl::BitGen gen_;
  const ResolverMetrics* const metrics_;  // may be null
  uint64_t cname_chases_ = 0;
  bool shutting_down_ = false;
  // Last: destroyed first, while what its callbacks touch still exists.
  std::unique_ptr<AresChannel> channel_;
};

}  // namespace sluice::dns
