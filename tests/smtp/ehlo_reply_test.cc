#include "smtp/ehlo_reply.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_split.h"

namespace sluice::smtp {
namespace {

ServerOptions Options() {
  ServerOptions options;
  options.hostname = "mx.test";
  options.max_message_size = 1000;
  return options;
}

// Whether the reply has `line` as one of its lines.
bool Announces(const ServerOptions& options, bool tls_active, std::string_view line) {
  const std::vector<std::string> lines = absl::StrSplit(EhloReplyText(options, tls_active), '\n');
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

TEST(EhloReplyTest, NameFirstThenOneKeywordALine) {
  EXPECT_EQ(EhloReplyText(Options(), /*tls_active=*/false),
            "mx.test\nPIPELINING\nSIZE 1000\nENHANCEDSTATUSCODES\n8BITMIME\nDSN\nSMTPUTF8\n"
            "CHUNKING");
}

TEST(EhloReplyTest, SizeWithoutALimitHasNoValue) {
  ServerOptions options = Options();
  options.max_message_size = 0;
  EXPECT_TRUE(Announces(options, false, "SIZE"));
}

TEST(EhloReplyTest, StartTlsOnlyBeforeTls) {
  ServerOptions options = Options();
  EXPECT_FALSE(Announces(options, false, "STARTTLS"));
  options.offer_starttls = true;
  EXPECT_TRUE(Announces(options, false, "STARTTLS"));
  EXPECT_FALSE(Announces(options, true, "STARTTLS"));
}

TEST(EhloReplyTest, AuthOnlyWhereTheClientMayUseIt) {
  ServerOptions options = Options();
  EXPECT_FALSE(Announces(options, true, "AUTH PLAIN LOGIN"));
  options.allow_auth = true;
  EXPECT_FALSE(Announces(options, false, "AUTH PLAIN LOGIN"));
  EXPECT_TRUE(Announces(options, true, "AUTH PLAIN LOGIN"));
  options.require_tls_for_auth = false;
  EXPECT_TRUE(Announces(options, false, "AUTH PLAIN LOGIN"));
}

}  // namespace
}  // namespace sluice::smtp
