#include "api/connection_limiter.h"

#include <netinet/in.h>

#include <cstring>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace sluice::api {

uint64_t HashClientAddress(const sockaddr* client) {
  if (client->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(client);
    return absl::HashOf(in->sin_addr.s_addr);
  }
  if (client->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(client);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      uint32_t v4;
      std::memcpy(&v4, in6->sin6_addr.s6_addr + 12, sizeof(v4));
      return absl::HashOf(v4);
    }
    return absl::HashOf(
        absl::string_view(reinterpret_cast<const char*>(in6->sin6_addr.s6_addr), 16));
  }
  return 0;
}

ConnectionLimiter::ConnectionLimiter(int max_total, int max_per_ip)
    : max_total_(max_total), max_per_ip_(max_per_ip), per_ip_(new std::atomic<int>[kSlots]) {
  for (size_t i = 0; i < kSlots; ++i) per_ip_[i].store(0, std::memory_order_relaxed);
}

std::atomic<int>& ConnectionLimiter::SlotOf(const sockaddr* client) {
  return per_ip_[HashClientAddress(client) & (kSlots - 1)];
}

ConnectionLimiter::Verdict ConnectionLimiter::TryAcquire(const sockaddr* client) {
  if (total_.fetch_add(1, std::memory_order_relaxed) >= max_total_) {
    total_.fetch_sub(1, std::memory_order_relaxed);
    return Verdict::kTooManyTotal;
  }
  std::atomic<int>& slot = SlotOf(client);
  if (slot.fetch_add(1, std::memory_order_relaxed) >= max_per_ip_) {
    slot.fetch_sub(1, std::memory_order_relaxed);
    total_.fetch_sub(1, std::memory_order_relaxed);
    return Verdict::kTooManyFromIp;
  }
  return Verdict::kAccepted;
}

void ConnectionLimiter::Release(const sockaddr* client) {
  SlotOf(client).fetch_sub(1, std::memory_order_relaxed);
  total_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace sluice::api
