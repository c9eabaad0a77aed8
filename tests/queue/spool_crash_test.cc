// Kills a process that is enqueueing at random moments and checks, after
// each restart, that every message it was told was durable is still there.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "queue/rocksdb_spool.h"
#include "tests/queue/spool_test_util.h"

extern char** environ;

namespace sluice::queue {
namespace {

using testing::Answer;
using testing::DueCollector;

int Rounds() {
  const char* rounds = getenv("SLUICE_CRASH_ROUNDS");
  return rounds != nullptr ? atoi(rounds) : 20;
}

// Runs the child until it has acknowledged `acks` envelopes, SIGKILLs it,
// and returns every id it acknowledged (including lines already in the
// pipe when it died).
std::vector<std::string> RunAndKill(const std::string& path, int producers, int acks) {
  int out[2];
  EXPECT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const std::string binary = "tests/queue/spool_crash_child";
  const std::string producer_arg = std::to_string(producers);
  char* argv[] = {const_cast<char*>(binary.c_str()), const_cast<char*>(path.c_str()),
                  const_cast<char*>(producer_arg.c_str()), nullptr};
  pid_t pid;
  EXPECT_EQ(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);

  FILE* lines = fdopen(out[0], "r");
  std::vector<std::string> acked;
  char buffer[128];
  bool killed = false;
  while (fgets(buffer, sizeof(buffer), lines) != nullptr) {
    std::string line(buffer);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    if (line == "ready") {
      if (acks == 0 && !killed) {
        kill(pid, SIGKILL);
        killed = true;
      }
      continue;
    }
    acked.push_back(line);
    if (!killed && static_cast<int>(acked.size()) >= acks) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  fclose(lines);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child ended by itself (status " << status << "): see its stderr above";
  return acked;
}

TEST(SpoolCrashTest, NothingAcknowledgedIsLostWhenTheProcessIsKilled) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/spool-crash-", getpid());
  std::filesystem::remove_all(path);
  std::mt19937 random(std::random_device{}());
  absl::flat_hash_set<common::MessageId> durable;
  const int rounds = Rounds();
  for (int round = 0; round < rounds; ++round) {
    const int acks = std::uniform_int_distribution<int>(0, 3000)(random);
    const int producers = std::uniform_int_distribution<int>(1, 32)(random);
    for (const std::string& line : RunAndKill(path, producers, acks)) {
      absl::StatusOr<common::MessageId> id = common::MessageId::Parse(line);
      ASSERT_TRUE(id.ok()) << "child printed '" << line << "'";
      durable.insert(*id);
    }

    // Restart: everything pending is handed out again.
    DueCollector due;
    RocksDbSpoolOptions options;
    options.path = path;
    options.due_sink = due.Sink();
    absl::StatusOr<std::unique_ptr<RocksDbSpool>> spool = RocksDbSpool::Open(std::move(options));
    ASSERT_TRUE(spool.ok()) << spool.status();
    const uint64_t recovered = (*spool)->recovery().envelopes;
    ASSERT_GE(recovered, durable.size()) << "round " << round;
    ASSERT_TRUE(due.WaitFor(recovered, absl::Seconds(60)));
    absl::flat_hash_set<common::MessageId> present;
    for (const ScheduledMessage& message : due.Take()) present.insert(message.id);
    size_t missing = 0;
    for (const common::MessageId& id : durable) missing += present.contains(id) ? 0 : 1;
    ASSERT_EQ(missing, 0u) << "round " << round << ": " << missing << " of " << durable.size()
                           << " acknowledged envelopes lost (killed after " << acks << " acks, "
                           << producers << " producers)";

    // Deliver (remove) half of them, as the delivery side would, so the
    // next rounds also cover removes that were in flight.
    std::vector<common::MessageId> delivered;
    for (const common::MessageId& id : durable) {
      if (delivered.size() * 2 >= durable.size()) break;
      delivered.push_back(id);
    }
    testing::Countdown removed(delivered.size());
    for (const common::MessageId& id : delivered) (*spool)->Remove(id, removed.Callback());
    EXPECT_TRUE(removed.Wait().empty());
    for (const common::MessageId& id : delivered) durable.erase(id);
  }
  std::filesystem::remove_all(path);
}

}  // namespace
}  // namespace sluice::queue
