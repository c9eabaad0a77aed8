// The process the crash test kills: opens the spool given on the command
// line and enqueues from many producer threads as fast as it can, printing
// each envelope id (one line each) only after the spool said it was
// durable, which is exactly what a listener would acknowledge. It never
// exits by itself; the test SIGKILLs it.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/message_id.h"
#include "queue/rocksdb_spool.h"
#include "tests/queue/spool_test_util.h"

namespace {

void WriteLine(const std::string& line) {
  // One write per line, under PIPE_BUF: lines from different threads never
  // interleave.
  const std::string text = line + "\n";
  [[maybe_unused]] ssize_t n = write(STDOUT_FILENO, text.data(), text.size());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice;
  if (argc != 3) {
    fprintf(stderr, "usage: %s SPOOL_PATH PRODUCERS\n", argv[0]);
    return 2;
  }
  queue::RocksDbSpoolOptions options;
  options.path = argv[1];
  auto spool = queue::RocksDbSpool::Open(std::move(options));
  if (!spool.ok()) {
    fprintf(stderr, "open: %s\n", std::string(spool.status().message()).c_str());
    return 1;
  }
  WriteLine("ready");
  const int producers = atoi(argv[2]);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      common::MessageIdGenerator ids(common::Clock::Real(), p,
                                     common::MessageIdGenerator::ProcessNode());
      std::atomic<int> in_flight{0};
      for (uint64_t i = 0;; ++i) {
        // At most a few messages in flight per producer, like a session.
        while (in_flight.load(std::memory_order_acquire) >= 4) std::this_thread::yield();
        std::vector<std::string> domains = {absl::StrCat("d", i % 13, ".example")};
        if (i % 5 == 0) domains.push_back("shared.example");  // a body with two envelopes
        queue::NewMessage message = queue::testing::MakeMessage(
            ids, domains, std::string(512 + (i % 7) * 300, 'm'), absl::ToUnixMillis(absl::Now()));
        std::vector<std::string> lines;
        for (const queue::Envelope& envelope : message.envelopes) {
          lines.push_back(queue::testing::IdOf(envelope).ToString());
        }
        in_flight.fetch_add(1, std::memory_order_acq_rel);
        (*spool)->Enqueue(std::move(message),
                          [&in_flight, lines = std::move(lines)](absl::Status status) {
                            if (status.ok()) {
                              for (const std::string& line : lines) WriteLine(line);
                            }
                            in_flight.fetch_sub(1, std::memory_order_acq_rel);
                          });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return 0;
}
