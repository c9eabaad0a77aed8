// ThreadSanitizer suppressions for every binary that links RocksDB.
// Debian's RocksDB is not instrumented: TSan sees its frees and its mutex
// calls but not the atomics that order them (SuperVersion reference counts,
// the cache role map), and reports races inside RocksDB that are not there.
// Only frames in RocksDB itself are suppressed, never our code. TSan reads
// this function when it starts; other builds never call it.
extern "C" const char* __tsan_default_suppressions() { return "race:librocksdb.so\n"; }
