#include "smtp/body_receiver.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace sluice::smtp {
namespace {

using Framing = DataReader::Framing;

constexpr char kReceived[] = "Received: from c\r\n";

DataReader::Limits Limits() {
  DataReader::Limits limits;
  limits.max_line_length = 20;
  limits.max_size = 30;
  return limits;
}

TEST(BodyReceiverTest, DataBodyFollowsTheReceivedHeader) {
  BodyReceiver body(Limits());
  body.Start(Framing::kDotStuffed, kReceived);
  const std::string input = "a\r\n..b\r\n.\r\nQUIT\r\n";
  EXPECT_EQ(body.ConsumeData(input), input.size() - 6);
  EXPECT_TRUE(body.data_done());
  EXPECT_FALSE(body.chunking());
  EXPECT_FALSE(body.refusal().has_value());
  EXPECT_EQ(body.size(), 7u);
  EXPECT_EQ(body.TakeBody(), std::string(kReceived) + "a\r\n.b\r\n");
}

TEST(BodyReceiverTest, RefusalsNameWhatIsWrong) {
  struct Case {
    std::string data;
    int code;
    std::string_view enhanced;
    std::string text;
  };
  const Case cases[] = {
      {"a\nb\r\n.\r\n", 550, "5.5.2",
       "Error: bare LF in message; lines must end with CRLF; message refused"},
      {"a\rb\r\n.\r\n", 550, "5.5.2",
       "Error: bare CR in message; lines must end with CRLF; message refused"},
      {std::string("a\0b\r\n.\r\n", 8), 550, "5.6.0",
       "Error: NUL octet in message; message refused"},
      {std::string(30, 'x') + "\r\n.\r\n", 550, "5.6.0",
       "Error: message line longer than 20 octets; message refused"},
      {"0123456789\r\n0123456789\r\n0123456789\r\n.\r\n", 552, "5.3.4",
       "Error: message size exceeds fixed maximum message size"},
  };
  for (const Case& c : cases) {
    BodyReceiver body(Limits());
    body.Start(Framing::kDotStuffed, kReceived);
    body.ConsumeData(c.data);
    ASSERT_TRUE(body.data_done()) << c.text;
    const std::optional<BodyReceiver::Refusal> refusal = body.refusal();
    ASSERT_TRUE(refusal.has_value()) << c.text;
    EXPECT_EQ(refusal->code, c.code);
    EXPECT_EQ(refusal->enhanced, c.enhanced);
    EXPECT_EQ(refusal->text, c.text);
  }
}

TEST(BodyReceiverTest, ChunksAddUpAndTheLastGetsItsLineEnd) {
  BodyReceiver body(Limits());
  body.Start(Framing::kChunked, kReceived);
  EXPECT_TRUE(body.chunking());
  body.StartChunk(5, /*last=*/false, /*discard=*/false);
  EXPECT_EQ(body.ConsumeChunk("ab"), 2u);
  EXPECT_FALSE(body.chunk_done());
  EXPECT_EQ(body.ConsumeChunk("c\r\nBDAT"), 3u);
  EXPECT_TRUE(body.chunk_done());
  EXPECT_FALSE(body.last_chunk());
  EXPECT_FALSE(body.EndChunk().has_value());
  body.StartChunk(1, /*last=*/true, /*discard=*/false);
  EXPECT_EQ(body.ConsumeChunk("d"), 1u);
  EXPECT_TRUE(body.last_chunk());
  EXPECT_FALSE(body.EndChunk().has_value());
  EXPECT_EQ(body.TakeBody(), std::string(kReceived) + "abc\r\nd\r\n");
}

TEST(BodyReceiverTest, DiscardedChunkIsConsumedButNotStored) {
  BodyReceiver body(Limits());
  body.StartChunk(4, /*last=*/false, /*discard=*/true);
  EXPECT_EQ(body.ConsumeChunk("abcdef"), 4u);
  EXPECT_TRUE(body.chunk_done());
  EXPECT_EQ(body.size(), 0u);
  EXPECT_FALSE(body.chunking());
}

TEST(BodyReceiverTest, RefusedChunkSticksToTheSequenceUntilReset) {
  BodyReceiver body(Limits());
  body.Start(Framing::kChunked, kReceived);
  body.StartChunk(4, false, false);
  body.ConsumeChunk("a\nb\n");
  ASSERT_TRUE(body.EndChunk().has_value());
  EXPECT_EQ(body.EndChunk()->code, 550);
  EXPECT_TRUE(body.failed());
  body.StartChunk(3, /*last=*/true, /*discard=*/true);
  body.ConsumeChunk("c\r\n");
  ASSERT_TRUE(body.EndChunk().has_value());
  EXPECT_EQ(body.EndChunk()->text,
            "Error: bare LF in message; lines must end with CRLF; message refused");
  body.Reset();
  EXPECT_FALSE(body.failed());
  EXPECT_FALSE(body.chunking());
  EXPECT_EQ(body.TakeBody(), "");
}

}  // namespace
}  // namespace sluice::smtp
