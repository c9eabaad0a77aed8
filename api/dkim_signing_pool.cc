#include "api/dkim_signing_pool.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "mail/dkim_key.h"

namespace sluice::api {

DkimSigningPool::DkimSigningPool(int threads, size_t capacity_per_thread, DkimMetrics metrics,
                                 Post post)
    : metrics_(metrics), post_(std::move(post)) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    workers_.push_back(
        std::make_unique<common::TaskThread>(absl::StrCat("dkim-", i), capacity_per_thread));
  }
}

DkimSigningPool::~DkimSigningPool() { workers_.clear(); }

struct DkimSigningPool::Job {
  std::shared_ptr<const mail::DkimKeyring> keyring;
  std::string message;
  std::string tenant;
  int shard = 0;
  Done done;
};

bool DkimSigningPool::Submit(std::shared_ptr<const mail::DkimKeyring> keyring, std::string& message,
                             const std::string& tenant, int shard, Done& done) {
  auto job = std::make_unique<Job>(
      Job{std::move(keyring), std::move(message), tenant, shard, std::move(done)});
  // The task holds the job by plain pointer, so a worker that refuses it
  // (its queue full) leaves the job with us to give back.
  Job* const raw = job.get();
  common::TaskThread::Task task = [this, raw] {
    std::unique_ptr<Job> job(raw);
    absl::StatusOr<std::string> signed_message;
    Sign(*job->keyring, job->message, job->tenant, &signed_message);
    post_(job->shard,
          [done = std::move(job->done), signed_message = std::move(signed_message)]() mutable {
            done(std::move(signed_message));
          });
  };
  const uint32_t start = next_.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[(start + i) % workers_.size()]->Post(std::move(task))) {
      job.release();  // the worker's now
      return true;
    }
  }
  message = std::move(job->message);
  done = std::move(job->done);
  return false;
}

void DkimSigningPool::Sign(const mail::DkimKeyring& keyring, std::string& message,
                           const std::string& tenant, absl::StatusOr<std::string>* out) {
  const absl::Time started = absl::Now();
  const std::optional<std::string> from = mail::FromDomain(message);
  const std::vector<const mail::DkimSignature*> keys =
      from.has_value() ? keyring.Match(*from, tenant) : std::vector<const mail::DkimSignature*>();
  absl::StatusOr<std::string> fields = mail::DkimSigner::SignWith(message, keys, started);
  if (metrics_.sign_seconds != nullptr) {
    metrics_.sign_seconds->Observe(absl::ToDoubleSeconds(absl::Now() - started));
  }
  if (!fields.ok()) {
    if (metrics_.failures != nullptr) metrics_.failures->Add(1);
    *out = fields.status();
    return;
  }
  if (metrics_.signatures != nullptr) {
    for (const mail::DkimSignature* key : keys) {
      metrics_.signatures->Add(key->key->algorithm() == mail::DkimAlgorithm::kRsaSha256 ? 0 : 1,
                               key->domain);
    }
  }
  *out = std::move(*fields) + std::move(message);
}

}  // namespace sluice::api
