#include "api/http_target.h"

#include "api/http_json.h"
#include "gtest/gtest.h"

namespace sluice::api {
namespace {

TEST(HttpTargetTest, SplitsPathAndDecodesParameters) {
  auto target = HttpTarget::Parse("/api/v1/queues?domain=a%2Eexample&tenant=x+y&flag&&");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->path, "/api/v1/queues");
  ASSERT_EQ(target->params.size(), 3u);
  EXPECT_EQ(*target->Param("domain"), "a.example");
  EXPECT_EQ(*target->Param("tenant"), "x y");
  EXPECT_EQ(*target->Param("flag"), "");
  EXPECT_EQ(target->Param("site"), nullptr);
}

TEST(HttpTargetTest, RefusesBadTargets) {
  EXPECT_FALSE(HttpTarget::Parse("http://example.com/").ok());
  EXPECT_FALSE(HttpTarget::Parse("").ok());
  EXPECT_FALSE(HttpTarget::Parse("/a?x=%4").ok());
  EXPECT_FALSE(HttpTarget::Parse("/a?x=%zz").ok());
}

TEST(HttpJsonTest, EscapesAndRepairsUtf8) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(JsonString("bad\xff"), "\"bad\\ufffd\"");
  EXPECT_EQ(JsonString("\xe2\x82"), "\"\\ufffd\\ufffd\"");  // truncated sequence
}

TEST(HttpJsonTest, ErrorSplitsTheFieldFromTheProblem) {
  EXPECT_EQ(JsonError("recipients[3].email: must be a string"),
            "{\"error\":{\"field\":\"recipients[3].email\",\"message\":\"must be a string\"}}\n");
  EXPECT_EQ(JsonError("missing bearer token"),
            "{\"error\":{\"field\":\"\",\"message\":\"missing bearer token\"}}\n");
}

}  // namespace
}  // namespace sluice::api
