// GrpcHealthWatch on a real reactor with a scripted probe: the status at
// once, then only its changes, SERVICE_UNKNOWN for a service not served,
// and no more probing after a cancel.
#include "api/grpc_health_watch.h"

#include <memory>
#include <string>
#include <vector>

#include "api/proto/grpc/health/v1/health.pb.h"
#include "grpc/grpc_wire.h"
#include "gtest/gtest.h"

namespace sluice::api {
namespace {

using Response = ::grpc::health::v1::HealthCheckResponse;

class Sink final : public HttpStreamSink {
 public:
  void StartStream(uint64_t, int, std::string_view, const HttpHeaders&) override {}
  void WriteStream(uint64_t, std::string_view bytes) override {
    std::vector<grpc::Message> messages;
    ASSERT_TRUE(reader.Feed(bytes, &messages).ok());
    for (const grpc::Message& message : messages) {
      Response response;
      ASSERT_TRUE(response.ParseFromString(message.payload));
      statuses.push_back(response.status());
    }
  }
  void FinishStream(uint64_t, const HttpHeaders&) override { ++finishes; }
  void ConsumeStream(uint64_t, size_t) override {}
  size_t UnsentStreamBytes(uint64_t) const override { return 0; }

  grpc::MessageReader reader{1 << 16};
  std::vector<int> statuses;
  int finishes = 0;
};

std::unique_ptr<reactor::Reactor> MakeReactor() {
  reactor::ReactorOptions options;
  options.ring_entries = 64;
  options.recv_buffer_count = 8;
  options.recv_buffer_size = 4096;
  return reactor::Reactor::Create(options).value();
}

std::string Watch(const std::string& service) {
  ::grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  return grpc::EncodeMessage(request.SerializeAsString());
}

TEST(GrpcHealthWatchTest, SendsTheStatusThenOnlyItsChanges) {
  auto reactor = MakeReactor();
  Sink sink;
  const std::vector<bool> script = {true, true, false, false, true};
  size_t probes = 0;
  std::shared_ptr<GrpcHealthWatch> watch;
  watch = GrpcHealthWatch::Start(
      HttpStreamWriter(&sink, 1), *reactor,
      [&](absl::AnyInvocable<void(bool)> done) {
        const bool serving = script[probes++];
        done(serving);
        if (probes == script.size()) {
          watch->OnCancel();
          reactor->RequestStop();
        }
      },
      absl::Milliseconds(1));
  watch->OnData(Watch("sluice.v1.Injection"));
  reactor->Run();
  EXPECT_EQ(probes, script.size());  // none after the cancel
  EXPECT_EQ(sink.statuses,
            (std::vector<int>{Response::SERVING, Response::NOT_SERVING, Response::SERVING}));
  EXPECT_EQ(sink.finishes, 1);
}

TEST(GrpcHealthWatchTest, AServiceNotServedIsServiceUnknownWithoutProbing) {
  auto reactor = MakeReactor();
  Sink sink;
  int probes = 0;
  auto watch = GrpcHealthWatch::Start(
      HttpStreamWriter(&sink, 1), *reactor,
      [&](absl::AnyInvocable<void(bool)> done) {
        ++probes;
        done(true);
      },
      absl::Milliseconds(1));
  watch->OnData(Watch("other.Service"));
  EXPECT_EQ(sink.statuses, std::vector<int>{Response::SERVICE_UNKNOWN});
  EXPECT_EQ(probes, 0);
  watch->OnStop();
  EXPECT_EQ(sink.finishes, 1);
}

}  // namespace
}  // namespace sluice::api
