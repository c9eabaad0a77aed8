// GrpcInjectStream with a recording stream sink and an injector whose
// answers the test gives: order of answers, errors per request, the bound
// on requests in flight and on unread answers (by what it consumes), and
// how cancellation, a stop and broken framing end the stream.
#include "api/grpc_inject_stream.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/grpc_injection.h"
#include "api/proto/sluice/v1/injection.pb.h"
#include "grpc/grpc_wire.h"
#include "grpc/gzip.h"
#include "gtest/gtest.h"
#include "tests/api/recording_stream_sink.h"

namespace sluice::api {
namespace {

using RecordingSink = testing::RecordingStreamSink<sluice::v1::InjectResponse>;

// Holds every injection until the test answers it.
struct PendingInjections {
  struct Call {
    std::string json;
    InjectionFormat format;
    HttpReply reply;
  };
  std::vector<Call> calls;

  GrpcInjectStream::Inject Injector() {
    return [this](std::string json, InjectionFormat format, HttpReply reply) {
      calls.push_back({std::move(json), std::move(format), std::move(reply)});
    };
  }
  // Answers call `i` as an injection whose one message was stored.
  void Accept(size_t i) {
    PreparedInjection prepared;
    prepared.messages.emplace_back();
    prepared.accepted.push_back(
        {.index = 0, .email = "a@example.com", .message_id = absl::StrCat("m", i), .message = 0});
    calls[i].reply(calls[i].format.accepted(prepared, {absl::OkStatus()}));
  }
  void Refuse(size_t i, absl::Status status) {
    calls[i].reply(calls[i].format.error(status, false));
  }
};

std::string Request(const std::string& id, const std::string& from = "news@example.com") {
  sluice::v1::InjectRequest request;
  if (!from.empty()) request.mutable_from()->set_email(from);
  request.set_text("hello");
  request.add_recipients()->set_email("a@example.com");
  request.set_request_id(id);
  return grpc::EncodeMessage(request.SerializeAsString());
}

class GrpcInjectStreamTest : public ::testing::Test {
 protected:
  std::shared_ptr<GrpcInjectStream> Make(GrpcInjectStreamOptions options = {},
                                         std::string encoding = "") {
    return GrpcInjectStream::Start(HttpStreamWriter(&sink_, 1), std::move(encoding),
                                   injections_.Injector(), options);
  }

  RecordingSink sink_;
  PendingInjections injections_;
};

TEST_F(GrpcInjectStreamTest, AnswersComeInRequestOrderAndTheStreamEndsOk) {
  auto stream = Make();
  EXPECT_EQ(sink_.started_status, 200);
  EXPECT_EQ(sink_.content, "application/grpc");
  const std::string bytes = Request("r0") + Request("r1") + Request("r2");
  // Split anywhere: the framing holds.
  stream->OnData(std::string_view(bytes).substr(0, 7));
  stream->OnData(std::string_view(bytes).substr(7));
  ASSERT_EQ(injections_.calls.size(), 3u);
  EXPECT_NE(injections_.calls[0].json.find("\"recipients\""), std::string::npos);
  stream->OnEnd();
  injections_.Accept(2);  // the last is durable first
  EXPECT_TRUE(sink_.answers.empty());
  injections_.Accept(0);
  ASSERT_EQ(sink_.answers.size(), 1u);
  injections_.Accept(1);
  ASSERT_EQ(sink_.answers.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sink_.answers[i].request_id(), absl::StrCat("r", i));
    EXPECT_EQ(sink_.answers[i].error_code(), 0);
    ASSERT_EQ(sink_.answers[i].accepted_size(), 1);
  }
  EXPECT_EQ(sink_.finishes, 1);
  EXPECT_EQ(sink_.status, 0);
  EXPECT_EQ(sink_.consumed, bytes.size());
}

TEST_F(GrpcInjectStreamTest, ARequestThatStoresNothingGetsItsErrorAndTheStreamGoesOn) {
  auto stream = Make();
  stream->OnData(Request("good") + grpc::EncodeMessage("\xff\xff not protobuf") +
                 Request("no-sender", "") + Request("busy"));
  // The unparsable one is answered at once; the others go to the injector.
  ASSERT_EQ(injections_.calls.size(), 3u);
  injections_.Accept(0);
  injections_.Refuse(1, absl::InvalidArgumentError("from: required"));
  injections_.Refuse(2, absl::UnavailableError("spool: cannot write"));
  stream->OnEnd();
  ASSERT_EQ(sink_.answers.size(), 4u);
  EXPECT_EQ(sink_.answers[0].accepted_size(), 1);
  EXPECT_EQ(sink_.answers[1].error_code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(sink_.answers[1].error_message(), "body: not a sluice.v1.InjectRequest");
  EXPECT_EQ(sink_.answers[2].request_id(), "no-sender");
  EXPECT_EQ(sink_.answers[2].error_message(), "from: required");
  EXPECT_EQ(sink_.answers[3].error_code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(sink_.status, 0);
}

TEST_F(GrpcInjectStreamTest, NoMoreThanMaxInFlightAndTheirBytesAreHeldBack) {
  auto stream = Make({.max_in_flight = 2});
  std::string bytes;
  for (int i = 0; i < 5; ++i) bytes += Request(absl::StrCat("r", i));
  stream->OnData(bytes);
  EXPECT_EQ(injections_.calls.size(), 2u);
  EXPECT_EQ(sink_.consumed, 0u);  // the client may not send more yet
  injections_.Accept(0);
  EXPECT_EQ(injections_.calls.size(), 3u);
  EXPECT_EQ(sink_.consumed, 0u);  // two waiting still
  injections_.Accept(1);
  injections_.Accept(2);
  EXPECT_EQ(injections_.calls.size(), 5u);
  EXPECT_EQ(stream->in_flight(), 2u);
  EXPECT_EQ(sink_.consumed, 0u);  // none waiting, but no room either
  injections_.Accept(3);
  EXPECT_EQ(sink_.consumed, bytes.size());  // room again: all of it consumed
}

TEST_F(GrpcInjectStreamTest, AClientThatDoesNotReadItsAnswersStopsBeingRead) {
  sink_.client_reads = false;
  auto stream = Make({.max_in_flight = 4, .max_unsent_bytes = 0});
  std::string bytes;
  for (int i = 0; i < 6; ++i) bytes += Request(absl::StrCat("r", i));
  stream->OnData(bytes);
  ASSERT_EQ(injections_.calls.size(), 4u);
  for (size_t i = 0; i < 4; ++i) injections_.Accept(i);
  ASSERT_GT(sink_.unsent, 0u);  // answers wait for the client
  EXPECT_EQ(injections_.calls.size(), 4u);
  EXPECT_EQ(sink_.consumed, 0u);
  stream->OnProgress();  // still unread: nothing changes
  EXPECT_EQ(injections_.calls.size(), 4u);
  sink_.unsent = 0;  // the client read them
  stream->OnProgress();
  EXPECT_EQ(injections_.calls.size(), 6u);
  EXPECT_EQ(sink_.consumed, bytes.size());
}

TEST_F(GrpcInjectStreamTest, CancelTakesNothingMoreAndFinishesAfterTheInjectionsUnderWay) {
  auto stream = Make({.max_in_flight = 1});
  stream->OnData(Request("r0") + Request("r1"));
  ASSERT_EQ(injections_.calls.size(), 1u);
  stream->OnCancel();
  EXPECT_EQ(sink_.finishes, 0);  // r0 is still being injected
  stream->OnData(Request("r2"));
  injections_.Accept(0);
  EXPECT_EQ(injections_.calls.size(), 1u);  // r1 and r2 were never started
  EXPECT_TRUE(sink_.answers.empty());       // nobody to read them
  EXPECT_EQ(sink_.finishes, 1);
}

TEST_F(GrpcInjectStreamTest, StopAnswersWhatIsUnderWayThenEndsUnavailable) {
  auto stream = Make({.max_in_flight = 1});
  stream->OnData(Request("r0") + Request("r1"));
  stream->OnStop();
  EXPECT_EQ(sink_.finishes, 0);
  injections_.Accept(0);
  ASSERT_EQ(sink_.answers.size(), 1u);
  EXPECT_EQ(sink_.answers[0].request_id(), "r0");
  EXPECT_EQ(injections_.calls.size(), 1u);
  EXPECT_EQ(sink_.finishes, 1);
  EXPECT_EQ(sink_.status, static_cast<int>(absl::StatusCode::kUnavailable));
}

TEST_F(GrpcInjectStreamTest, OversizeMessageEndsTheStreamAfterTheAnswersBeforeIt) {
  auto stream = Make({.max_message_bytes = 1000});
  stream->OnData(Request("r0") + grpc::EncodeMessage(std::string(5000, 'x')));
  ASSERT_EQ(injections_.calls.size(), 1u);
  EXPECT_EQ(sink_.finishes, 0);
  injections_.Accept(0);
  ASSERT_EQ(sink_.answers.size(), 1u);
  EXPECT_EQ(sink_.finishes, 1);
  EXPECT_EQ(sink_.status, static_cast<int>(absl::StatusCode::kResourceExhausted));
}

TEST_F(GrpcInjectStreamTest, AMessageCutShortAtTheEndIsInternal) {
  auto stream = Make();
  stream->OnData(Request("r0").substr(0, 9));
  stream->OnEnd();
  EXPECT_EQ(sink_.finishes, 1);
  EXPECT_EQ(sink_.status, static_cast<int>(absl::StatusCode::kInternal));
}

TEST_F(GrpcInjectStreamTest, GzipMessagesAreInflatedAndUnknownEncodingsRefused) {
  auto gzip = Make({}, "gzip");
  sluice::v1::InjectRequest request;
  request.mutable_from()->set_email("news@example.com");
  request.add_recipients()->set_email("a@example.com");
  request.set_request_id("z");
  gzip->OnData(grpc::EncodeMessage(grpc::GzipCompress(request.SerializeAsString()), true));
  ASSERT_EQ(injections_.calls.size(), 1u);
  EXPECT_NE(injections_.calls[0].json.find("a@example.com"), std::string::npos);

  RecordingSink other;
  auto brotli =
      GrpcInjectStream::Start(HttpStreamWriter(&other, 2), "br", injections_.Injector(), {});
  brotli->OnData(grpc::EncodeMessage("x", true) + Request("after"));
  EXPECT_EQ(other.finishes, 1);
  EXPECT_EQ(other.status, static_cast<int>(absl::StatusCode::kUnimplemented));
  EXPECT_EQ(injections_.calls.size(), 1u);  // nothing after it was taken
}

TEST_F(GrpcInjectStreamTest, ManyBadRequestsInOneBufferDoNotRecurse) {
  auto stream = Make();
  std::string bytes;
  for (int i = 0; i < 200000; ++i) bytes += grpc::EncodeMessage("\xff");
  stream->OnData(bytes);
  stream->OnEnd();
  EXPECT_EQ(sink_.answers.size(), 200000u);
  EXPECT_EQ(sink_.status, 0);
}

}  // namespace
}  // namespace sluice::api
