#include "mime/header_writer.h"

#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace sluice::mime {
namespace {

void ExpectFolded(const std::string& header) {
  ASSERT_GE(header.size(), 2u);
  EXPECT_EQ(header.substr(header.size() - 2), "\r\n");
  std::vector<std::string> lines = absl::StrSplit(header.substr(0, header.size() - 2), "\r\n");
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_LE(lines[i].size(), kHeaderLineLength) << lines[i];
    if (i > 0) {
      EXPECT_EQ(lines[i][0], ' ') << "continuation must start with a space";
    }
    EXPECT_EQ(lines[i].find('\n'), std::string::npos);
  }
}

TEST(HeaderWriterTest, WritesShortAsciiAsIs) {
  std::string out;
  HeaderWriter(&out).AddUnstructured("Subject", "Hello world");
  EXPECT_EQ(out, "Subject: Hello world\r\n");
}

TEST(HeaderWriterTest, FoldsLongAsciiAtSpacesWithin78) {
  std::string out;
  std::string value;
  for (int i = 0; i < 40; ++i) value += "word" + std::to_string(i) + " ";
  value.pop_back();
  HeaderWriter(&out).AddUnstructured("Subject", value);
  ExpectFolded(out);
  // Unfolding (removing CRLF) gives the value back.
  std::string unfolded = absl::StrReplaceAll(out, {{"\r\n ", " "}});
  EXPECT_EQ(unfolded, "Subject: " + value + "\r\n");
}

TEST(HeaderWriterTest, EncodesNonAsciiAndFolds) {
  std::string out;
  std::string value;
  for (int i = 0; i < 20; ++i) value += "Grüße ";
  HeaderWriter(&out).AddUnstructured("Subject", value);
  ExpectFolded(out);
  EXPECT_NE(out.find("=?utf-8?"), std::string::npos);
  EXPECT_EQ(out.find("ü"), std::string::npos);
}

TEST(HeaderWriterTest, WritesMailboxesWithQuotingAndEncoding) {
  std::string out;
  const std::vector<Mailbox> to = {
      {"Ada Lovelace", "ada", "example.com"},
      {"Lovelace, Ada \"The\"", "ada2", "example.com"},
      {"", "bare", "example.com"},
      {"Zoë", "zoe", "example.com"},
  };
  HeaderWriter(&out).AddMailboxes("To", to);
  EXPECT_EQ(out,
            "To: Ada Lovelace <ada@example.com>, \"Lovelace, Ada \\\"The\\\"\"\r\n"
            " <ada2@example.com>, bare@example.com, =?utf-8?Q?Zo=C3=AB?= <zoe@example.com>\r\n");
  ExpectFolded(out);
}

TEST(HeaderWriterTest, KeepsOverlongTokenWhole) {
  std::string out;
  const std::string id = "<" + std::string(90, 'a') + "@example.org>";
  HeaderWriter(&out).AddTokens("Message-ID", {id});
  EXPECT_EQ(out, "Message-ID: " + id + "\r\n");
}

TEST(HeaderWriterTest, EmptyUnstructuredValue) {
  std::string out;
  HeaderWriter(&out).AddUnstructured("Subject", "");
  EXPECT_EQ(out, "Subject:\r\n");
}

}  // namespace
}  // namespace sluice::mime
