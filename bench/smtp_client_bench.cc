// SMTP client session throughput, sans-IO (no sockets): whole pipelined
// transactions (MAIL, RCPTs, DATA, body, replies) per second on one reused
// connection against canned server replies, and the reply parser alone on
// a 10-line EHLO reply.
//
//   bazel run -c opt //bench:smtp_client_bench
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "smtp/client_session.h"
#include "smtp/reply_parser.h"

namespace sluice::smtp {
namespace {

constexpr char kEhlo[] =
    "250-mx.bench\r\n250-PIPELINING\r\n250-SIZE 100000000\r\n250-8BITMIME\r\n"
    "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-STARTTLS\r\n"
    "250-AUTH PLAIN LOGIN\r\n250 CHUNKING\r\n";

// 78-octet lines, one in ten starting with a dot.
std::string MakeBody(size_t size) {
  std::string body = "From: a@client.bench\r\nTo: b@mx.bench\r\nSubject: bench\r\n\r\n";
  for (size_t line = 0; body.size() < size; ++line) {
    body += line % 10 == 0 ? "." : "x";
    body.append(75, 'y');
    body += "\r\n";
  }
  return body;
}

void Check(bool ok) {
  if (!ok) std::abort();
}

// args: body octets, recipients, BDAT (1) or DATA (0).
void BM_ClientTransaction(benchmark::State& state) {
  const std::string body = MakeBody(state.range(0));
  const int recipients = state.range(1);
  const bool bdat = state.range(2) != 0;
  ClientOptions options;
  options.tls = TlsPolicy::kNever;
  options.use_chunking = bdat;
  ClientSession session(options);
  session.Feed("220 mx.bench ESMTP\r\n");
  session.TakeOutput();
  Check(session.Feed(kEhlo) == ClientAction::kReadyForMessage);
  session.TakeOutput();

  OutboundMessage message;
  message.sender.local_part = "bounce-12345";
  message.sender.domain = "client.bench";
  for (int i = 0; i < recipients; ++i) {
    Recipient r;
    r.address.local_part = "user" + std::to_string(i);
    r.address.domain = "mx.bench";
    message.recipients.push_back(r);
  }
  message.body = body;
  std::string rcpt_replies = "250 2.1.0 Ok\r\n";
  for (int i = 0; i < recipients; ++i) rcpt_replies += "250 2.1.5 Ok\r\n";
  if (!bdat) rcpt_replies += "354 End data with <CR><LF>.<CR><LF>\r\n";
  const std::string final_reply = "250 2.0.0 Ok: queued as 0123456789ABCDEF\r\n";

  size_t octets = 0;
  for (auto _ : state) {
    Check(session.SendMessage(message) == ClientAction::kReadMore);
    octets += session.TakeOutput().size();
    Check(session.Feed(rcpt_replies) == ClientAction::kReadMore);
    octets += session.TakeOutput().size();
    Check(session.Feed(final_reply) == ClientAction::kMessageDone);
    DeliveryResult result = session.TakeResult();
    benchmark::DoNotOptimize(result.recipients.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(octets);
}
BENCHMARK(BM_ClientTransaction)
    ->Args({1 << 10, 1, 0})
    ->Args({10 << 10, 1, 0})
    ->Args({10 << 10, 10, 0})
    ->Args({10 << 10, 1, 1})
    ->Args({1 << 20, 1, 0})
    ->Args({1 << 20, 1, 1});

void BM_ReplyParserEhlo(benchmark::State& state) {
  ReplyParser parser;
  for (auto _ : state) {
    parser.Feed(kEhlo);
    auto reply = parser.Next();
    Check(reply.ok() && reply->has_value());
    benchmark::DoNotOptimize((*reply)->lines.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReplyParserEhlo);

}  // namespace
}  // namespace sluice::smtp

BENCHMARK_MAIN();
