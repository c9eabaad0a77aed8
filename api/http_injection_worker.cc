#include "api/http_injection_worker.h"

#include <utility>

namespace sluice::api {

HttpInjectionWorker::HttpInjectionWorker(const InjectionLimits& limits, const common::Clock* clock,
                                         int id_shard, size_t capacity)
    : parser_(limits),
      ids_(clock, id_shard, common::MessageIdGenerator::ProcessNode()),
      thread_(std::make_unique<common::TaskThread>("http-inject", capacity)) {}

HttpInjectionWorker::~HttpInjectionWorker() { thread_.reset(); }

bool HttpInjectionWorker::Submit(std::string body, InjectionContext context, Done done) {
  // The task is left with us when the queue is full; `done` is then dropped.
  return thread_->Post(
      [this, body = std::move(body), context = std::move(context),
       done = std::move(done)]() mutable { done(PrepareInjection(parser_, body, ids_, context)); });
}

bool HttpInjectionWorker::Run(absl::AnyInvocable<void()> task) {
  return thread_->Post(std::move(task));
}

}  // namespace sluice::api
