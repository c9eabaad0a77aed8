#include "queue/schedule_window.h"

#include <algorithm>

namespace sluice::queue {

bool ScheduleWindow::Later(const Slot& a, const Slot& b) {
  if (a.due_unix_ms != b.due_unix_ms) return a.due_unix_ms > b.due_unix_ms;
  return a.id > b.id;
}

void ScheduleWindow::Add(const ScheduledMessage& message) {
  const uint32_t route = InternRoute(message);
  auto [it, inserted] = due_by_id_.try_emplace(message.id, message.due_unix_ms, route);
  if (!inserted) {
    ReleaseRoute(it->second.second);
    it->second = {message.due_unix_ms, route};
  }
  heap_.push_back({message.due_unix_ms, message.id, route});
  std::push_heap(heap_.begin(), heap_.end(), Later);
  // Moves leave stale slots behind; rebuild once they outnumber live ones.
  if (heap_.size() > 2 * due_by_id_.size() + 1024) {
    std::erase_if(heap_, [this](const Slot& slot) {
      auto live = due_by_id_.find(slot.id);
      return live == due_by_id_.end() ||
             live->second != std::make_pair(slot.due_unix_ms, slot.route);
    });
    std::make_heap(heap_.begin(), heap_.end(), Later);
  }
}

bool ScheduleWindow::Remove(const common::MessageId& id) {
  auto it = due_by_id_.find(id);
  if (it == due_by_id_.end()) return false;
  ReleaseRoute(it->second.second);
  due_by_id_.erase(it);
  return true;
}

std::optional<ScheduledMessage> ScheduleWindow::Take(const common::MessageId& id) {
  auto it = due_by_id_.find(id);
  if (it == due_by_id_.end()) return std::nullopt;
  const auto& [domain, queue, pool, tenant, campaign] = routes_[it->second.second].key;
  ScheduledMessage message{id, it->second.first, domain, queue, pool, tenant, campaign};
  ReleaseRoute(it->second.second);
  due_by_id_.erase(it);
  return message;
}

void ScheduleWindow::SkipStale() {
  while (!heap_.empty()) {
    const Slot& top = heap_.front();
    auto live = due_by_id_.find(top.id);
    if (live != due_by_id_.end() && live->second == std::make_pair(top.due_unix_ms, top.route)) {
      return;
    }
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    heap_.pop_back();
  }
}

size_t ScheduleWindow::PopDue(int64_t now_unix_ms, size_t max, std::vector<ScheduledMessage>* out) {
  size_t popped = 0;
  while (popped < max) {
    SkipStale();
    if (heap_.empty() || heap_.front().due_unix_ms > now_unix_ms) break;
    const Slot slot = heap_.front();
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    heap_.pop_back();
    const Route& route = routes_[slot.route];
    const auto& [domain, queue, pool, tenant, campaign] = route.key;
    out->push_back({slot.id, slot.due_unix_ms, domain, queue, pool, tenant, campaign});
    Remove(slot.id);
    ++popped;
  }
  if (heap_.empty()) heap_.shrink_to_fit();
  return popped;
}

std::optional<int64_t> ScheduleWindow::NextDue() {
  SkipStale();
  if (heap_.empty()) return std::nullopt;
  return heap_.front().due_unix_ms;
}

uint32_t ScheduleWindow::InternRoute(const ScheduledMessage& message) {
  RouteKey key(message.domain, message.queue, message.pool, message.tenant, message.campaign);
  auto [it, inserted] = route_index_.try_emplace(key, 0);
  if (inserted) {
    uint32_t index;
    if (!free_routes_.empty()) {
      index = free_routes_.back();
      free_routes_.pop_back();
      routes_[index] = Route{std::move(key), 0};
    } else {
      index = static_cast<uint32_t>(routes_.size());
      routes_.push_back(Route{std::move(key), 0});
    }
    it->second = index;
  }
  ++routes_[it->second].users;
  return it->second;
}

void ScheduleWindow::ReleaseRoute(uint32_t index) {
  Route& route = routes_[index];
  if (--route.users > 0) return;
  route_index_.erase(route.key);
  route.key = RouteKey();
  free_routes_.push_back(index);
}

size_t ScheduleWindow::MemoryBytes() const {
  using IdEntry = std::pair<const common::MessageId, std::pair<int64_t, uint32_t>>;
  using RouteEntry = std::pair<const RouteKey, uint32_t>;
  // A swiss table holds one control byte and one slot per bucket.
  size_t bytes = heap_.capacity() * sizeof(Slot) + due_by_id_.capacity() * (sizeof(IdEntry) + 1) +
                 routes_.capacity() * sizeof(Route) + free_routes_.capacity() * sizeof(uint32_t) +
                 route_index_.capacity() * (sizeof(RouteEntry) + 1);
  for (const Route& route : routes_) {
    // Strings longer than the small-string buffer live on the heap, twice
    // (the route and its index key).
    const auto& [domain, queue, pool, tenant, campaign] = route.key;
    for (const std::string* name : {&domain, &queue, &pool, &tenant, &campaign}) {
      if (name->capacity() > 15) bytes += 2 * (name->capacity() + 1);
    }
  }
  return bytes;
}

}  // namespace sluice::queue
