#include "smtp/reply.h"

#include <gtest/gtest.h>

namespace sluice::smtp {
namespace {

TEST(ReplyTest, SingleLineWithEnhancedCode) {
  std::string out;
  AppendReply(&out, 250, "2.1.0", "Ok");
  EXPECT_EQ(out, "250 2.1.0 Ok\r\n");
}

TEST(ReplyTest, MultiLineUsesHyphenOnAllButTheLast) {
  std::string out;
  AppendReply(&out, 250, "", "mx.example\nPIPELINING\nCHUNKING");
  EXPECT_EQ(out, "250-mx.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
  out.clear();
  AppendReply(&out, 550, "5.7.1", "line one\nline two");
  EXPECT_EQ(out, "550-5.7.1 line one\r\n550 5.7.1 line two\r\n");
}

TEST(ReplyTest, EmptyTextAndNoInjection) {
  std::string out;
  AppendReply(&out, 334, "", "");
  EXPECT_EQ(out, "334 \r\n");
  out.clear();
  AppendReply(&out, 550, "5.0.0", std::string("a\rb\0c", 5));
  EXPECT_EQ(out, "550 5.0.0 a b c\r\n");
}

}  // namespace
}  // namespace sluice::smtp
