// The cost of classifying one SMTP reply with the shipped bounce rules
// (mail/bounce_classifier.h), against a baseline in the same run: one
// case-insensitive RE2 pattern matched against the same text, the
// cheapest check a regex classifier can make. Replies are real provider
// shapes.
//
//   bazel run -c opt //bench:bounce_classifier_bench
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "mail/bounce_classifier.h"
#include "re2/re2.h"

namespace {

struct Reply {
  int code;
  const char* enhanced;
  const char* text;
};

const std::vector<Reply>& Replies() {
  static const std::vector<Reply> replies = {
      {550, "5.1.1",
       "The email account that you tried to reach does not exist. Please try double-checking "
       "the recipient's email address for typos or unnecessary spaces. Learn more at "
       "https://support.google.com/mail/?p=NoSuchUser"},
      {421, "4.7.0",
       "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user "
       "complaints - 4.16.56.1; see https://postmaster.yahooinc.com/error-codes"},
      {550, "5.7.1",
       "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet "
       "service provider since part of their network is on our block list (S3150)."},
      {250, "2.0.0", "OK 1700000000 x1si123456qka.42 - gsmtp"},
      {451, "4.3.0", "Temporary local problem - please try later"},
  };
  return replies;
}

void BM_Classify(benchmark::State& state) {
  const sluice::mail::BounceClassifier& classifier = sluice::mail::BounceClassifier::Builtin();
  const std::vector<Reply>& replies = Replies();
  size_t i = 0;
  for (auto _ : state) {
    const Reply& r = replies[i++ % replies.size()];
    benchmark::DoNotOptimize(classifier.Classify(r.code, r.enhanced, r.text));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["rules"] = static_cast<double>(classifier.size());
}
BENCHMARK(BM_Classify);

void BM_OnePattern(benchmark::State& state) {
  const re2::RE2 pattern("(?i)user unknown");
  const std::vector<Reply>& replies = Replies();
  size_t i = 0;
  for (auto _ : state) {
    const Reply& r = replies[i++ % replies.size()];
    benchmark::DoNotOptimize(re2::RE2::PartialMatch(r.text, pattern));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OnePattern);

}  // namespace

BENCHMARK_MAIN();
