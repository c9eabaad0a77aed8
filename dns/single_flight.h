// SingleFlight: one piece of work per key at a time, every waiter answered.
//
// The first Join() for a key returns true: that caller starts the work (a
// DNS query) and later calls Complete(). Joins before then only queue their
// waiter. Complete() ends the flight before it calls the waiters, in join
// order, so a waiter that joins the same key again starts a new flight.
// Sans-IO; owned by one shard; not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"

namespace sluice::dns {

template <typename Value>
class SingleFlight {
 public:
  using Waiter = absl::AnyInvocable<void(const Value&)>;

  // True when `key` had no flight: the caller must do the work and call
  // Complete(key, ...).
  bool Join(std::string_view key, Waiter waiter) {
    auto [it, inserted] = flights_.try_emplace(ToAbsl(key));
    it->second.push_back(std::move(waiter));
    if (!inserted) ++coalesced_;
    return inserted;
  }

  // Answers every waiter of `key` with `value`; returns how many there were.
  size_t Complete(std::string_view key, const Value& value) {
    auto it = flights_.find(ToAbsl(key));
    if (it == flights_.end()) return 0;
    std::vector<Waiter> waiters = std::move(it->second);
    flights_.erase(it);
    for (Waiter& waiter : waiters) waiter(value);
    return waiters.size();
  }

  bool InFlight(std::string_view key) const { return flights_.contains(ToAbsl(key)); }
  size_t flights() const { return flights_.size(); }
  // Joins that found a flight already under way.
  uint64_t coalesced() const { return coalesced_; }

 private:
  static absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

  absl::flat_hash_map<std::string, std::vector<Waiter>> flights_;
  uint64_t coalesced_ = 0;
};

}  // namespace sluice::dns
