// Injection API core: JSON parsing of large requests, template rendering and
// per-recipient MIME assembly, without HTTP or the spool.
//
//   bazel run -c opt //bench:injection_bench
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/injection_composer.h"
#include "api/injection_request.h"
#include "benchmark/benchmark.h"
#include "mime/template.h"

namespace {

std::string MakeRequest(int recipients, bool attachment) {
  std::string json =
      R"({"from":"News <news@example.org>","subject":"Hello {{first}}, your {{plan}} update",)"
      R"("text":"Dear {{first}},\n\nThank you for using {{plan}}. )";
  for (int i = 0; i < 20; ++i) json += "Some ordinary body text of a newsletter line. ";
  json += R"(\n\nRegards\n","html":"<html><body><p>Dear {{first}},</p><p>)";
  for (int i = 0; i < 40; ++i) json += "Some <b>ordinary</b> markup of a newsletter. ";
  json += R"(</p></body></html>")";
  if (attachment) {
    json +=
        R"(,"attachments":[{"filename":"terms.pdf","content_type":"application/pdf","content":")";
    json += std::string(40000, 'A');  // 30 KB decoded
    json += R"("}])";
  }
  json += R"(,"substitutions":{"plan":"Premium"},"recipients":[)";
  for (int i = 0; i < recipients; ++i) {
    absl::StrAppend(&json, i ? "," : "", R"({"email":"user)", i, R"(@example.com","name":"User )",
                    i, R"(","substitutions":{"first":"Ann-)", i, R"(&Co"}})");
  }
  json += "]}";
  return json;
}

void BM_ParseRequest(benchmark::State& state) {
  const std::string json = MakeRequest(static_cast<int>(state.range(0)), false);
  sluice::api::InjectionRequestParser parser;
  for (auto _ : state) {
    auto request = parser.Parse(json);
    benchmark::DoNotOptimize(request);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * json.size());
}
BENCHMARK(BM_ParseRequest)->Arg(1)->Arg(1000)->Arg(100'000)->Unit(benchmark::kMillisecond);

void BM_TemplateRender(benchmark::State& state) {
  sluice::mime::TemplateSlots slots;
  std::string source;
  for (int i = 0; i < 40; ++i) source += "<p>Dear {{first}}, your {{plan}} is ready.</p>";
  auto compiled = sluice::mime::Template::Compile(source, &slots);
  std::vector<std::optional<std::string_view>> values = {"Ann & Co", "Premium"};
  std::string out;
  for (auto _ : state) {
    out.clear();
    compiled->Render(values, sluice::mime::TemplateEscape::kHtml, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_TemplateRender);

// Parse once, then build every recipient's message: the per-request cost
// of a personalised campaign.
void BM_ComposeAllRecipients(benchmark::State& state) {
  const int recipients = static_cast<int>(state.range(0));
  const std::string json = MakeRequest(recipients, state.range(1) != 0);
  auto request = sluice::api::ParseInjectionRequest(json);
  const absl::Time date = absl::Now();
  size_t bytes = 0;
  for (auto _ : state) {
    auto composer = sluice::api::InjectionComposer::Create(*request);
    for (int i = 0; i < recipients; ++i) {
      auto message =
          (*composer)->BuildForRecipient(i, "01HZZZZZZZZZZZZZZZZZZZZZZZ@mta.example.org", date);
      bytes += message.bytes.size();
      benchmark::DoNotOptimize(message);
    }
  }
  state.SetItemsProcessed(state.iterations() * recipients);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_ComposeAllRecipients)
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({100'000, 0})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
