#include "dns/dns_cache.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace sluice::dns {

DnsCache::DnsCache(const CacheOptions& options, const common::Clock& clock)
    : options_(options), clock_(clock) {}

std::string DnsCache::Key(std::string_view name, RecordType type) {
  return absl::StrCat(static_cast<uint16_t>(type), "/",
                      absl::string_view(name.data(), name.size()));
}

absl::Duration DnsCache::TtlFor(const Answer& answer) const {
  switch (answer.status) {
    case AnswerStatus::kOk:
      return std::clamp(answer.ttl, options_.min_ttl, options_.max_ttl);
    case AnswerStatus::kNxDomain:
    case AnswerStatus::kNoData: {
      const absl::Duration ttl =
          answer.ttl < absl::ZeroDuration() ? options_.negative_default_ttl : answer.ttl;
      return std::clamp(ttl, std::min(options_.min_ttl, options_.negative_max_ttl),
                        options_.negative_max_ttl);
    }
    case AnswerStatus::kServFail:
    case AnswerStatus::kTimeout:
    case AnswerStatus::kError:
      return options_.temporary_error_ttl;
    case AnswerStatus::kBadName:
      return absl::ZeroDuration();
  }
  return absl::ZeroDuration();
}

std::shared_ptr<const Answer> DnsCache::Find(std::string_view name, RecordType type) {
  const std::string key = Key(name, type);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  if (clock_.SteadyNow() >= it->second->expires) {
    ++stats_.expired;
    ++stats_.misses;
    lru_.erase(it->second);
    index_.erase(it);
    return nullptr;
  }
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->answer;
}

std::shared_ptr<const Answer> DnsCache::Insert(std::string_view name, RecordType type,
                                               Answer answer) {
  auto shared = std::make_shared<const Answer>(std::move(answer));
  const absl::Duration ttl = TtlFor(*shared);
  if (ttl <= absl::ZeroDuration() || options_.max_entries == 0) return shared;
  const common::SteadyTime expires = clock_.SteadyNow() + absl::ToChronoNanoseconds(ttl);
  std::string key = Key(name, type);
  ++stats_.inserts;
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->expires = expires;
    it->second->answer = shared;
    lru_.splice(lru_.begin(), lru_, it->second);
    return shared;
  }
  while (index_.size() >= options_.max_entries) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++stats_.evictions;
  }
  lru_.push_front(Entry{key, expires, shared});
  index_.emplace(std::move(key), lru_.begin());
  return shared;
}

void DnsCache::Clear() {
  index_.clear();
  lru_.clear();
}

}  // namespace sluice::dns
