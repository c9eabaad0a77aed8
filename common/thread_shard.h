// thread_shard: which shard thread, if any, the calling thread is.
//
// A shard thread calls SetCurrentShard(index) once when it starts; code that
// keeps per-shard state (metrics cells, log lines, id generators) then asks
// CurrentShard() instead of threading the index through every call. Any thread
// may call either function; there is no error case. Threads that never set it
// (main, logger, test threads) read -1.
#pragma once

namespace sluice::common {

// The shard index of the calling thread, or -1 if it is not a shard thread.
int CurrentShard();

// Records the calling thread's shard index. Pass -1 to mark the thread as
// not a shard thread again; any negative value is stored as -1.
void SetCurrentShard(int shard);

}  // namespace sluice::common
