// Helpers for spool tests: building messages and waiting for answers that
// the spool delivers on its own threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/message_id.h"
#include "queue/rocksdb_spool.h"
#include "queue/spool.h"
#include "queue/spool_keys.h"

namespace sluice::queue::testing {

// A message with one envelope (and one recipient) per domain.
inline NewMessage MakeMessage(common::MessageIdGenerator& ids,
                              const std::vector<std::string>& domains, std::string body,
                              int64_t due_unix_ms) {
  NewMessage message;
  message.body_id = ids.Next();
  message.body = std::move(body);
  for (const std::string& domain : domains) {
    Envelope envelope;
    envelope.set_id(IdKey(ids.Next()));
    envelope.set_body_id(IdKey(message.body_id));
    envelope.set_sender("sender@example.org");
    proto::Recipient* recipient = envelope.add_recipients();
    recipient->set_address("user@" + domain);
    recipient->set_state(proto::PENDING);
    envelope.set_domain(domain);
    envelope.set_size(message.body.size());
    envelope.set_next_due_unix_ms(due_unix_ms);
    message.envelopes.push_back(std::move(envelope));
  }
  return message;
}

inline common::MessageId IdOf(const Envelope& envelope) { return *ParseIdKey(envelope.id()); }

// Collects one answer of type T, given on any thread.
template <typename T>
class Answer {
 public:
  auto Callback() {
    return [this](T value) {
      std::lock_guard<std::mutex> lock(mu_);
      value_.emplace(std::move(value));
      cv_.notify_all();
    };
  }
  // The answer, once it arrives (a test that never gets one fails by its
  // own timeout rather than by a guess here).
  T Get() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return value_.has_value(); });
    return std::move(*value_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

// Enqueues and waits for the spool's answer.
inline absl::Status EnqueueAndWait(Spool& spool, NewMessage& message) {
  Answer<absl::Status> answer;
  spool.Enqueue(std::move(message), answer.Callback());
  return answer.Get();
}

inline absl::StatusOr<StoredMessage> ReadAndWait(Spool& spool, common::MessageId id) {
  Answer<absl::StatusOr<StoredMessage>> answer;
  spool.Read(id, answer.Callback());
  return answer.Get();
}

// Counts Done answers from many submissions and waits for all of them.
class Countdown {
 public:
  explicit Countdown(size_t expected) : remaining_(expected) {}
  Spool::Done Callback() {
    return [this](absl::Status status) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!status.ok()) failures_.push_back(std::move(status));
      if (--remaining_ == 0) cv_.notify_all();
    };
  }
  std::vector<absl::Status> Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return remaining_ == 0; });
    return failures_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t remaining_;
  std::vector<absl::Status> failures_;
};

// Receives due_sink deliveries.
class DueCollector {
 public:
  auto Sink() {
    return [this](std::vector<ScheduledMessage> batch) {
      std::lock_guard<std::mutex> lock(mu_);
      for (ScheduledMessage& message : batch) messages_.push_back(std::move(message));
      cv_.notify_all();
    };
  }
  // Waits until at least `n` messages have arrived, at most `timeout`.
  bool WaitFor(size_t n, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                        [&] { return messages_.size() >= n; });
  }
  std::vector<ScheduledMessage> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(messages_, {});
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ScheduledMessage> messages_;
};

// A RocksDB spool in a fresh folder `path` (removed first, so a rerun starts
// empty), its callbacks run through `post`, due messages handed to `due`,
// the loader never pausing between passes.
inline absl::StatusOr<std::unique_ptr<RocksDbSpool>> OpenFreshSpool(
    const std::string& path, std::function<void(int, absl::AnyInvocable<void()>)> post,
    DueCollector& due, rocksdb::Env* env = nullptr) {
  std::filesystem::remove_all(path);
  RocksDbSpoolOptions options;
  options.path = path;
  options.env = env;
  options.resume_interval = absl::ZeroDuration();
  options.post = std::move(post);
  options.due_sink = due.Sink();
  return RocksDbSpool::Open(std::move(options));
}

}  // namespace sluice::queue::testing
