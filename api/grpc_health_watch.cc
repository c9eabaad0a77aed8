#include "api/grpc_health_watch.h"

#include <utility>
#include <vector>

#include "api/grpc_injection.h"
#include "api/proto/grpc/health/v1/health.pb.h"
#include "grpc/grpc_wire.h"

namespace sluice::api {
namespace {

using Response = ::grpc::health::v1::HealthCheckResponse;

}  // namespace

bool GrpcHealthWatch::Known(std::string_view service) {
  return service.empty() || service == "sluice.v1.Injection" || service == "sluice.v1.Admin";
}

std::shared_ptr<GrpcHealthWatch> GrpcHealthWatch::Start(HttpStreamWriter writer,
                                                        reactor::Reactor& reactor, Probe probe,
                                                        absl::Duration every) {
  std::shared_ptr<GrpcHealthWatch> watch(
      new GrpcHealthWatch(writer, reactor, std::move(probe), every));
  watch->writer_.Start(200, "application/grpc");
  return watch;
}

GrpcHealthWatch::GrpcHealthWatch(HttpStreamWriter writer, reactor::Reactor& reactor, Probe probe,
                                 absl::Duration every)
    : writer_(writer),
      reactor_(reactor),
      probe_(std::move(probe)),
      every_(every),
      reader_(64 << 10) {}

void GrpcHealthWatch::OnData(std::string_view bytes) {
  writer_.Consume(bytes.size());
  if (finished_ || watching_) return;
  std::vector<grpc::Message> messages;
  if (absl::Status status = reader_.Feed(bytes, &messages); !status.ok()) {
    End(GrpcStatusResponse(status).trailers);
    return;
  }
  if (messages.empty()) return;
  ::grpc::health::v1::HealthCheckRequest request;
  if (messages[0].compressed || !request.ParseFromString(messages[0].payload)) {
    End(GrpcStatusResponse(
            absl::InvalidArgumentError("body: not a grpc.health.v1.HealthCheckRequest"))
            .trailers);
    return;
  }
  watching_ = true;
  if (!Known(request.service())) {
    Send(Response::SERVICE_UNKNOWN);  // and it stays so
    return;
  }
  Check();
}

void GrpcHealthWatch::Check() {
  probe_([self = shared_from_this()](bool serving) {
    if (self->finished_) return;
    self->Send(serving ? Response::SERVING : Response::NOT_SERVING);
    self->timer_ = self->reactor_.RunAfter(self->every_, [self] {
      self->timer_ = reactor::TimerId{};
      if (!self->finished_) self->Check();
    });
  });
}

void GrpcHealthWatch::Send(int status) {
  if (status == last_) return;
  last_ = status;
  Response response;
  response.set_status(static_cast<Response::ServingStatus>(status));
  writer_.Write(grpc::EncodeMessage(response.SerializeAsString()));
}

void GrpcHealthWatch::OnStop() {
  End(GrpcStatusResponse(absl::UnavailableError("sluiced is stopping")).trailers);
}

void GrpcHealthWatch::End(const HttpHeaders& trailers) {
  if (finished_) return;
  finished_ = true;
  reactor_.CancelTimer(timer_);
  writer_.Finish(trailers);
}

}  // namespace sluice::api
