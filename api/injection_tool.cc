// injection_tool: reads one POST /api/v1/messages JSON body on stdin and
// writes what sluice would spool, for tests against real MIME parsers and
// for looking at the output by hand.
//
//   bazel-bin/api/injection_tool [--per_recipient] < request.json
//
// Output, one record per line header, then raw bytes:
//   SHARED <recipients> <bytes>\n<message>        when the body is shared
//   RECIPIENT <index> <bytes>\n<message>          per accepted recipient
//   REJECTED <index> <reason>\n
//   MISSING <index|shared> <name> ...\n           substitutions rendered empty
// --per_recipient builds one message per recipient even when the body could
// be shared. Exit status 2 and the error on stderr for an invalid request.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "api/injection_composer.h"
#include "api/injection_request.h"

namespace {

void Write(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

void WriteMessage(std::string_view kind, std::string_view id,
                  const sluice::api::ComposedMessage& message) {
  Write(absl::StrCat(absl::string_view(kind.data(), kind.size()), " ",
                     absl::string_view(id.data(), id.size()), " ", message.bytes.size(), "\n"));
  Write(message.bytes);
  if (!message.missing_substitutions.empty()) {
    Write(absl::StrCat("MISSING ", absl::string_view(id.data(), id.size()), " ",
                       absl::StrJoin(message.missing_substitutions, " "), "\n"));
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool per_recipient = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--per_recipient") {
      per_recipient = true;
    } else {
      std::fprintf(stderr, "usage: %s [--per_recipient] < request.json\n", argv[0]);
      return 64;
    }
  }
  const std::string body((std::istreambuf_iterator<char>(std::cin)),
                         std::istreambuf_iterator<char>());
  absl::StatusOr<sluice::api::InjectionRequest> request = sluice::api::ParseInjectionRequest(body);
  if (!request.ok()) {
    std::fprintf(stderr, "%s\n", std::string(request.status().message()).c_str());
    return 2;
  }
  auto composer = sluice::api::InjectionComposer::Create(*request);
  if (!composer.ok()) {
    std::fprintf(stderr, "%s\n", std::string(composer.status().message()).c_str());
    return 2;
  }
  for (const auto& rejected : request->rejected) {
    Write(absl::StrCat("REJECTED ", rejected.index, " ", rejected.reason, "\n"));
  }
  const absl::Time date = absl::FromUnixSeconds(1'700'000'000);
  if ((*composer)->shares_body() && !per_recipient) {
    WriteMessage("SHARED", absl::StrCat(request->recipients.size()),
                 (*composer)->BuildShared("shared@sluice.test", date));
    return 0;
  }
  for (size_t i = 0; i < request->recipients.size(); ++i) {
    const std::string index = absl::StrCat(request->recipients[i].index);
    WriteMessage("RECIPIENT", index,
                 (*composer)->BuildForRecipient(i, absl::StrCat("r", index, "@sluice.test"), date));
  }
  return 0;
}
