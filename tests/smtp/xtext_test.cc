#include "smtp/xtext.h"

#include <gtest/gtest.h>

namespace sluice::smtp {
namespace {

TEST(XtextTest, DecodesHexchars) {
  absl::StatusOr<std::string> decoded = DecodeXtext("a+2Bb+3Dc+20d");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, "a+b=c d");
}

TEST(XtextTest, RefusesMalformed) {
  EXPECT_FALSE(DecodeXtext("a+2").ok());
  EXPECT_FALSE(DecodeXtext("a+").ok());
  EXPECT_FALSE(DecodeXtext("a+2b").ok());  // lower-case hex
  EXPECT_FALSE(DecodeXtext("a=b").ok());
  EXPECT_FALSE(DecodeXtext("a b").ok());
  EXPECT_FALSE(DecodeXtext("a\x7f").ok());
}

TEST(XtextTest, RoundTrips) {
  const std::string text = std::string("x+y=z \x01\xff<>", 10);
  const std::string encoded = EncodeXtext(text);
  EXPECT_EQ(encoded, "x+2By+3Dz+20+01+FF<>");
  absl::StatusOr<std::string> decoded = DecodeXtext(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, text);
}

}  // namespace
}  // namespace sluice::smtp
