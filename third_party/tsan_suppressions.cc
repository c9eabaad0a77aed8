// ThreadSanitizer suppressions for Debian's libraries, which are not built
// with -fsanitize=thread. Linked into every binary that links RocksDB or
// abseil's random library. TSan reads this function when it starts; other
// builds never call it. Only frames inside those libraries are suppressed,
// never our code.
//
// RocksDB: TSan sees its frees and its mutex calls but not the atomics that
// order them (SuperVersion reference counts, the cache role map), and
// reports races inside RocksDB that are not there.
//
// abseil's random seed pool (what a default-constructed absl::BitGen seeds
// from) copies out of its buffer under a SpinLock that TSan cannot see, so
// two threads making a BitGen look like a race on the buffer.
extern "C" const char* __tsan_default_suppressions() {
  return "race:librocksdb.so\n"
         "called_from_lib:libabsl_random_internal_pool_urbg.so\n";
}
