// Sharded<T>: one instance of a service per shard, each living on, and
// touched only by, its own shard thread (the Seastar idea).
//
// T is constructed on its shard by the factory given to Start(), and must
// provide `void Stop(absl::AnyInvocable<void()> done)`: stop accepting work,
// close what it owns, and call `done` (on its shard) once everything is
// closed. Sharded::Stop() stops every instance, waits for all of them, and
// destroys each on its own shard. Start() and Stop() block the calling
// thread, so they are for the control thread only; InvokeOn/InvokeOnAll may
// be called from anywhere.
#pragma once

#include <functional>
#include <latch>
#include <memory>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "common/thread_shard.h"
#include "reactor/shard_group.h"

namespace sluice::reactor {

template <typename T>
class Sharded {
 public:
  // Builds the instance for one shard, on that shard's thread.
  using Factory = std::function<absl::StatusOr<std::unique_ptr<T>>(int shard, Reactor& reactor)>;

  explicit Sharded(ShardGroup& group) : group_(group), instances_(group.size()) {}
  ~Sharded() { Stop(); }
  Sharded(const Sharded&) = delete;
  Sharded& operator=(const Sharded&) = delete;

  // Creates every instance; on any failure, stops the ones that started and
  // returns the first error.
  absl::Status Start(Factory factory) {
    std::vector<absl::Status> errors(group_.size());
    std::latch created(group_.size());
    for (int i = 0; i < group_.size(); ++i) {
      group_.Post(i, [this, i, &factory, &errors, &created] {
        absl::StatusOr<std::unique_ptr<T>> instance = factory(i, group_.reactor(i));
        if (instance.ok()) {
          instances_[i] = *std::move(instance);
        } else {
          errors[i] = instance.status();
        }
        created.count_down();
      });
    }
    created.wait();
    started_ = true;
    for (const absl::Status& error : errors) {
      if (!error.ok()) {
        Stop();
        return error;
      }
    }
    return absl::OkStatus();
  }

  // The calling shard's instance.
  T& local() { return *instances_[common::CurrentShard()]; }

  void InvokeOn(int shard, absl::AnyInvocable<void(T&)> fn) {
    group_.Post(shard, [this, shard, fn = std::move(fn)]() mutable {
      if (instances_[shard]) fn(*instances_[shard]);
    });
  }

  // Runs fn(instance) on `shard` and then reply(result) back on the calling
  // shard. The caller must be a shard thread.
  template <typename Fn, typename Reply>
  void InvokeOn(int shard, Fn fn, Reply reply) {
    const int origin = common::CurrentShard();
    group_.Post(
        shard, [this, shard, origin, fn = std::move(fn), reply = std::move(reply)]() mutable {
          auto result = fn(*instances_[shard]);
          group_.Post(origin, [reply = std::move(reply), result = std::move(result)]() mutable {
            reply(std::move(result));
          });
        });
  }

  // Runs a copy of `fn` on every shard.
  void InvokeOnAll(const std::function<void(T&)>& fn) {
    for (int i = 0; i < group_.size(); ++i) InvokeOn(i, fn);
  }

  // Like InvokeOnAll, and waits until every shard has run it. Control
  // thread only.
  void InvokeOnAllAndWait(const std::function<void(T&)>& fn) {
    std::latch done(group_.size());
    for (int i = 0; i < group_.size(); ++i) {
      group_.Post(i, [this, i, &fn, &done] {
        if (instances_[i]) fn(*instances_[i]);
        done.count_down();
      });
    }
    done.wait();
  }

  // Stops and destroys every instance. Idempotent; control thread only.
  void Stop() {
    if (!started_) return;
    started_ = false;
    std::latch stopped(group_.size());
    for (int i = 0; i < group_.size(); ++i) {
      group_.Post(i, [this, i, &stopped] {
        if (!instances_[i]) {
          stopped.count_down();
          return;
        }
        instances_[i]->Stop([this, i, &stopped] {
          // Destroy after Stop's caller has returned, not inside it.
          group_.reactor(i).Defer([this, i, &stopped] {
            instances_[i].reset();
            stopped.count_down();
          });
        });
      });
    }
    stopped.wait();
  }

 private:
  ShardGroup& group_;
  std::vector<std::unique_ptr<T>> instances_;
  bool started_ = false;
};

}  // namespace sluice::reactor
