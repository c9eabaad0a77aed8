// DkimSigningPool: DKIM signing off the shards. An RSA-2048 signature costs
// about a millisecond, so the listeners hand each message that needs one to
// these worker threads and get it back, signed, on their own shard.
//
// Submit() never blocks and takes no lock (common::TaskThread): it tries
// each worker's bounded queue once, round robin, and returns false when all
// are full. That is the backpressure: the listener keeps the message (its
// connection is not reading meanwhile) and tries again shortly, or answers
// a temporary error; nothing queues without bound. Thread-safe; destroy it
// after the servers that use it.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "common/bounded_labels.h"
#include "common/metrics.h"
#include "common/task_thread.h"
#include "mail/dkim_keyring.h"

namespace sluice::api {

// Any pointer may be null.
struct DkimMetrics {
  // Signatures by signing domain, one column per algorithm (rsa-sha256,
  // ed25519-sha256).
  common::BoundedLabels* signatures = nullptr;
  common::Counter* failures = nullptr;
  common::Histogram* sign_seconds = nullptr;  // per message, all its signatures
};

class DkimSigningPool {
 public:
  using Post = absl::AnyInvocable<void(int shard, absl::AnyInvocable<void()> task)>;
  // The message with its DKIM-Signature fields in front, or why it could
  // not be signed.
  using Done = absl::AnyInvocable<void(absl::StatusOr<std::string> message)>;

  DkimSigningPool(int threads, size_t capacity_per_thread, DkimMetrics metrics, Post post);
  ~DkimSigningPool();
  DkimSigningPool(const DkimSigningPool&) = delete;
  DkimSigningPool& operator=(const DkimSigningPool&) = delete;

  // Signs `message` of `tenant` with `keyring` on a worker and runs `done`
  // on `shard`; `message` and `done` are moved from. False when every
  // worker is full: then both are left as they were, for a later try.
  bool Submit(std::shared_ptr<const mail::DkimKeyring> keyring, std::string& message,
              const std::string& tenant, int shard, Done& done);

 private:
  struct Job;

  void Sign(const mail::DkimKeyring& keyring, std::string& message, const std::string& tenant,
            absl::StatusOr<std::string>* out);

  const DkimMetrics metrics_;
  Post post_;
  std::atomic<uint32_t> next_{0};
  std::vector<std::unique_ptr<common::TaskThread>> workers_;  // last: joined first
};

}  // namespace sluice::api
