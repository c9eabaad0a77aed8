// ConnectionLimiter: the connection limits of one listener, shared by all
// its shards without a lock.
//
// A total count and a per-client-IP count, both atomic counters. Client
// addresses are hashed into a fixed table of counters, so two addresses
// that share a slot share a budget: the limit is never exceeded, and with
// 64k slots a busy listener rarely sees two clients collide. Thread-safe.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace sluice::api {

class ConnectionLimiter {
 public:
  ConnectionLimiter(int max_total, int max_per_ip);

  enum class Verdict { kAccepted, kTooManyTotal, kTooManyFromIp };
  // On kAccepted the caller must Release() the same address later.
  Verdict TryAcquire(const sockaddr* client);
  void Release(const sockaddr* client);

  int total() const { return total_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int>& SlotOf(const sockaddr* client);

  static constexpr size_t kSlots = 1 << 16;
  const int max_total_;
  const int max_per_ip_;
  std::atomic<int> total_{0};
  std::unique_ptr<std::atomic<int>[]> per_ip_;
};

// Hashes the address part of `client` (not the port); IPv4-mapped IPv6
// addresses hash like their IPv4 form.
uint64_t HashClientAddress(const sockaddr* client);

}  // namespace sluice::api
