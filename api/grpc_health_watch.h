// GrpcHealthWatch: one grpc.health.v1.Health/Watch call, the handler of its
// HTTP/2 stream (api/http_stream.h). After the request names the service,
// it sends the service's status at once (SERVICE_UNKNOWN for a service not
// served here), then again each time it changes, probing every `every`
// (the same probe as Check and /readyz), until the client cancels or
// sluiced stops (UNAVAILABLE, which tells the client to look elsewhere).
//
// Used only on its shard.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "api/http_stream.h"
#include "grpc/message_reader.h"
#include "reactor/reactor.h"

namespace sluice::api {

inline constexpr std::string_view kGrpcHealthWatchPath = "/grpc.health.v1.Health/Watch";

class GrpcHealthWatch final : public HttpStreamHandler,
                              public std::enable_shared_from_this<GrpcHealthWatch> {
 public:
  // Answers whether sluiced is serving, now or later.
  using Probe = std::function<void(absl::AnyInvocable<void(bool serving)> done)>;
  // True for the services Check and Watch know ("" is the whole server).
  static bool Known(std::string_view service);

  static std::shared_ptr<GrpcHealthWatch> Start(HttpStreamWriter writer, reactor::Reactor& reactor,
                                                Probe probe, absl::Duration every);

  void OnData(std::string_view bytes) override;
  void OnEnd() override {}  // the client's one request is all it sends
  void OnCancel() override { End({}); }
  void OnProgress() override {}
  void OnStop() override;

 private:
  GrpcHealthWatch(HttpStreamWriter writer, reactor::Reactor& reactor, Probe probe,
                  absl::Duration every);
  void Check();
  void Send(int status);
  void End(const HttpHeaders& trailers);

  HttpStreamWriter writer_;
  reactor::Reactor& reactor_;
  const Probe probe_;
  const absl::Duration every_;
  grpc::MessageReader reader_;
  bool watching_ = false;
  bool finished_ = false;
  int last_ = -1;  // the status sent last
  reactor::TimerId timer_;
};

}  // namespace sluice::api
