#include "common/thread_shard.h"

namespace sluice::common {
namespace {

// Plain thread_local: each thread reads only its own copy, so no atomics.
thread_local int current_shard = -1;

}  // namespace

int CurrentShard() { return current_shard; }

void SetCurrentShard(int shard) { current_shard = shard < 0 ? -1 : shard; }

}  // namespace sluice::common
