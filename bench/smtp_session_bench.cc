// SMTP server session parsing throughput, sans-IO (no sockets): commands per
// second for a pipelined MAIL/RCPT/DATA transaction, and body octets per
// second through the DATA reader (dot-unstuffing, line checks) alone and
// through a whole session.
//
//   bazel run //bench:smtp_session_bench
#include <benchmark/benchmark.h>

#include <string>

#include "smtp/data_reader.h"
#include "smtp/server_session.h"

namespace sluice::smtp {
namespace {

ServerOptions BenchOptions() {
  ServerOptions options;
  options.hostname = "mx.bench";
  options.max_message_size = 64 << 20;
  return options;
}

// Answers every wait like a listener whose spool accepts everything.
void Drive(ServerSession& session, ServerAction action) {
  while (action != ServerAction::kReadMore) {
    if (action == ServerAction::kMessage) {
      ReceivedMessage message = session.TakeMessage();
      benchmark::DoNotOptimize(message.body.data());
      action = session.SupplyMessageResult(MessageResult::Accepted("0123456789ABCDEF"));
    } else {
      std::abort();
    }
  }
}

// A body of 78-octet lines, one in ten starting with a dot (stuffed).
std::string MakeStuffedBody(size_t size) {
  std::string body = "From: a@client.bench\r\nTo: b@mx.bench\r\nSubject: bench\r\n\r\n";
  size_t line = 0;
  while (body.size() < size) {
    if (line++ % 10 == 0) body += "..";
    body += std::string(76, 'a' + static_cast<char>(line % 26));
    body += "\r\n";
  }
  return body;
}

void BM_PipelinedTransaction(benchmark::State& state) {
  ServerSession session(BenchOptions(), nullptr);
  session.Start();
  Drive(session, session.Feed("EHLO client.bench\r\n"));
  session.TakeOutput();
  // One client write: MAIL, 3 RCPT, DATA, then (after 354) the body and its
  // end; 6 commands counting the end of data.
  const std::string envelope =
      "MAIL FROM:<sender@client.bench> SIZE=1000 BODY=8BITMIME\r\n"
      "RCPT TO:<one@mx.bench>\r\nRCPT TO:<two@mx.bench> NOTIFY=FAILURE\r\n"
      "RCPT TO:<three@mx.bench>\r\nDATA\r\n";
  const std::string body = "Subject: hi\r\n\r\nhello\r\n.\r\n";
  for (auto _ : state) {
    Drive(session, session.Feed(envelope));
    Drive(session, session.Feed(body));
    benchmark::DoNotOptimize(session.TakeOutput());
  }
  state.SetItemsProcessed(state.iterations() * 6);
  state.counters["commands/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 6), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PipelinedTransaction);

// The unstuffer alone, fed in 64 KiB reads.
void BM_DataReader(benchmark::State& state) {
  const std::string wire = MakeStuffedBody(static_cast<size_t>(state.range(0))) + ".\r\n";
  std::string body;
  body.reserve(wire.size());
  DataReader reader;
  for (auto _ : state) {
    body.clear();
    reader.Start(DataReader::Framing::kDotStuffed, {}, &body);
    for (size_t pos = 0; pos < wire.size() && !reader.done();) {
      pos += reader.Consume(std::string_view(wire).substr(pos, 64 * 1024));
    }
    if (!reader.done() || reader.error() != DataReader::Error::kNone) std::abort();
    benchmark::DoNotOptimize(body.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_DataReader)->Arg(2 << 10)->Arg(1 << 20);

// A whole transaction per iteration, the body fed in 64 KiB reads.
void BM_SessionData(benchmark::State& state) {
  const std::string wire = MakeStuffedBody(static_cast<size_t>(state.range(0))) + ".\r\n";
  ServerSession session(BenchOptions(), nullptr);
  session.Start();
  Drive(session, session.Feed("EHLO client.bench\r\n"));
  for (auto _ : state) {
    Drive(session, session.Feed("MAIL FROM:<a@client.bench>\r\nRCPT TO:<b@mx.bench>\r\nDATA\r\n"));
    for (size_t pos = 0; pos < wire.size(); pos += 64 * 1024) {
      Drive(session, session.Feed(std::string_view(wire).substr(pos, 64 * 1024)));
    }
    benchmark::DoNotOptimize(session.TakeOutput());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_SessionData)->Arg(2 << 10)->Arg(1 << 20);

}  // namespace
}  // namespace sluice::smtp

BENCHMARK_MAIN();
