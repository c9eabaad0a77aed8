// HttpInjectionWorker: prepares large injection requests (JSON parsing and
// per-recipient composition, ~200 ms for 100,000 recipients) on its own
// thread so the shard that received them keeps serving its other
// connections meanwhile. It also renders GET /metrics (Run), which takes
// the metrics registry's lock, so no shard ever waits for that.
//
// Submit() never blocks (common::TaskThread); `done` runs on the worker
// thread, and the caller posts the result back to its shard. The worker
// keeps its own InjectionRequestParser and MessageIdGenerator; its ids carry
// `id_shard` in their shard field, a value no shard uses, so they never
// collide with the shards' ids. Thread-safe; destroy it after every server
// that uses it has stopped.
#pragma once

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "api/http_injection.h"
#include "api/injection_request.h"
#include "common/clock.h"
#include "common/message_id.h"
#include "common/task_thread.h"

namespace sluice::api {

class HttpInjectionWorker {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<PreparedInjection>)>;

  HttpInjectionWorker(const InjectionLimits& limits, const common::Clock* clock, int id_shard,
                      size_t capacity = 1024);
  ~HttpInjectionWorker();
  HttpInjectionWorker(const HttpInjectionWorker&) = delete;
  HttpInjectionWorker& operator=(const HttpInjectionWorker&) = delete;

  // False (and `done` not called) when the worker's queue is full.
  bool Submit(std::string body, InjectionContext context, Done done);
  // Runs other slow work of the HTTP servers (rendering /metrics) on the
  // worker thread. False (and `task` dropped) when the queue is full.
  bool Run(absl::AnyInvocable<void()> task);

 private:
  // Touched only on the worker thread.
  InjectionRequestParser parser_;
  common::MessageIdGenerator ids_;
  // Last: joined first in the destructor, while the state above is alive.
  std::unique_ptr<common::TaskThread> thread_;
};

}  // namespace sluice::api
