// UserAuthenticator: SMTP AUTH against the [[users]] of the configuration.
//
// Passwords are checked against their stored hashes (scrypt or PBKDF2) on a
// worker thread, because a good hash is slow on purpose and a shard must not
// wait for it; the answer is posted back to the shard that asked. An unknown
// user costs the same hash as a known one, so timing does not tell which
// names exist. Failed attempts are counted per client IP per minute; past
// the limit a client gets 454 4.7.0 without a check, which slows password
// guessing down. Verify() may be called from any shard.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "api/smtp_server.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/task_thread.h"

namespace sluice::api {

class UserAuthenticator final : public SmtpAuthenticator {
 public:
  struct Options {
    std::vector<common::UserConfig> users;
    int max_failures_per_minute = 10;
    const common::Clock* clock = common::Clock::Real();
    // Runs `task` on shard `shard` (how answers get back).
    absl::AnyInvocable<void(int shard, absl::AnyInvocable<void()> task)> post;
  };

  // Refuses a malformed hash or a duplicate user, naming it.
  static absl::StatusOr<std::unique_ptr<UserAuthenticator>> Create(Options options);

  void Verify(const smtp::AuthRequest& request, const sockaddr* client,
              absl::AnyInvocable<void(smtp::AuthResult)> done) override;

 private:
  explicit UserAuthenticator(Options options);
  std::atomic<uint64_t>& FailureSlot(const sockaddr* client);
  bool OverLimit(const sockaddr* client);
  void CountFailure(const sockaddr* client);
  uint64_t Minute() const;

  static constexpr size_t kSlots = 1 << 12;
  Options options_;
  // Read only after Create(), on the worker thread.
  absl::flat_hash_map<std::string, std::string> hashes_;
  std::string dummy_hash_;  // checked for unknown users
  // Per slot: (minute << 32) | failures in that minute.
  std::unique_ptr<std::atomic<uint64_t>[]> failures_;
  common::TaskThread worker_;
};

}  // namespace sluice::api
