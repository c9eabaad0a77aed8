#include "api/user_authenticator.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/connection_limiter.h"
#include "common/thread_shard.h"
#include "tls/password_hash.h"

namespace sluice::api {

absl::StatusOr<std::unique_ptr<UserAuthenticator>> UserAuthenticator::Create(Options options) {
  std::unique_ptr<UserAuthenticator> authenticator(new UserAuthenticator(std::move(options)));
  for (const common::UserConfig& user : authenticator->options_.users) {
    if (user.name.empty()) return absl::InvalidArgumentError("a [[users]] entry has no name");
    if (absl::Status status = tls::CheckPasswordHash(user.password_hash); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("user '", user.name, "': bad password_hash: ", status.message()));
    }
    if (!authenticator->hashes_.emplace(user.name, user.password_hash).second) {
      return absl::InvalidArgumentError(absl::StrCat("user '", user.name, "' is listed twice"));
    }
  }
  // The hash an unknown user is checked against: as costly as a real one.
  absl::StatusOr<std::string> dummy = tls::HashPassword("sluice-no-such-user");
  if (!dummy.ok()) return dummy.status();
  authenticator->dummy_hash_ = *std::move(dummy);
  return authenticator;
}

UserAuthenticator::UserAuthenticator(Options options)
    : options_(std::move(options)),
      failures_(new std::atomic<uint64_t>[kSlots]),
      worker_("smtp-auth", 1024) {
  for (size_t i = 0; i < kSlots; ++i) failures_[i].store(0, std::memory_order_relaxed);
}

uint64_t UserAuthenticator::Minute() const {
  return static_cast<uint64_t>(absl::ToUnixSeconds(options_.clock->Now()) / 60);
}

std::atomic<uint64_t>& UserAuthenticator::FailureSlot(const sockaddr* client) {
  return failures_[HashClientAddress(client) & (kSlots - 1)];
}

bool UserAuthenticator::OverLimit(const sockaddr* client) {
  const uint64_t value = FailureSlot(client).load(std::memory_order_relaxed);
  return (value >> 32) == Minute() &&
         static_cast<int64_t>(value & 0xffffffff) >= options_.max_failures_per_minute;
}

void UserAuthenticator::CountFailure(const sockaddr* client) {
  std::atomic<uint64_t>& slot = FailureSlot(client);
  const uint64_t minute = Minute();
  uint64_t value = slot.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = (value >> 32) == minute ? value + 1 : (minute << 32) | 1;
  } while (!slot.compare_exchange_weak(value, next, std::memory_order_relaxed));
}

void UserAuthenticator::Verify(const smtp::AuthRequest& request, const sockaddr* client,
                               absl::AnyInvocable<void(smtp::AuthResult)> done) {
  if (OverLimit(client)) {
    done(smtp::AuthResult::kTemporaryFailure);
    return;
  }
  sockaddr_storage address{};
  std::memcpy(&address, client,
              client->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  const int origin = common::CurrentShard();
  // The task owns `done` until it runs; a refused task is handed back.
  struct Job {
    UserAuthenticator* self;
    std::string user;
    std::string password;
    sockaddr_storage client;
    int origin;
    absl::AnyInvocable<void(smtp::AuthResult)> done;
  };
  auto job = std::make_unique<Job>(
      Job{this, request.user, request.password, address, origin, std::move(done)});
  Job* raw = job.get();
  common::TaskThread::Task task = [job = std::move(job)]() mutable {
    UserAuthenticator& self = *job->self;
    auto it = self.hashes_.find(job->user);
    const std::string& hash = it != self.hashes_.end() ? it->second : self.dummy_hash_;
    absl::StatusOr<bool> match = tls::VerifyPassword(job->password, hash);
    const bool accepted = it != self.hashes_.end() && match.ok() && *match;
    // The listener logs the answer, with the client and itself.
    if (!accepted) self.CountFailure(reinterpret_cast<const sockaddr*>(&job->client));
    const smtp::AuthResult result =
        accepted ? smtp::AuthResult::kAccepted : smtp::AuthResult::kRejected;
    if (job->origin >= 0 && self.options_.post) {
      self.options_.post(job->origin,
                         [done = std::move(job->done), result]() mutable { done(result); });
    } else {
      job->done(result);
    }
  };
  if (!worker_.Post(std::move(task))) raw->done(smtp::AuthResult::kTemporaryFailure);
}

}  // namespace sluice::api
