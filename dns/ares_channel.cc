#include "dns/ares_channel.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <poll.h>

#include <cerrno>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "dns/host_port.h"

namespace sluice::dns {

// Watches one c-ares socket through a one-shot poll request. A watch whose
// socket c-ares closes while a poll is armed is orphaned: the request is
// cancelled and the watch frees itself on its final completion.
class AresChannel::Watch final : public reactor::Completion {
 public:
  Watch(AresChannel* owner, int fd) : owner_(owner), fd_(fd) {}

  void OnComplete(int32_t res, uint32_t /*flags*/) override {
    armed_ = false;
    if (owner_ == nullptr) {
      delete this;
      return;
    }
    owner_->OnPoll(this, res);
  }

  AresChannel* owner_;
  const int fd_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool armed_ = false;
  bool cancel_sent_ = false;
  unsigned armed_mask_ = 0;
};

absl::StatusOr<std::unique_ptr<AresChannel>> AresChannel::Create(reactor::Reactor& reactor,
                                                                 const DnsConfig& config) {
  static std::once_flag library_once;
  static int library_status = ARES_SUCCESS;
  std::call_once(library_once, [] { library_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (library_status != ARES_SUCCESS) {
    return absl::InternalError(absl::StrCat("ares_library_init: ", ares_strerror(library_status)));
  }

  std::unique_ptr<AresChannel> channel(new AresChannel(reactor, config.max_queries_in_flight));
  ares_options options{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  options.sock_state_cb = &AresChannel::SockStateThunk;
  options.sock_state_cb_data = channel.get();
  options.timeout = static_cast<int>(absl::ToInt64Milliseconds(config.query_timeout));
  options.tries = config.tries;
  // STAYOPEN: keep the sockets across idle moments instead of a socket()
  // and connect() for every burst; idle sockets are simply not watched.
  options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_STAYOPEN;
  if (config.udp_receive_buffer > 0) {
    mask |= ARES_OPT_SOCK_RCVBUF;
    options.socket_receive_buffer_size = config.udp_receive_buffer;
  }
  int rc = ares_init_options(&channel->channel_, &options, mask);
  if (rc != ARES_SUCCESS) {
    channel->channel_ = nullptr;
    return absl::UnavailableError(absl::StrCat("ares_init_options: ", ares_strerror(rc)));
  }
  if (!config.servers.empty()) {
    std::vector<std::string> servers;
    for (const std::string& server : config.servers) {
      SLUICE_ASSIGN_OR_RETURN(HostPort hp, HostPort::Parse(server, 53));
      servers.push_back(hp.ToString());
    }
    const std::string csv = absl::StrJoin(servers, ",");
    rc = ares_set_servers_ports_csv(channel->channel_, csv.c_str());
    if (rc != ARES_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("dns servers '", csv, "': ", ares_strerror(rc)));
    }
  }
  return channel;
}

AresChannel::AresChannel(reactor::Reactor& reactor, size_t max_in_flight)
    : reactor_(reactor), max_in_flight_(max_in_flight == 0 ? 1 : max_in_flight) {}

AresChannel::~AresChannel() {
  destroying_ = true;
  std::deque<Queued> queued = std::move(queue_);
  queue_.clear();
  for (Queued& q : queued) q.done(ARES_EDESTRUCTION, {});
  if (timer_.valid()) reactor_.CancelTimer(timer_);
  // Completes every query with ARES_EDESTRUCTION and reports every socket
  // closed (which retires its watch).
  if (channel_ != nullptr) ares_destroy(channel_);
  while (!watches_.empty()) Retire(watches_.begin()->second.get());
}

void AresChannel::Send(std::string_view name, RecordType type, Callback done) {
  if (destroying_) {
    done(ARES_EDESTRUCTION, {});
    return;
  }
  if (in_flight_ >= max_in_flight_ || !queue_.empty()) {
    queue_.push_back(Queued{std::string(name), type, std::move(done)});
    StartQueued();
    return;
  }
  Start(name, type, std::move(done));
}

void AresChannel::Start(std::string_view name, RecordType type, Callback done) {
  unsigned char* query = nullptr;
  int length = 0;
  const std::string owned(name);
  const int rc =
      ares_create_query(owned.c_str(), ns_c_in, static_cast<int>(type), 0, 1, &query, &length, 0);
  if (rc != ARES_SUCCESS) {
    done(rc, {});
    return;
  }
  // AD: ask a validating resolver to say whether the answer is authentic
  // (RFC 6840 5.7); DANE needs that bit for TLSA records.
  query[3] |= 0x20;
  ++in_flight_;
  ++sent_;
  auto* pending = new InFlight{this, std::move(done)};
  ares_send(channel_, query, length, &AresChannel::AnswerThunk, pending);
  ares_free_string(query);
  SyncWatches();
  // Every query has the same timeout, so an armed timer is never later than
  // the new query's deadline; only arm one when none is.
  if (!timer_.valid()) UpdateTimer();
}

void AresChannel::StartQueued() {
  // A query that fails at once completes inside Start() and may land here
  // again: the outer loop carries on instead.
  if (starting_queued_) return;
  starting_queued_ = true;
  while (!destroying_ && in_flight_ < max_in_flight_ && !queue_.empty()) {
    Queued next = std::move(queue_.front());
    queue_.pop_front();
    Start(next.name, next.type, std::move(next.done));
  }
  starting_queued_ = false;
}

void AresChannel::AnswerThunk(void* arg, int status, int /*timeouts*/, unsigned char* abuf,
                              int alen) {
  std::unique_ptr<InFlight> pending(static_cast<InFlight*>(arg));
  AresChannel* self = pending->channel;
  --self->in_flight_;
  absl::Span<const uint8_t> packet;
  if (status == ARES_SUCCESS && abuf != nullptr && alen > 0) {
    packet = absl::Span<const uint8_t>(abuf, static_cast<size_t>(alen));
  }
  Callback done = std::move(pending->done);
  pending.reset();
  done(status, packet);
  if (!self->destroying_) self->StartQueued();
}

void AresChannel::SockStateThunk(void* data, int fd, int readable, int writable) {
  static_cast<AresChannel*>(data)->OnSockState(fd, readable != 0, writable != 0);
}

void AresChannel::OnSockState(int fd, bool readable, bool writable) {
  auto it = watches_.find(fd);
  if (!readable && !writable) {
    // c-ares is about to close the socket.
    if (it != watches_.end()) Retire(it->second.get());
    return;
  }
  if (it == watches_.end()) {
    it = watches_.emplace(fd, std::make_unique<Watch>(this, fd)).first;
  }
  Watch* watch = it->second.get();
  watch->want_read_ = readable;
  watch->want_write_ = writable;
  Arm(watch);
}

void AresChannel::Retire(Watch* watch) {
  auto it = watches_.find(watch->fd_);
  if (it == watches_.end() || it->second.get() != watch) return;
  std::unique_ptr<Watch> owned = std::move(it->second);
  watches_.erase(it);
  if (owned->armed_) {
    // The poll holds its own reference to the file, so cancel it; the
    // orphaned watch frees itself on the final completion.
    owned->owner_ = nullptr;
    if (!owned->cancel_sent_) reactor_.Cancel(owned.get());
    owned.release();
    return;
  }
  // Possibly inside this watch's own completion: free it from the loop.
  reactor_.Defer([dead = std::move(owned)] {});
}

void AresChannel::Arm(Watch* watch) {
  // Sockets are watched only while queries are on the wire: c-ares keeps an
  // idle UDP socket open and "readable-wanted", but a poll on it would be a
  // request in flight forever and keep a stopping reactor from draining.
  const unsigned mask =
      in_flight_ == 0 ? 0u
                      : (watch->want_read_ ? POLLIN : 0u) | (watch->want_write_ ? POLLOUT : 0u);
  if (mask == 0) {
    if (watch->armed_ && !watch->cancel_sent_) {
      reactor_.Cancel(watch);
      watch->cancel_sent_ = true;
    }
    return;
  }
  if (watch->armed_) {
    // A one-shot poll cannot change its mask; cancel it and re-arm on its
    // completion.
    if (watch->armed_mask_ != mask && !watch->cancel_sent_) {
      reactor_.Cancel(watch);
      watch->cancel_sent_ = true;
    }
    return;
  }
  io_uring_prep_poll_add(reactor_.PrepareSqe(watch), watch->fd_, mask);
  watch->armed_ = true;
  watch->cancel_sent_ = false;
  watch->armed_mask_ = mask;
}

void AresChannel::OnPoll(Watch* watch, int32_t res) {
  const int fd = watch->fd_;
  watch->cancel_sent_ = false;
  if (res == -ECANCELED) {
    Arm(watch);  // a mask change
    return;
  }
  ares_socket_t read_fd = ARES_SOCKET_BAD;
  ares_socket_t write_fd = ARES_SOCKET_BAD;
  if (res < 0) {
    // The poll itself failed: let c-ares find the socket's error.
    read_fd = watch->want_read_ ? fd : ARES_SOCKET_BAD;
    write_fd = watch->want_write_ ? fd : ARES_SOCKET_BAD;
  } else {
    const unsigned events = static_cast<unsigned>(res);
    if (events & (POLLIN | POLLERR | POLLHUP)) read_fd = fd;
    if (events & (POLLOUT | POLLERR | POLLHUP)) write_fd = fd;
  }
  // `watch` may be retired (and freed later) inside ares_process_fd: from
  // here on only the fd is used.
  ares_process_fd(channel_, read_fd, write_fd);
  SyncWatches();
  UpdateTimer();
}

void AresChannel::UpdateTimer() {
  if (destroying_) return;
  timeval tv{};
  timeval* next = ares_timeout(channel_, nullptr, &tv);
  if (next == nullptr) {
    if (timer_.valid()) reactor_.CancelTimer(timer_);
    timer_ = {};
    return;
  }
  // ares_timeout rounds down; a timer that fires a hair early would find
  // nothing due and spin, so add a millisecond.
  const common::SteadyTime deadline = reactor_.clock().SteadyNow() +
                                      std::chrono::seconds(next->tv_sec) +
                                      std::chrono::microseconds(next->tv_usec + 1000);
  if (timer_.valid()) {
    if (timer_deadline_ <= deadline) return;
    reactor_.CancelTimer(timer_);
  }
  timer_deadline_ = deadline;
  timer_ = reactor_.RunAt(deadline, [this] { OnTimer(); });
}

void AresChannel::OnTimer() {
  timer_ = {};
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  SyncWatches();
  UpdateTimer();
}

void AresChannel::SyncWatches() {
  if (destroying_) return;
  for (auto& [fd, watch] : watches_) Arm(watch.get());
}

}  // namespace sluice::dns
