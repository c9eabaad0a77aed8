#include "mime/base64.h"

#include <string>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace sluice::mime {
namespace {

TEST(Base64Test, EncodesRfc4648Vectors) {
  EXPECT_EQ(Base64Encode("", 0), "");
  EXPECT_EQ(Base64Encode("f", 0), "Zg==");
  EXPECT_EQ(Base64Encode("fo", 0), "Zm8=");
  EXPECT_EQ(Base64Encode("foo", 0), "Zm9v");
  EXPECT_EQ(Base64Encode("foob", 0), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba", 0), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar", 0), "Zm9vYmFy");
}

TEST(Base64Test, WrapsAt76CharactersWithCrlf) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7));
  const std::string encoded = Base64Encode(data);
  ASSERT_EQ(encoded.substr(encoded.size() - 2), "\r\n");
  std::vector<std::string> lines = absl::StrSplit(encoded, "\r\n");
  lines.pop_back();  // after the final CRLF
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i + 1 < lines.size()) {
      EXPECT_EQ(lines[i].size(), 76u) << i;
    } else {
      EXPECT_LE(lines[i].size(), 76u);
    }
    EXPECT_EQ(lines[i].find('\n'), std::string::npos);
  }
  EXPECT_EQ(*Base64Decode(encoded), data);
}

TEST(Base64Test, ExactMultipleOfLineEndsWithOneCrlf) {
  const std::string data(57, 'x');  // 57 bytes -> exactly 76 characters
  EXPECT_EQ(Base64Encode(data).size(), 78u);
}

TEST(Base64Test, DecodesWithWhitespaceAndWithoutPadding) {
  EXPECT_EQ(*Base64Decode("Zm9v\r\nYmFy"), "foobar");
  EXPECT_EQ(*Base64Decode(" Zm9vYg== "), "foob");
  EXPECT_EQ(*Base64Decode("Zm9vYg"), "foob");
  EXPECT_EQ(*Base64Decode("Zm9vYmE"), "fooba");
  EXPECT_EQ(*Base64Decode(""), "");
}

TEST(Base64Test, RoundTripsEveryLength) {
  std::string data;
  for (int n = 0; n < 200; ++n) {
    EXPECT_EQ(*Base64Decode(Base64Encode(data)), data) << n;
    data.push_back(static_cast<char>(255 - n));
  }
}

TEST(Base64Test, RefusesMalformedInputNamingTheOffset) {
  auto bad = Base64Decode("Zm9v!mFy");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "invalid base64: invalid character at offset 4");
  EXPECT_FALSE(Base64Decode("Z").ok());       // truncated quantum
  EXPECT_FALSE(Base64Decode("Zm9=v").ok());   // data after padding
  EXPECT_FALSE(Base64Decode("=Zm9").ok());    // misplaced padding
  EXPECT_FALSE(Base64Decode("Zg===").ok());   // too much padding
  EXPECT_FALSE(Base64Decode("Zm9vY=").ok());  // incomplete padding
  EXPECT_FALSE(Base64Decode("Zh==").ok());    // non-zero trailing bits
  EXPECT_FALSE(Base64Decode("Zm9vYg==Zg==").ok());
}

}  // namespace
}  // namespace sluice::mime
