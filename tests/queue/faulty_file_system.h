// FaultyFileSystem: a RocksDB file system that passes everything to the
// real one until told to fail, then fails every write as a full disk
// (ENOSPC) or a broken one (EIO) would, until told to stop.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace sluice::queue::testing {

class FaultyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  enum class Fault { kNone, kNoSpace, kIoError };

  FaultyFileSystem();
  const char* Name() const override { return "FaultyFileSystem"; }

  void Inject(Fault fault) { fault_.store(fault, std::memory_order_release); }
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
};

// An Env over a FaultyFileSystem, for RocksDbSpoolOptions::env.
struct FaultyEnv {
  std::shared_ptr<FaultyFileSystem> fs = std::make_shared<FaultyFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
};

}  // namespace sluice::queue::testing
