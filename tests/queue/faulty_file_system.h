// FaultyFileSystem: a RocksDB file system that passes everything to the
// real one until told to fail, then fails every write as a full disk
// (ENOSPC) or a broken one (EIO) would, until told to stop. Stall(true)
// makes every write and sync wait (a disk that hangs) until Stall(false).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace sluice::queue::testing {

class FaultyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  enum class Fault { kNone, kNoSpace, kIoError };

  FaultyFileSystem();
  const char* Name() const override { return "FaultyFileSystem"; }

  void Inject(Fault fault) { fault_.store(fault, std::memory_order_release); }
  void Stall(bool stalled);
  // Returns once no stall is on.
  void WaitWhileStalled() const;
  // The IOStatus a write gets now: OK, or the injected fault.
  rocksdb::IOStatus WriteStatus() const;

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* file,
                                       rocksdb::IODebugContext* dbg) override;

 private:
  std::atomic<Fault> fault_{Fault::kNone};
  mutable absl::Mutex mutex_;
  bool stalled_ ABSL_GUARDED_BY(mutex_) = false;
};

// An Env over a FaultyFileSystem, for RocksDbSpoolOptions::env.
struct FaultyEnv {
  std::shared_ptr<FaultyFileSystem> fs = std::make_shared<FaultyFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
};

}  // namespace sluice::queue::testing
