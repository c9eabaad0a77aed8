#include "tests/queue/faulty_file_system.h"

#include <utility>

namespace sluice::queue::testing {
namespace {

class FaultyWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, const FaultyFileSystem* fs)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    fs_->WaitWhileStalled();
    rocksdb::IOStatus status = fs_->WriteStatus();
    return status.ok() ? FSWritableFileOwnerWrapper::Append(data, options, dbg) : status;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    fs_->WaitWhileStalled();
    rocksdb::IOStatus status = fs_->WriteStatus();
    return status.ok() ? FSWritableFileOwnerWrapper::Append(data, options, info, dbg) : status;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    fs_->WaitWhileStalled();
    rocksdb::IOStatus status = fs_->WriteStatus();
    return status.ok() ? FSWritableFileOwnerWrapper::Sync(options, dbg) : status;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    fs_->WaitWhileStalled();
    rocksdb::IOStatus status = fs_->WriteStatus();
    return status.ok() ? FSWritableFileOwnerWrapper::Fsync(options, dbg) : status;
  }

 private:
  const FaultyFileSystem* fs_;
};

}  // namespace

FaultyFileSystem::FaultyFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

void FaultyFileSystem::Stall(bool stalled) {
  absl::MutexLock lock(&mutex_);
  stalled_ = stalled;
}

void FaultyFileSystem::WaitWhileStalled() const {
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(
      +[](const bool* stalled) { return !*stalled; }, &stalled_));
}

rocksdb::IOStatus FaultyFileSystem::WriteStatus() const {
  switch (fault_.load(std::memory_order_acquire)) {
    case Fault::kNone:
      return rocksdb::IOStatus::OK();
    case Fault::kNoSpace:
      return rocksdb::IOStatus::NoSpace("injected: no space left on device");
    case Fault::kIoError:
      return rocksdb::IOStatus::IOError("injected: input/output error");
  }
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus FaultyFileSystem::NewWritableFile(const std::string& name,
                                                    const rocksdb::FileOptions& options,
                                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                                    rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus status = WriteStatus();
  if (!status.ok()) return status;
  std::unique_ptr<rocksdb::FSWritableFile> real;
  status = target()->NewWritableFile(name, options, &real, dbg);
  if (status.ok()) *file = std::make_unique<FaultyWritableFile>(std::move(real), this);
  return status;
}

rocksdb::IOStatus FaultyFileSystem::ReopenWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* file, rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus status = WriteStatus();
  if (!status.ok()) return status;
  std::unique_ptr<rocksdb::FSWritableFile> real;
  status = target()->ReopenWritableFile(name, options, &real, dbg);
  if (status.ok()) *file = std::make_unique<FaultyWritableFile>(std::move(real), this);
  return status;
}

}  // namespace sluice::queue::testing
