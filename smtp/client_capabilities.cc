#include "smtp/client_capabilities.h"

#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace sluice::smtp {

ServerCapabilities ParseEhloReply(const ServerReply& reply) {
  ServerCapabilities caps;
  caps.esmtp = true;
  for (size_t i = 0; i < reply.lines.size(); ++i) {
    const absl::string_view line = absl::StripAsciiWhitespace(reply.lines[i]);
    if (i == 0) {
      caps.server_name = std::string(line.substr(0, line.find(' ')));
      continue;
    }
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t="), absl::SkipEmpty());
    if (words.empty()) continue;
    const std::string keyword = absl::AsciiStrToUpper(words[0]);
    if (keyword == "PIPELINING") {
      caps.pipelining = true;
    } else if (keyword == "SIZE") {
      caps.size = true;
      uint64_t value = 0;
      if (words.size() > 1 && absl::SimpleAtoi(words[1], &value)) caps.max_size = value;
    } else if (keyword == "8BITMIME") {
      caps.eightbitmime = true;
    } else if (keyword == "SMTPUTF8") {
      caps.smtputf8 = true;
    } else if (keyword == "CHUNKING") {
      caps.chunking = true;
    } else if (keyword == "STARTTLS") {
      caps.starttls = true;
    } else if (keyword == "ENHANCEDSTATUSCODES") {
      caps.enhanced_status_codes = true;
    } else if (keyword == "DSN") {
      caps.dsn = true;
    } else if (keyword == "AUTH") {
      for (size_t w = 1; w < words.size(); ++w) {
        caps.auth_mechanisms.push_back(absl::AsciiStrToUpper(words[w]));
      }
    }
  }
  return caps;
}

}  // namespace sluice::smtp
