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
#include "tests/api/recording_stream_sink.h"

namespace sluice::api {
namespace {

using Response = ::grpc::health::v1::HealthCheckResponse;

using Sink = testing::RecordingStreamSink<Response>;

std::vector<int> Statuses(const Sink& sink) {
  std::vector<int> statuses;
  for (const Response& r : sink.answers) statuses.push_back(r.status());
  return statuses;
}

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
  EXPECT_EQ(Statuses(sink),
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
  EXPECT_EQ(Statuses(sink), std::vector<int>{Response::SERVICE_UNKNOWN});
  EXPECT_EQ(probes, 0);
  watch->OnStop();
  EXPECT_EQ(sink.finishes, 1);
}

}  // namespace
}  // namespace sluice::api
