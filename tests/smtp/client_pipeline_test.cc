#include "smtp/client_pipeline.h"

#include <gtest/gtest.h>

namespace sluice::smtp {
namespace {

using Expect = ClientPipeline::Expect;

TEST(ClientPipelineTest, RepliesAreOwedInTheOrderCommandsWent) {
  ClientPipeline pipeline;
  EXPECT_FALSE(pipeline.waiting());
  EXPECT_EQ(pipeline.wait(), ClientWait::kNone);
  pipeline.Send("MAIL FROM:<a@b.test>", Expect::kMail);
  pipeline.Send("RCPT TO:<c@d.test>", Expect::kRcpt, 0);
  pipeline.Send("RCPT TO:<e@d.test>", Expect::kRcpt, 1);
  pipeline.Send("DATA", Expect::kData);
  EXPECT_EQ(pipeline.output(),
            "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@d.test>\r\nDATA\r\n");
  EXPECT_EQ(pipeline.wait(), ClientWait::kMail);
  EXPECT_EQ(pipeline.Pop().expect, Expect::kMail);
  EXPECT_EQ(pipeline.wait(), ClientWait::kRcpt);
  EXPECT_EQ(pipeline.Pop().index, 0u);
  EXPECT_EQ(pipeline.Pop().index, 1u);
  EXPECT_EQ(pipeline.wait(), ClientWait::kDataInitiation);
  pipeline.Forget();
  EXPECT_FALSE(pipeline.waiting());
}

TEST(ClientPipelineTest, AwaitOwesAReplyWithoutWriting) {
  ClientPipeline pipeline;
  pipeline.Await(Expect::kGreeting);
  EXPECT_TRUE(pipeline.waiting());
  EXPECT_EQ(pipeline.wait(), ClientWait::kGreeting);
  EXPECT_EQ(pipeline.output(), "");
  pipeline.Write("QUIT\r\n");
  EXPECT_EQ(pipeline.Pop().expect, Expect::kGreeting);
  EXPECT_FALSE(pipeline.waiting());
  EXPECT_EQ(pipeline.output(), "QUIT\r\n");
}

TEST(ClientPipelineTest, TracksMessageDataUntilTaken) {
  ClientPipeline pipeline;
  pipeline.Send("BDAT 3 LAST", Expect::kBdatLast);
  EXPECT_FALSE(pipeline.has_data());
  pipeline.WriteData("abc");
  EXPECT_TRUE(pipeline.has_data());
  EXPECT_EQ(pipeline.wait(), ClientWait::kDataTermination);
  EXPECT_EQ(pipeline.TakeOutput(), "BDAT 3 LAST\r\nabc");
  EXPECT_FALSE(pipeline.has_data());
  EXPECT_EQ(pipeline.output(), "");
  pipeline.WriteDotStuffed(".x\r\n");
  EXPECT_TRUE(pipeline.has_data());
  EXPECT_EQ(pipeline.TakeOutput(), "..x\r\n.\r\n");
}

}  // namespace
}  // namespace sluice::smtp
