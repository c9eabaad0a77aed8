// HealthServer: the HTTP listener of one shard, serving GET /healthz and
// GET /metrics.
//
// The daemon's HTTP port until the injection and admin API arrive: it
// answers /healthz with 200 while the shard runs and 503 once it is
// stopping, 404 for other paths and 405 for other methods, with keep-alive
// and pipelining handled by Http1Session. A client that sends nothing for
// idle_timeout is disconnected. Satisfies Sharded<T>'s Stop contract; used
// only on its shard.
#pragma once

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/http1_session.h"
#include "common/metrics.h"
#include "engine/reactor.h"
#include "engine/tcp_connection.h"
#include "engine/tcp_listener.h"

namespace sluice::api {

class HealthServer final : public engine::TcpConnection::Handler {
 public:
  struct Options {
    HttpLimits limits;
    absl::Duration idle_timeout = absl::Seconds(60);
    // Served as GET /metrics (Prometheus text format) when set.
    const common::MetricsRegistry* metrics = nullptr;
  };

  static absl::StatusOr<std::unique_ptr<HealthServer>> Create(engine::Reactor& reactor,
                                                              int listen_fd,
                                                              const Options& options);
  ~HealthServer() override;

  void Stop(absl::AnyInvocable<void()> done);

  void OnData(engine::TcpConnection& conn, absl::string_view data) override;
  void OnClosed(engine::TcpConnection& conn, const absl::Status& reason) override;

 private:
  struct Client {
    explicit Client(const HttpLimits& limits) : session(limits) {}
    Http1Session session;
    engine::TimerId idle_timer;
  };

  HealthServer(engine::Reactor& reactor, const Options& options);
  void Accept(engine::TcpConnection* conn);
  void ArmIdleTimer(engine::TcpConnection* conn, Client& client);
  std::string Answer(const HttpRequest& request, bool keep_alive) const;
  void MaybeFinishStop();

  engine::Reactor& reactor_;
  const Options options_;
  engine::TcpListener* listener_ = nullptr;
  absl::flat_hash_map<engine::TcpConnection*, std::unique_ptr<Client>> clients_;
  bool stopping_ = false;
  absl::AnyInvocable<void()> stop_done_;
};

}  // namespace sluice::api
