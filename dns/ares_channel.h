// AresChannel: one c-ares channel driven by one shard's io_uring.
//
// c-ares owns the DNS sockets and the protocol (retries, server rotation,
// TCP after a truncated UDP answer); this class gives it readiness and time
// without a thread or a blocking call: c-ares reports which sockets it wants
// to read or write (ARES_OPT_SOCK_STATE_CB), each is watched by a one-shot
// IORING_OP_POLL_ADD on the reactor's ring, and a ready socket is handed to
// ares_process_fd(); ares_timeout() arms one reactor timer. Sockets are
// watched only while queries are on the wire, so an idle channel holds no
// request open and a stopping reactor drains. Queries beyond
// max_queries_in_flight wait in a FIFO queue.
//
// Use on the reactor's thread only. Callbacks run from the reactor loop (or,
// for immediate failures, from Send() itself) and may call Send() again. The
// channel must be destroyed on the loop's thread while the reactor is alive;
// pending and queued queries then complete with ARES_EDESTRUCTION.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/clock.h"
#include "dns/answer.h"
#include "dns/dns_config.h"
#include "reactor/reactor.h"

struct ares_channeldata;

namespace sluice::dns {

class AresChannel {
 public:
  // `status` is an ARES_* code; `packet` the raw response when it is
  // ARES_SUCCESS (whatever its RCODE), empty otherwise.
  using Callback = absl::AnyInvocable<void(int status, absl::Span<const uint8_t> packet)>;

  static absl::StatusOr<std::unique_ptr<AresChannel>> Create(reactor::Reactor& reactor,
                                                             const DnsConfig& config);
  ~AresChannel();
  AresChannel(const AresChannel&) = delete;
  AresChannel& operator=(const AresChannel&) = delete;

  // Asks for (`name`, `type`) in class IN with RD and AD set.
  void Send(std::string_view name, RecordType type, Callback done);

  size_t in_flight() const { return in_flight_; }
  size_t queued() const { return queue_.size(); }
  // Queries handed to c-ares so far.
  uint64_t sent() const { return sent_; }

 private:
  class Watch;
  struct Queued {
    std::string name;
    RecordType type;
    Callback done;
  };
  struct InFlight {
    AresChannel* channel;
    Callback done;
  };

  AresChannel(reactor::Reactor& reactor, size_t max_in_flight);

  static void SockStateThunk(void* data, int fd, int readable, int writable);
  static void AnswerThunk(void* arg, int status, int timeouts, unsigned char* abuf, int alen);

  void Start(std::string_view name, RecordType type, Callback done);
  void StartQueued();
  void OnSockState(int fd, bool readable, bool writable);
  void OnPoll(Watch* watch, int32_t res);
  void Arm(Watch* watch);
  void SyncWatches();
  void Retire(Watch* watch);
  void UpdateTimer();
  void OnTimer();

  reactor::Reactor& reactor_;
  const size_t max_in_flight_;
  ares_channeldata* channel_ = nullptr;
  absl::flat_hash_map<int, std::unique_ptr<Watch>> watches_;
  std::deque<Queued> queue_;
  size_t in_flight_ = 0;
  uint64_t sent_ = 0;
  bool starting_queued_ = false;
  bool destroying_ = false;
  reactor::TimerId timer_;
  common::SteadyTime timer_deadline_{};
};

}  // namespace sluice::dns
