#include "mime/mime_entity.h"

#include <string>

#include "gtest/gtest.h"
#include "mime/quoted_printable.h"

namespace sluice::mime {
namespace {

TEST(MimeEntityTest, UnfoldsHeadersAndReadsTheContentType) {
  const MimeEntity e = ParseMime(
      "From mbox-line Tue\r\nSubject: a\r\n  long\r\n\tsubject\r\nContent-Type: "
      "Multipart/Mixed;\r\n"
      " boundary=\"b; q\"; charset=utf-8\r\n\r\n--b; q\r\n\r\none\r\n--b; q--\r\n");
  ASSERT_NE(e.Header("subject"), nullptr);
  EXPECT_EQ(*e.Header("SUBJECT"), "a long subject");
  EXPECT_EQ(e.type, "multipart");
  EXPECT_EQ(e.subtype, "mixed");
  EXPECT_EQ(e.Param("Boundary"), "b; q");
  EXPECT_EQ(e.Param("charset"), "utf-8");
  ASSERT_EQ(e.parts.size(), 1u);
  EXPECT_EQ(e.parts[0].body, "one");
  EXPECT_FALSE(e.truncated);
}

TEST(MimeEntityTest, SplitsNestedPartsAndEnclosedMessages) {
  const MimeEntity e = ParseMime(
      "Content-Type: multipart/report; boundary=outer\n\npreamble\n--outer\n"
      "Content-Type: text/plain\n\nhello\n--outer\nContent-Type: message/rfc822\n\n"
      "Message-ID: <m@x>\nContent-Type: multipart/alternative; boundary=inner\n\n"
      "--inner\n\na\n--inner\n\nb\n--inner--\n--outer--\nepilogue\n");
  ASSERT_EQ(e.parts.size(), 2u);
  EXPECT_EQ(e.parts[0].body, "hello");
  ASSERT_EQ(e.parts[1].parts.size(), 1u);
  const MimeEntity& enclosed = e.parts[1].parts[0];
  EXPECT_EQ(*enclosed.Header("Message-ID"), "<m@x>");
  ASSERT_EQ(enclosed.parts.size(), 2u);
  EXPECT_EQ(enclosed.parts[1].body, "b");
}

TEST(MimeEntityTest, AMissingClosingDelimiterKeepsTheLastPartAndSaysSo) {
  const MimeEntity e = ParseMime(
      "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nfirst\r\n--x\r\n"
      "Content-Type: text/plain\r\n\r\ncut off here");
  EXPECT_TRUE(e.truncated);
  ASSERT_EQ(e.parts.size(), 2u);
  EXPECT_EQ(e.parts[1].body, "cut off here\r\n");
}

TEST(MimeEntityTest, DecodesBase64AndQuotedPrintableAndKeepsWhatItCannot) {
  MimeEntity e = ParseMime("Content-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n");
  EXPECT_EQ(e.DecodedBody(), "hello\r\n");
  e = ParseMime("Content-Transfer-Encoding: base64\r\n\r\n!!not base64!!\r\n");
  EXPECT_EQ(e.DecodedBody(), "!!not base64!!\r\n");
  e = ParseMime("Content-Transfer-Encoding: Quoted-Printable\r\n\r\nGr=C3=BC=\r\n=DFe =ZZ=\r\n");
  EXPECT_EQ(e.DecodedBody(),
            "Grü\xdf"
            "e =ZZ");
  EXPECT_EQ(QuotedPrintableDecode("a=3Db=  \r\nc"), "a=bc");
}

TEST(MimeEntityTest, GarbageIsAPlainBody) {
  const MimeEntity e = ParseMime("no headers at all");
  EXPECT_TRUE(e.Is("text", "plain"));
  EXPECT_TRUE(e.parts.empty());
  EXPECT_TRUE(ParseMime("").headers.empty());
  const MimeEntity bad = ParseMime("Content-Type: /\r\n\r\nx\r\n");
  EXPECT_TRUE(bad.Is("text", "plain"));
}

}  // namespace
}  // namespace sluice::mime
