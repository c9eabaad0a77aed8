#include "mime/quoted_printable.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace sluice::mime {
namespace {

// A strict decoder for checking round trips.
std::string Decode(const std::string& encoded) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '=') {
      if (encoded.compare(i + 1, 2, "\r\n") == 0) {
        i += 2;
        continue;
      }
      out.push_back(static_cast<char>(std::stoi(encoded.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(encoded[i]);
    }
  }
  return out;
}

std::vector<std::string> Lines(const std::string& encoded) {
  std::vector<std::string> lines = absl::StrSplit(encoded, "\r\n");
  return lines;
}

TEST(QuotedPrintableTest, EncodesEqualsAndNonAscii) {
  EXPECT_EQ(QuotedPrintableEncode("a=b"), "a=3Db\r\n");
  EXPECT_EQ(QuotedPrintableEncode("Grüße"), "Gr=C3=BC=C3=9Fe\r\n");
  EXPECT_EQ(QuotedPrintableEncode(""), "");
}

TEST(QuotedPrintableTest, EncodesWhitespaceAtLineEnd) {
  EXPECT_EQ(QuotedPrintableEncode("a \nb\t"), "a=20\r\nb=09\r\n");
  EXPECT_EQ(QuotedPrintableEncode("a b"), "a b\r\n");
}

TEST(QuotedPrintableTest, TurnsEveryLineBreakIntoCrlf) {
  EXPECT_EQ(QuotedPrintableEncode("a\nb\r\nc\rd\n"), "a\r\nb\r\nc\r\nd\r\n");
}

TEST(QuotedPrintableTest, SoftBreaksKeepLinesWithin76AndNeverSplitEscapes) {
  for (const std::string& text :
       {std::string(500, 'x'), std::string(300, ' ') + "y", std::string(777, '=')}) {
    const std::string encoded = QuotedPrintableEncode(text);
    for (const std::string& line : Lines(encoded)) {
      EXPECT_LE(line.size(), 76u) << line;
      // An escape is whole: no line ends with "=X" or a lone "=" that is
      // not the soft break.
      if (line.size() >= 2) {
        EXPECT_NE(line[line.size() - 2], '=') << line;
      }
      if (!line.empty()) {
        EXPECT_NE(line.back(), ' ');
      }
    }
    EXPECT_EQ(Decode(encoded), text + "\r\n");
  }
  std::string utf8;
  for (int i = 0; i < 100; ++i) utf8 += "äöü€ ";
  utf8 += "end";
  const std::string encoded = QuotedPrintableEncode(utf8);
  for (const std::string& line : Lines(encoded)) EXPECT_LE(line.size(), 76u);
  EXPECT_EQ(Decode(encoded), utf8 + "\r\n");
}

TEST(QuotedPrintableTest, DecidesSevenBit) {
  EXPECT_TRUE(IsSevenBitText("Hello\nWorld\n"));
  EXPECT_FALSE(IsSevenBitText("Grüße"));
  EXPECT_FALSE(IsSevenBitText(std::string(79, 'a')));
  EXPECT_TRUE(IsSevenBitText(std::string(78, 'a')));
  EXPECT_FALSE(IsSevenBitText("trailing \nspace"));
  EXPECT_FALSE(IsSevenBitText(std::string("nul\0", 4)));
}

TEST(QuotedPrintableTest, NormalizesLineEndings) {
  EXPECT_EQ(NormalizeLineEndings("a\nb\rc\r\nd"), "a\r\nb\r\nc\r\nd\r\n");
  EXPECT_EQ(NormalizeLineEndings(""), "");
}

}  // namespace
}  // namespace sluice::mime
