// DnsCache: answers by (name, type), kept as long as their TTL allows.
//
// Sans-IO: it reads time from a common::Clock and nothing else, so tests
// step a FakeClock through expiry. Positive answers live for their TTL
// clamped to [min_ttl, max_ttl]; NXDOMAIN and NODATA (RFC 2308) for the SOA
// TTL clamped to [min_ttl, negative_max_ttl], or negative_default_ttl when
// no SOA came; SERVFAIL, timeouts and other temporary failures for
// temporary_error_ttl only, so a sick server is not asked again by every
// message but is retried soon. At max_entries the least recently used
// entry goes. Owned by one shard's Resolver; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "dns/answer.h"

namespace sluice::dns {

struct CacheOptions {
  size_t max_entries = 100'000;
  absl::Duration min_ttl = absl::Seconds(30);
  absl::Duration max_ttl = absl::Hours(24);
  absl::Duration negative_default_ttl = absl::Minutes(5);
  absl::Duration negative_max_ttl = absl::Hours(1);
  // Zero: temporary failures are not cached at all.
  absl::Duration temporary_error_ttl = absl::Seconds(5);
};

struct CacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t expired = 0;
  uint64_t evictions = 0;
  uint64_t inserts = 0;
};

class DnsCache {
 public:
  DnsCache(const CacheOptions& options, const common::Clock& clock);
  DnsCache(const DnsCache&) = delete;
  DnsCache& operator=(const DnsCache&) = delete;

  // The live answer for (name, type), or null when absent or expired (an
  // expired entry is dropped). A hit becomes the most recently used entry.
  // `name` must be canonical (lower case, no trailing dot).
  std::shared_ptr<const Answer> Find(std::string_view name, RecordType type);

  // Stores `answer` for the clamped TTL (see TtlFor); a zero TTL stores
  // nothing. Returns the stored answer (or a fresh copy when not stored).
  std::shared_ptr<const Answer> Insert(std::string_view name, RecordType type, Answer answer);

  // How long the cache keeps `answer`.
  absl::Duration TtlFor(const Answer& answer) const;

  void Clear();
  size_t size() const { return index_.size(); }
  const CacheStats& stats() const { return stats_; }
  const CacheOptions& options() const { return options_; }

 private:
  struct Entry {
    std::string key;
    common::SteadyTime expires;
    std::shared_ptr<const Answer> answer;
  };
  using Lru = std::list<Entry>;

  static std::string Key(std::string_view name, RecordType type);

  const CacheOptions options_;
  const common::Clock& clock_;
  Lru lru_;  // front: most recently used
  absl::flat_hash_map<std::string, Lru::iterator> index_;
  CacheStats stats_;
};

}  // namespace sluice::dns
