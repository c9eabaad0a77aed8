#include "api/health_server.h"

#include <utility>
#include <vector>

namespace sluice::api {

absl::StatusOr<std::unique_ptr<HealthServer>> HealthServer::Create(engine::Reactor& reactor,
                                                                   int listen_fd,
                                                                   const Options& options) {
  std::unique_ptr<HealthServer> server(new HealthServer(reactor, options));
  HealthServer* self = server.get();
  self->listener_ = engine::TcpListener::Start(
      reactor, listen_fd, [self](engine::TcpConnection* conn) { self->Accept(conn); });
  return server;
}

HealthServer::HealthServer(engine::Reactor& reactor, const Options& options)
    : reactor_(reactor), options_(options) {}

HealthServer::~HealthServer() {
  for (auto& [conn, client] : clients_) reactor_.CancelTimer(client->idle_timer);
}

void HealthServer::Accept(engine::TcpConnection* conn) {
  if (stopping_) {
    conn->Close();
    return;
  }
  auto client = std::make_unique<Client>(options_.limits);
  ArmIdleTimer(conn, *client);
  clients_.emplace(conn, std::move(client));
  conn->Start(this);
}

void HealthServer::ArmIdleTimer(engine::TcpConnection* conn, Client& client) {
  reactor_.CancelTimer(client.idle_timer);
  client.idle_timer = reactor_.RunAfter(options_.idle_timeout, [this, conn] {
    auto it = clients_.find(conn);
    if (it == clients_.end()) return;
    it->second->idle_timer = engine::TimerId{};
    conn->Send(Http1Session::FormatResponse(408, "text/plain", "idle timeout\n", false));
    conn->CloseAfterFlush();
  });
}

void HealthServer::OnData(engine::TcpConnection& conn, absl::string_view data) {
  auto it = clients_.find(&conn);
  if (it == clients_.end()) return;
  Client& client = *it->second;
  ArmIdleTimer(&conn, client);
  std::vector<HttpRequest> requests;
  const absl::Status status = client.session.Feed(data, &requests);
  // Answer every complete request first (pipelining), in order, as one write.
  std::string out;
  bool keep_alive = true;
  for (const HttpRequest& request : requests) {
    keep_alive = request.keep_alive && !stopping_;
    out += Answer(request, keep_alive);
    if (!keep_alive) break;
  }
  if (!status.ok() && keep_alive) {
    out += Http1Session::FormatResponse(Http1Session::StatusForError(status), "text/plain",
                                        absl::StrCat(status.message(), "\n"), false);
    keep_alive = false;
  }
  conn.Send(std::move(out));
  if (!keep_alive) conn.CloseAfterFlush();
}

std::string HealthServer::Answer(const HttpRequest& request, bool keep_alive) const {
  const absl::string_view path =
      absl::string_view(request.target).substr(0, absl::string_view(request.target).find('?'));
  const bool metrics = path == "/metrics" && options_.metrics != nullptr;
  if (path != "/healthz" && !metrics) {
    return Http1Session::FormatResponse(404, "text/plain", "not found\n", keep_alive);
  }
  if (request.method != "GET" && request.method != "HEAD") {
    return Http1Session::FormatResponse(405, "text/plain", "method not allowed\n", keep_alive,
                                        "Allow: GET, HEAD\r\n");
  }
  std::string body = "ok\n";
  absl::string_view type = "text/plain";
  int status = 200;
  if (metrics) {
    body = options_.metrics->RenderPrometheus();
    type = "text/plain; version=0.0.4";
  } else if (stopping_) {
    status = 503;
    body = "stopping\n";
  }
  std::string response = Http1Session::FormatResponse(status, type, body, keep_alive);
  // HEAD: the same headers, no body.
  if (request.method == "HEAD") response.resize(response.size() - body.size());
  return response;
}

void HealthServer::OnClosed(engine::TcpConnection& conn, const absl::Status& /*reason*/) {
  auto it = clients_.find(&conn);
  if (it != clients_.end()) {
    reactor_.CancelTimer(it->second->idle_timer);
    clients_.erase(it);
  }
  MaybeFinishStop();
}

void HealthServer::Stop(absl::AnyInvocable<void()> done) {
  stopping_ = true;
  stop_done_ = std::move(done);
  listener_->Close([this] {
    listener_ = nullptr;
    MaybeFinishStop();
  });
  std::vector<engine::TcpConnection*> open;
  for (auto& [conn, client] : clients_) open.push_back(conn);
  for (engine::TcpConnection* conn : open) conn->CloseAfterFlush();
}

void HealthServer::MaybeFinishStop() {
  if (stopping_ && listener_ == nullptr && clients_.empty() && stop_done_) {
    std::exchange(stop_done_, nullptr)();
  }
}

}  // namespace sluice::api
