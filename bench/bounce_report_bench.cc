// Bounces parsed per second per core: ParseBounceReport
// (mail/bounce_report.h) on a Postfix DSN with its returned headers and on
// an ARF report, against, in the same run, the MIME split alone
// (mime::ParseMime): what reading the delivery-status and feedback fields
// adds to the structure every parser must find.
//
//   bazel run -c opt //bench:bounce_report_bench -- fuzz/seeds/bounce/*.eml
//
// The messages are the files named on the command line (the fuzz seeds are
// real shapes); without any, a built-in DSN.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mail/bounce_report.h"
#include "mime/mime_entity.h"

namespace {

std::vector<std::string>& Messages() {
  static std::vector<std::string> messages;
  return messages;
}

const char kBuiltin[] =
    "From: MAILER-DAEMON@mx.example.net\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\n<nobody@example.net>: unknown user\r\n"
    "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n"
    "\r\nFinal-Recipient: rfc822; nobody@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 unknown user\r\n\r\n"
    "--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <1@sluice.test>\r\n"
    "Return-Path: <b-x@bounces.sluice.test>\r\n\r\n--b--\r\n";

void BM_ParseBounceReport(benchmark::State& state) {
  const std::vector<std::string>& messages = Messages();
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& m = messages[i++ % messages.size()];
    benchmark::DoNotOptimize(sluice::mail::ParseBounceReport(m));
    bytes += m.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ParseBounceReport);

void BM_MimeSplitOnly(benchmark::State& state) {
  const std::vector<std::string>& messages = Messages();
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& m = messages[i++ % messages.size()];
    benchmark::DoNotOptimize(sluice::mime::ParseMime(m));
    bytes += m.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_MimeSplitOnly);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!text.str().empty()) Messages().push_back(text.str());
  }
  if (Messages().empty()) Messages().push_back(kBuiltin);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
