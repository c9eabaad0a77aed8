// ScheduleWindow: the envelopes one shard holds in memory because they come
// due soon (within the spool's scheduling window), in due-time order.
//
// Everything due later stays in the spool's on-disk schedule index, so this
// is the only per-message memory of the deferred queue. An entry costs about
// 103 bytes at a million entries (measured by bench/scheduler_bench): a
// 32-byte heap slot and a hash-map slot keyed by id, with the containers'
// spare capacity; the domain, queue, pool, tenant and campaign names are interned and
// shared by every entry that uses them.
//
// Adding an id that is already held moves it (the newer due time wins), so
// a message handed out twice (reloaded after an operator rescheduled it)
// is delivered once. Single-threaded and clock-free: the caller passes the
// time, which keeps it testable without a reactor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/message_id.h"
#include "queue/spool.h"

namespace sluice::queue {

class ScheduleWindow {
 public:
  // Adds `message`, or moves it if its id is already held.
  void Add(const ScheduledMessage& message);
  // Forgets an id (delivered or purged meanwhile). False if not held.
  bool Remove(const common::MessageId& id);
  // Forgets an id and returns its entry, if held.
  std::optional<ScheduledMessage> Take(const common::MessageId& id);
  // Moves up to `max` entries due at or before `now_unix_ms` into `out`, in
  // (due time, id) order, and forgets them. Returns how many.
  size_t PopDue(int64_t now_unix_ms, size_t max, std::vector<ScheduledMessage>* out);
  // When the earliest entry is due, if any.
  std::optional<int64_t> NextDue();

  size_t size() const { return due_by_id_.size(); }
  // Bytes held for entries, routes and their indexes (container capacity
  // included), for the bytes-per-message measurement and metrics.
  size_t MemoryBytes() const;

 private:
  struct Slot {
    int64_t due_unix_ms;
    common::MessageId id;
    uint32_t route;
  };
  // What routes an entry: its domain, queue, egress pool, tenant and
  // campaign (the last two for suspension).
  using RouteKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;
  struct Route {
    RouteKey key;
    uint32_t users = 0;
  };
  static bool Later(const Slot& a, const Slot& b);

  uint32_t InternRoute(const ScheduledMessage& message);
  void ReleaseRoute(uint32_t route);
  // Drops heap tops that were moved or removed.
  void SkipStale();

  // A min-heap by (due, id); a slot is live only if due_by_id_ holds its id
  // with the same due time and route.
  std::vector<Slot> heap_;
  absl::flat_hash_map<common::MessageId, std::pair<int64_t, uint32_t>> due_by_id_;
  std::vector<Route> routes_;
  std::vector<uint32_t> free_routes_;
  absl::flat_hash_map<RouteKey, uint32_t> route_index_;
};

}  // namespace sluice::queue
