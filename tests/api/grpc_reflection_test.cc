// GrpcReflection with a recording stream sink: the answers to each kind of
// request, files sent once per stream with what they import, errors as
// error_response, a broken frame, and answers a client does not read
// holding back further requests.
#include "api/grpc_reflection.h"

#include <memory>
#include <string>
#include <vector>

#include "api/proto/grpc/reflection/v1alpha/reflection.pb.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/grpc_wire.h"
#include "gtest/gtest.h"
#include "tests/api/recording_stream_sink.h"

namespace sluice::api {
namespace {

namespace reflection = ::grpc::reflection::v1alpha;

using Sink = testing::RecordingStreamSink<reflection::ServerReflectionResponse>;

std::string Ask(const reflection::ServerReflectionRequest& request) {
  return grpc::EncodeMessage(request.SerializeAsString());
}

std::string Symbol(const std::string& name) {
  reflection::ServerReflectionRequest request;
  request.set_host("h");
  request.set_file_containing_symbol(name);
  return Ask(request);
}

std::vector<std::string> FileNames(const reflection::ServerReflectionResponse& response) {
  std::vector<std::string> names;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    EXPECT_TRUE(file.ParseFromString(bytes));
    names.push_back(file.name());
  }
  return names;
}

TEST(GrpcReflectionTest, ListsServicesAndSendsEachFileOnce) {
  Sink sink;
  auto stream = GrpcReflection::Start(HttpStreamWriter(&sink, 1));
  reflection::ServerReflectionRequest list;
  list.set_list_services("*");
  stream->OnData(Ask(list) + Symbol("sluice.v1.Injection") + Symbol("sluice.v1.InjectRequest") +
                 Symbol("sluice.v1.Admin.Retry"));
  stream->OnEnd();
  ASSERT_EQ(sink.answers.size(), 4u);
  std::vector<std::string> services;
  for (const auto& s : sink.answers[0].list_services_response().service()) {
    services.push_back(s.name());
  }
  EXPECT_EQ(services.size(), 5u);
  EXPECT_EQ(services[0], "sluice.v1.Injection");
  EXPECT_EQ(sink.answers[1].valid_host(), "h");
  EXPECT_EQ(sink.answers[1].original_request().file_containing_symbol(), "sluice.v1.Injection");
  const std::vector<std::string> injection = FileNames(sink.answers[1]);
  ASSERT_EQ(injection.size(), 1u);
  EXPECT_NE(injection[0].find("sluice/v1/injection.proto"), std::string::npos);
  // Asked again (another symbol of the same file): the file is sent again.
  EXPECT_EQ(FileNames(sink.answers[2]), injection);
  const std::vector<std::string> admin = FileNames(sink.answers[3]);
  ASSERT_EQ(admin.size(), 1u);
  EXPECT_NE(admin[0].find("sluice/v1/admin.proto"), std::string::npos);
  EXPECT_EQ(sink.status, 0);
}

TEST(GrpcReflectionTest, UnknownNamesAndExtensionsAreErrorResponses) {
  Sink sink;
  auto stream = GrpcReflection::Start(HttpStreamWriter(&sink, 1));
  reflection::ServerReflectionRequest by_name;
  by_name.set_file_by_filename("nope.proto");
  reflection::ServerReflectionRequest numbers;
  numbers.set_all_extension_numbers_of_type("sluice.v1.InjectRequest");
  stream->OnData(Symbol("no.such.Service") + Ask(by_name) + Ask(numbers) +
                 grpc::EncodeMessage("\xff\xff"));
  ASSERT_EQ(sink.answers.size(), 4u);
  EXPECT_EQ(sink.answers[0].error_response().error_code(),
            static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(sink.answers[1].error_response().error_code(),
            static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(sink.answers[2].all_extension_numbers_response().base_type_name(),
            "sluice.v1.InjectRequest");
  EXPECT_EQ(sink.answers[2].all_extension_numbers_response().extension_number_size(), 0);
  EXPECT_EQ(sink.answers[3].error_response().error_code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(sink.status, -1);  // the stream goes on
  stream->OnData(
      std::string("\0\0\0\0\x09"
                  "cut",
                  8));
  stream->OnEnd();
  EXPECT_EQ(sink.status, static_cast<int>(absl::StatusCode::kInternal));
}

TEST(GrpcReflectionTest, AnswersTheClientDoesNotReadHoldBackTheRest) {
  Sink sink;
  sink.client_reads = false;
  auto stream = GrpcReflection::Start(HttpStreamWriter(&sink, 1));
  std::string bytes;
  for (int i = 0; i < 200; ++i) bytes += Symbol("sluice.v1.Admin");
  stream->OnData(bytes);
  const size_t answered = sink.answers.size();
  EXPECT_LT(answered, 200u);
  EXPECT_EQ(sink.consumed, 0u);
  sink.unsent = 0;
  stream->OnProgress();
  EXPECT_GT(sink.answers.size(), answered);
  sink.client_reads = true;
  sink.unsent = 0;
  stream->OnProgress();
  EXPECT_EQ(sink.answers.size(), 200u);
  EXPECT_EQ(sink.consumed, bytes.size());
}

}  // namespace
}  // namespace sluice::api
