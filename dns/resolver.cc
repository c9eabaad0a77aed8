#include "dns/resolver.h"

#include <ares.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "dns/dns_error.h"
#include "dns/dns_message.h"
#include "dns/domain_name.h"
#include "dns/mx_rollup.h"

namespace sluice::dns {
namespace {

// How many CNAMEs the resolver follows itself past what servers chased.
constexpr int kMaxChaseDepth = 8;

std::string FlightKey(std::string_view name, RecordType type) {
  return absl::StrCat(static_cast<uint16_t>(type), "/",
                      absl::string_view(name.data(), name.size()));
}

Answer FromAresStatus(int status) {
  Answer answer;
  switch (status) {
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ECONNREFUSED:
    case ARES_ENOTIMP:
      answer.status = AnswerStatus::kServFail;
      break;
    case ARES_ETIMEOUT:
      answer.status = AnswerStatus::kTimeout;
      break;
    case ARES_EBADNAME:
      answer.status = AnswerStatus::kBadName;
      break;
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
      answer.status = AnswerStatus::kError;
      answer.detail = "resolver shut down";
      return answer;
    default:
      answer.status = AnswerStatus::kError;
      break;
  }
  answer.detail = ares_strerror(status);
  return answer;
}

// The numeric address `host` spells, if it is one.
std::optional<reactor::SocketAddress> NumericAddress(const std::string& host) {
  absl::StatusOr<reactor::SocketAddress> address = reactor::SocketAddress::FromHostPort(host, 0);
  if (!address.ok()) return std::nullopt;
  return *address;
}

// Of several failures, the one to report: temporary beats permanent (a
// retry may yet succeed), NXDOMAIN beats NODATA.
int FailureRank(const absl::Status& status) {
  if (IsTemporaryDnsError(status)) return 3;
  switch (FailureOf(status)) {
    case DnsFailure::kNxDomain:
      return 2;
    case DnsFailure::kNoData:
      return 1;
    default:
      return 0;
  }
}

}  // namespace

struct Resolver::Batch {
  std::vector<std::string> domains;
  size_t max_in_flight = 1;
  size_t next = 0;
  size_t outstanding = 0;
  size_t completed = 0;
  bool pumping = false;
  BatchItemCallback on_each;
  absl::AnyInvocable<void()> on_done;
};

int ResolverMetrics::QueryTypeIndex(RecordType type) {
  switch (type) {
    case RecordType::kA:
      return 0;
    case RecordType::kAaaa:
      return 1;
    case RecordType::kMx:
      return 2;
    case RecordType::kTlsa:
      return 3;
    case RecordType::kTxt:
      return 4;
    default:
      return 5;
  }
}

absl::StatusOr<ResolverMetrics> RegisterResolverMetrics(common::MetricsRegistry& registry) {
  ResolverMetrics metrics;
  for (int t = 0; t < ResolverMetrics::kQueryTypes; ++t) {
    for (int r = 0; r < ResolverMetrics::kQueryResults; ++r) {
      SLUICE_ASSIGN_OR_RETURN(
          metrics.queries[t][r],
          registry.AddCounter("sluice_dns_queries_total",
                              "DNS queries sent, by record type and result (counted when done).",
                              {{"type", ResolverMetrics::kQueryTypeNames[t]},
                               {"result", ResolverMetrics::kQueryResultNames[r]}}));
    }
  }
  constexpr absl::string_view kCacheHelp = "DNS questions answered from the cache, or not.";
  SLUICE_ASSIGN_OR_RETURN(metrics.cache_hits, registry.AddCounter("sluice_dns_cache_lookups_total",
                                                                  kCacheHelp, {{"result", "hit"}}));
  SLUICE_ASSIGN_OR_RETURN(
      metrics.cache_misses,
      registry.AddCounter("sluice_dns_cache_lookups_total", kCacheHelp, {{"result", "miss"}}));
  return metrics;
}

absl::StatusOr<std::unique_ptr<Resolver>> Resolver::Create(reactor::Reactor& reactor,
                                                           const DnsConfig& config,
                                                           const common::Clock* cache_clock,
                                                           const ResolverMetrics* metrics) {
  SLUICE_RETURN_IF_ERROR(config.Validate());
  SLUICE_ASSIGN_OR_RETURN(StaticRouter router, StaticRouter::Create(config));
  const common::Clock& clock = cache_clock != nullptr ? *cache_clock : reactor.clock();
  std::unique_ptr<Resolver> resolver(
      new Resolver(reactor, config, clock, std::move(router), metrics));
  SLUICE_ASSIGN_OR_RETURN(resolver->channel_, AresChannel::Create(reactor, config));
  return resolver;
}

Resolver::Resolver(reactor::Reactor& reactor, const DnsConfig& config, const common::Clock& clock,
                   StaticRouter router, const ResolverMetrics* metrics)
    : reactor_(reactor),
      config_(config),
      router_(std::move(router)),
      cache_(config.cache, clock),
      metrics_(metrics) {}

void Resolver::CountQuery(RecordType type, AnswerStatus status) {
  if (metrics_ == nullptr) return;
  const int result = static_cast<int>(status);
  if (result < 0 || result >= ResolverMetrics::kQueryResults) return;
  common::Counter* counter = metrics_->queries[ResolverMetrics::QueryTypeIndex(type)][result];
  if (counter != nullptr) counter->Add();
}

Resolver::~Resolver() {
  shutting_down_ = true;
  channel_.reset();
}

ResolverStats Resolver::stats() const {
  ResolverStats stats;
  stats.queries_sent = channel_ != nullptr ? channel_->sent() : 0;
  stats.cache_hits = cache_.stats().hits;
  stats.cache_misses = cache_.stats().misses;
  stats.coalesced = flights_.coalesced();
  stats.cname_chases = cname_chases_;
  stats.queries_in_flight = channel_ != nullptr ? channel_->in_flight() : 0;
  stats.queries_queued = channel_ != nullptr ? channel_->queued() : 0;
  return stats;
}

void Resolver::Query(std::string_view name, RecordType type, AnswerCallback done) {
  absl::StatusOr<std::string> normalized = NormalizeDomain(name);
  if (!normalized.ok()) {
    Answer answer;
    answer.status = AnswerStatus::kBadName;
    answer.detail = std::string(normalized.status().message());
    done(answer);
    return;
  }
  QueryCanonical(*normalized, type, std::move(done), 0);
}

void Resolver::QueryCanonical(const std::string& name, RecordType type, AnswerCallback done,
                              int depth) {
  if (std::shared_ptr<const Answer> hit = cache_.Find(name, type)) {
    if (metrics_ != nullptr && metrics_->cache_hits != nullptr) metrics_->cache_hits->Add();
    done(*hit);
    return;
  }
  if (metrics_ != nullptr && metrics_->cache_misses != nullptr) metrics_->cache_misses->Add();
  if (shutting_down_) {
    Answer answer;
    answer.status = AnswerStatus::kError;
    answer.detail = "resolver shut down";
    done(answer);
    return;
  }
  if (!flights_.Join(FlightKey(name, type), std::move(done))) return;
  channel_->Send(name, type,
                 [this, name, type, depth](int status, absl::Span<const uint8_t> packet) {
                   OnResponse(name, type, depth, status, packet);
                 });
}

void Resolver::OnResponse(const std::string& name, RecordType type, int depth, int ares_status,
                          absl::Span<const uint8_t> packet) {
  if (ares_status != ARES_SUCCESS || packet.empty()) {
    Answer answer = FromAresStatus(ares_status == ARES_SUCCESS ? ARES_EBADRESP : ares_status);
    CountQuery(type, answer.status);
    Finish(name, type, std::move(answer));
    return;
  }
  absl::StatusOr<ParsedResponse> parsed = ParseResponse(packet, name, type);
  if (!parsed.ok()) {
    Answer answer;
    answer.status = AnswerStatus::kError;
    answer.detail = std::string(parsed.status().message());
    CountQuery(type, answer.status);
    Finish(name, type, std::move(answer));
    return;
  }
  // A CNAME to chase counts as answered: the chase is a query of its own.
  CountQuery(type, parsed->answer.status);
  if (!parsed->chase_cname) {
    Finish(name, type, std::move(parsed->answer));
    return;
  }
  // The server gave a CNAME but not what it points to: ask for the target.
  if (depth >= kMaxChaseDepth || shutting_down_) {
    Answer answer;
    answer.status = AnswerStatus::kError;
    answer.detail = "CNAME chain too long";
    Finish(name, type, std::move(answer));
    return;
  }
  ++cname_chases_;
  const absl::Duration chain_ttl = parsed->answer.ttl;
  const bool chain_authenticated = parsed->answer.authenticated;
  const std::string target = parsed->answer.canonical_name;
  QueryCanonical(
      target, type,
      [this, name, type, chain_ttl, chain_authenticated](const Answer& final) {
        Answer combined = final;
        if (combined.ttl >= absl::ZeroDuration()) combined.ttl = std::min(combined.ttl, chain_ttl);
        combined.authenticated = combined.authenticated && chain_authenticated;
        Finish(name, type, std::move(combined));
      },
      depth + 1);
}

void Resolver::Finish(const std::string& name, RecordType type, Answer answer) {
  std::shared_ptr<const Answer> stored = cache_.Insert(name, type, std::move(answer));
  flights_.Complete(FlightKey(name, type), *stored);
}

void Resolver::LookupMx(std::string_view domain, MxCallback done) {
  absl::StatusOr<std::string> normalized = NormalizeDomain(domain);
  if (!normalized.ok()) {
    done(normalized.status());
    return;
  }
  std::string name = *std::move(normalized);
  QueryCanonical(
      name, RecordType::kMx,
      [this, name, done = std::move(done)](const Answer& answer) mutable {
        if (answer.status == AnswerStatus::kOk) {
          if (IsNullMx(answer.mx)) {
            done(DnsError(DnsFailure::kNullMx, name));
            return;
          }
          MxResult result;
          result.domain = name;
          // A "." among real exchangers is a misconfiguration; skip it.
          for (const MxRecord& mx : answer.mx) {
            if (!mx.host.empty()) result.mx.push_back(mx);
          }
          OrderMxRecords(result.mx, gen_);
          done(std::move(result));
          return;
        }
        if (answer.status != AnswerStatus::kNoData) {
          done(AnswerError(answer, name));
          return;
        }
        // No MX: the domain itself, if it has an address (RFC 5321 5.1).
        LookupAddresses(name,
                        [name, done = std::move(done)](
                            absl::StatusOr<std::vector<reactor::SocketAddress>> addresses) mutable {
                          if (!addresses.ok()) {
                            done(addresses.status());
                            return;
                          }
                          MxResult result;
                          result.domain = name;
                          result.mx.push_back(MxRecord{0, name});
                          result.implicit = true;
                          done(std::move(result));
                        });
      },
      0);
}

void Resolver::LookupAddresses(std::string_view host, AddressesCallback done) {
  absl::StatusOr<std::string> normalized;
  const std::string text(host);
  if (std::optional<reactor::SocketAddress> numeric = NumericAddress(text)) {
    done(std::vector<reactor::SocketAddress>{*numeric});
    return;
  }
  normalized = NormalizeDomain(host);
  if (!normalized.ok()) {
    done(normalized.status());
    return;
  }
  std::vector<RecordType> types;
  switch (config_.address_order) {
    case AddressOrder::kIpv4Only:
      types = {RecordType::kA};
      break;
    case AddressOrder::kIpv6Only:
      types = {RecordType::kAaaa};
      break;
    case AddressOrder::kIpv4First:
      types = {RecordType::kA, RecordType::kAaaa};
      break;
    case AddressOrder::kIpv6First:
      types = {RecordType::kAaaa, RecordType::kA};
      break;
  }
  struct Gather {
    std::string name;
    std::vector<std::optional<Answer>> answers;
    size_t pending = 0;
    AddressesCallback done;
  };
  auto gather = std::make_shared<Gather>();
  gather->name = *std::move(normalized);
  gather->answers.resize(types.size());
  gather->pending = types.size();
  gather->done = std::move(done);
  for (size_t i = 0; i < types.size(); ++i) {
    QueryCanonical(
        gather->name, types[i],
        [gather, i](const Answer& answer) {
          gather->answers[i] = answer;
          if (--gather->pending != 0) return;
          std::vector<reactor::SocketAddress> addresses;
          absl::Status error;
          for (const std::optional<Answer>& a : gather->answers) {
            if (a->status == AnswerStatus::kOk) {
              addresses.insert(addresses.end(), a->addresses.begin(), a->addresses.end());
              continue;
            }
            absl::Status status = AnswerError(*a, gather->name);
            if (error.ok() || FailureRank(status) > FailureRank(error)) error = status;
          }
          if (!addresses.empty()) {
            gather->done(std::move(addresses));
          } else {
            gather->done(error);
          }
        },
        0);
  }
}

void Resolver::LookupTlsa(std::string_view host, uint16_t port, TlsaCallback done) {
  absl::StatusOr<std::string> normalized = NormalizeDomain(host);
  if (!normalized.ok()) {
    done(normalized.status());
    return;
  }
  const std::string name = absl::StrCat("_", port, "._tcp.", *normalized);
  QueryCanonical(
      name, RecordType::kTlsa,
      [name, done = std::move(done)](const Answer& answer) mutable {
        if (answer.status != AnswerStatus::kOk) {
          done(AnswerError(answer, name));
          return;
        }
        done(TlsaResult{answer.tlsa, answer.authenticated});
      },
      0);
}

void Resolver::LookupTxt(std::string_view name, TxtCallback done) {
  absl::StatusOr<std::string> normalized = NormalizeDomain(name);
  if (!normalized.ok()) {
    done(normalized.status());
    return;
  }
  std::string canonical = *std::move(normalized);
  QueryCanonical(
      canonical, RecordType::kTxt,
      [canonical, done = std::move(done)](const Answer& answer) mutable {
        if (answer.status != AnswerStatus::kOk) {
          done(AnswerError(answer, canonical));
          return;
        }
        done(answer.txt);
      },
      0);
}

void Resolver::ResolveSite(std::string_view domain, SiteCallback done) {
  absl::StatusOr<std::string> normalized = NormalizeDomain(domain);
  if (!normalized.ok()) {
    done(normalized.status());
    return;
  }
  if (const Site* route = router_.Match(*normalized)) {
    Site site = *route;
    site.domain = *std::move(normalized);
    done(std::move(site));
    return;
  }
  LookupMx(*normalized, [done = std::move(done)](absl::StatusOr<MxResult> mx) mutable {
    if (!mx.ok()) {
      done(mx.status());
      return;
    }
    Site site;
    site.domain = std::move(mx->domain);
    site.source = mx->implicit ? SiteSource::kImplicitMx : SiteSource::kMx;
    site.mx = std::move(mx->mx);
    site.key = SiteKeyForMx(site.mx);
    done(std::move(site));
  });
}

void Resolver::ResolveDestination(std::string_view domain, DestinationCallback done) {
  ResolveSite(domain, [this, done = std::move(done)](absl::StatusOr<Site> site) mutable {
    if (!site.ok()) {
      done(site.status());
      return;
    }
    struct Gather {
      Destination destination;
      size_t pending = 0;
      DestinationCallback done;
    };
    auto gather = std::make_shared<Gather>();
    gather->destination.site = *std::move(site);
    const Site& s = gather->destination.site;
    std::vector<uint16_t> ports;
    if (s.source == SiteSource::kMx || s.source == SiteSource::kImplicitMx) {
      for (const MxRecord& mx : s.mx) {
        gather->destination.hosts.push_back(DestinationHost{mx.host, mx.preference, {}, {}});
        ports.push_back(config_.mx_port);
      }
    } else {
      for (const HostPort& hp : s.static_hosts) {
        gather->destination.hosts.push_back(DestinationHost{hp.host, 0, {}, {}});
        ports.push_back(hp.port);
      }
    }
    gather->pending = gather->destination.hosts.size();
    gather->done = std::move(done);
    if (gather->pending == 0) {
      gather->done(DnsError(DnsFailure::kNoData, s.domain, "no hosts"));
      return;
    }
    const std::vector<std::string> hosts = [&] {
      std::vector<std::string> names;
      for (const DestinationHost& h : gather->destination.hosts) names.push_back(h.host);
      return names;
    }();
    for (size_t i = 0; i < hosts.size(); ++i) {
      LookupAddresses(hosts[i], [gather, i, port = ports[i]](
                                    absl::StatusOr<std::vector<reactor::SocketAddress>> addresses) {
        DestinationHost& host = gather->destination.hosts[i];
        if (addresses.ok()) {
          host.addresses = *std::move(addresses);
          for (reactor::SocketAddress& a : host.addresses) a.set_port(port);
        } else {
          host.status = addresses.status();
        }
        if (--gather->pending != 0) return;
        absl::Status error;
        for (const DestinationHost& h : gather->destination.hosts) {
          if (h.status.ok()) {
            gather->done(std::move(gather->destination));
            return;
          }
          if (error.ok() || FailureRank(h.status) > FailureRank(error)) error = h.status;
        }
        gather->done(error);
      });
    }
  });
}

void Resolver::ResolveSites(std::vector<std::string> domains, size_t max_in_flight,
                            BatchItemCallback on_each, absl::AnyInvocable<void()> on_done) {
  auto batch = std::make_shared<Batch>();
  batch->domains = std::move(domains);
  batch->max_in_flight = std::max<size_t>(max_in_flight, 1);
  batch->on_each = std::move(on_each);
  batch->on_done = std::move(on_done);
  if (batch->domains.empty()) {
    batch->on_done();
    return;
  }
  Pump(batch);
}

void Resolver::Pump(const std::shared_ptr<Batch>& batch) {
  // Lookups answered from the cache complete inside ResolveSite and call
  // back here; the outer loop then carries on instead of recursing.
  if (batch->pumping) return;
  batch->pumping = true;
  while (batch->outstanding < batch->max_in_flight && batch->next < batch->domains.size()) {
    const size_t index = batch->next++;
    ++batch->outstanding;
    ResolveSite(batch->domains[index], [this, batch, index](absl::StatusOr<Site> site) {
      --batch->outstanding;
      ++batch->completed;
      batch->on_each(index, std::move(site));
      if (batch->completed == batch->domains.size()) {
        batch->on_done();
        return;
      }
      Pump(batch);
    });
  }
  batch->pumping = false;
}

}  // namespace sluice::dns
