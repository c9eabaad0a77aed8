#include "api/dkim_signing_pool.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sluice::api {
namespace {

std::shared_ptr<const mail::DkimKeyring> Keyring() {
  absl::StatusOr<std::shared_ptr<const mail::DkimKey>> key =
      mail::DkimKey::Generate(mail::DkimAlgorithm::kEd25519Sha256);
  EXPECT_TRUE(key.ok());
  mail::DkimKeySpec spec;
  spec.signature.domain = "example.com";
  spec.signature.selector = "s1";
  spec.signature.key = *key;
  absl::StatusOr<std::shared_ptr<const mail::DkimKeyring>> ring = mail::DkimKeyring::Create({spec});
  EXPECT_TRUE(ring.ok());
  return *ring;
}

// What the workers hand back, and a gate that can hold them.
class Shards {
 public:
  DkimSigningPool::Post Post() {
    return [this](int shard, absl::AnyInvocable<void()> task) {
      std::unique_lock<std::mutex> lock(mutex_);
      opened_.wait(lock, [this] { return open_; });
      shards_.push_back(shard);
      tasks_.push_back(std::move(task));
      changed_.notify_all();
    };
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = false;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }
  // Runs the first `n` answers on this thread, waiting for them.
  std::vector<int> Run(size_t n) {
    std::vector<absl::AnyInvocable<void()>> tasks;
    std::vector<int> shards;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return tasks_.size() >= n; });
      tasks.swap(tasks_);
      shards.swap(shards_);
    }
    for (auto& task : tasks) task();
    return shards;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::condition_variable opened_;
  bool open_ = true;
  std::vector<int> shards_;
  std::vector<absl::AnyInvocable<void()>> tasks_;
};

TEST(DkimSigningPoolTest, SignsOnAWorkerAndAnswersOnTheShardThatAsked) {
  Shards shards;
  DkimSigningPool pool(2, 16, DkimMetrics{}, shards.Post());
  std::string message = "From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
  std::optional<absl::StatusOr<std::string>> answer;
  DkimSigningPool::Done done = [&answer](absl::StatusOr<std::string> m) { answer = std::move(m); };
  ASSERT_TRUE(pool.Submit(Keyring(), message, "", 3, done));
  EXPECT_EQ(shards.Run(1), std::vector<int>{3});
  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->ok()) << answer->status();
  EXPECT_TRUE(absl::StartsWith(**answer, "DKIM-Signature: v=1; a=ed25519-sha256;"));
  EXPECT_TRUE(absl::EndsWith(**answer, "From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"));
}

TEST(DkimSigningPoolTest, WhenEveryWorkerIsFullTheMessageStaysWithTheCaller) {
  Shards shards;
  shards.Close();  // a worker that finished blocks handing its answer back
  DkimSigningPool pool(1, 2, DkimMetrics{}, shards.Post());
  const std::shared_ptr<const mail::DkimKeyring> ring = Keyring();
  int accepted = 0;
  int answered = 0;
  std::string message;
  DkimSigningPool::Done done;
  for (int i = 0; i < 64; ++i) {
    message = "From: a@example.com\r\n\r\nmessage " + std::to_string(i) + "\r\n";
    done = [&answered](absl::StatusOr<std::string>) { ++answered; };
    if (!pool.Submit(ring, message, "", 0, done)) break;
    ++accepted;
  }
  ASSERT_LT(accepted, 64) << "the queue never filled";
  EXPECT_EQ(message, "From: a@example.com\r\n\r\nmessage " + std::to_string(accepted) + "\r\n");
  EXPECT_TRUE(done != nullptr);
  shards.Open();
  shards.Run(accepted);
  EXPECT_EQ(answered, accepted);
}

}  // namespace
}  // namespace sluice::api
