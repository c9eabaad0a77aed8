#include "api/smtp_server.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "api/ingest.h"
#include "api/suppression_reply.h"
#include "api/unsubscribe_header.h"
#include "common/logging.h"
#include "tls/tls_stream.h"

namespace sluice::api {
namespace {

void Add(common::Counter* counter, uint64_t n = 1) {
  if (counter != nullptr) counter->Add(n);
}

void Add(common::Gauge* gauge, int64_t delta) {
  if (gauge != nullptr) gauge->Add(delta);
}

// 127.0.0.1, ::1 or ::ffff:127.0.0.1: the addresses only this host's own
// processes use by default, unlike the rest of 127.0.0.0/8.
bool IsLocalHost(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    return ntohl(reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr) == INADDR_LOOPBACK;
  }
  if (address->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&a) ||
           (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127 && a.s6_addr[13] == 0 &&
            a.s6_addr[14] == 0 && a.s6_addr[15] == 1);
  }
  return false;
}

}  // namespace

std::string_view SmtpListenerName(SmtpListenerKind kind) {
  switch (kind) {
    case SmtpListenerKind::kRelay:
      return "relay";
    case SmtpListenerKind::kSubmission:
      return "submission";
    case SmtpListenerKind::kSubmissions:
      return "submissions";
  }
  return "relay";
}

struct SmtpServer::Client {
  explicit Client(reactor::TcpConnection* connection) : conn(connection), stream(connection) {}

  uint64_t id = 0;
  reactor::TcpConnection* conn;
  std::unique_ptr<Policy> policy;
  std::unique_ptr<smtp::ServerSession> session;
  reactor::TimerId timer;
  // Plaintext until TLS starts (STARTTLS, or at once on submissions).
  tls::TlsStream stream;
  // Waiting for the spool or the authenticator: not reading, not timing out.
  bool busy = false;
  bool peer_closed = false;
  bool auth_logged = false;  // the AUTH answer being written was logged already
  // The queue id of the transaction in progress, chosen when its body
  // starts so the Received header can name it.
  common::MessageId body_id;
};

// Relay control and the Received header, for one connection.
class SmtpServer::Policy final : public smtp::ServerPolicy {
 public:
  Policy(SmtpServer& server, Client& client) : server_(server), client_(client) {}

  smtp::PolicyDecision CheckRcptTo(const smtp::ServerSession& session,
                                   const smtp::Envelope& /*envelope*/,
                                   const smtp::Recipient& recipient) override {
    if (server_.options_.kind != SmtpListenerKind::kRelay || session.authenticated() ||
        common::AnyContains(server_.options_.relay_networks, client_.conn->peer().sockaddr_ptr())) {
      return server_.ChecksSuppression(client_, recipient) ? smtp::PolicyDecision::Verify()
                                                           : smtp::PolicyDecision::Accept();
    }
    if (server_.options_.bounce_domains.contains(absl::AsciiStrToLower(recipient.address.domain))) {
      return smtp::PolicyDecision::Accept();
    }
    return smtp::PolicyDecision::Reject(550, "5.7.1", "Relaying denied");
  }

  std::string ReceivedHeader(const smtp::ServerSession& session,
                             const smtp::Envelope& envelope) override {
    client_.body_id = server_.ids_.Next();
    ReceivedInfo info;
    info.helo = session.helo_name();
    info.client_ip = client_.conn->peer().HostString();
    info.by = server_.options_.session.hostname;
    info.protocol = std::string(session.protocol());
    info.id = client_.body_id.ToString();
    if (const tls::TlsSession* tls = client_.stream.session(); client_.stream.handshake_done()) {
      info.tls = std::string(tls->version()) + " " + std::string(tls->cipher());
    }
    if (envelope.recipients.size() == 1) {
      info.for_recipient = envelope.recipients[0].address.ToString();
    }
    info.time = server_.options_.clock->Now();
    return FormatReceived(info);
  }

  void OnRefused(const smtp::ServerSession& /*session*/, int code, std::string_view enhanced,
                 std::string_view text) override {
    server_.OnRefused(client_, code, enhanced, text);
  }

 private:
  SmtpServer& server_;
  Client& client_;
};

absl::StatusOr<std::unique_ptr<SmtpServer>> SmtpServer::Create(reactor::Reactor& reactor,
                                                               int listen_fd, int shard,
                                                               SmtpServerOptions options) {
  if (options.spool == nullptr || options.limiter == nullptr) {
    return absl::InvalidArgumentError("an SMTP listener needs a spool and a connection limiter");
  }
  if (options.kind == SmtpListenerKind::kSubmissions && options.tls == nullptr) {
    return absl::InvalidArgumentError("the submissions listener needs a TLS context");
  }
  std::unique_ptr<SmtpServer> server(new SmtpServer(reactor, shard, std::move(options)));
  SmtpServer* self = server.get();
  self->listener_ = reactor::TcpListener::Start(
      reactor, listen_fd, [self](reactor::TcpConnection* conn) { self->Accept(conn); });
  return server;
}

SmtpServer::SmtpServer(reactor::Reactor& reactor, int shard, SmtpServerOptions options)
    : reactor_(reactor),
      shard_(shard),
      options_(std::move(options)),
      ids_(options_.clock, shard,
           common::MessageIdGenerator::StreamNode(static_cast<uint16_t>(options_.kind))),
      refusal_log_(/*per_second=*/20, /*burst=*/100) {
  smtp::ServerOptions& session = options_.session;
  session.allow_auth = options_.authenticator != nullptr;
  session.require_auth = options_.kind != SmtpListenerKind::kRelay;
  session.implicit_tls = options_.kind == SmtpListenerKind::kSubmissions;
  session.offer_starttls = options_.tls != nullptr && !session.implicit_tls;
}

void SmtpServer::SetDkim(std::shared_ptr<const mail::DkimKeyring> keyring) {
  options_.dkim = std::move(keyring);
}

void SmtpServer::SetTlsContext(std::shared_ptr<const tls::ServerContext> context) {
  if (context != nullptr) options_.tls = std::move(context);
}

SmtpServer::~SmtpServer() {
  for (auto& [id, client] : clients_) reactor_.CancelTimer(client->timer);
}

void SmtpServer::Accept(reactor::TcpConnection* conn) {
  const sockaddr* peer = conn->peer().sockaddr_ptr();
  if (stopping_) {
    conn->Close();
    return;
  }
  const ConnectionLimiter::Verdict verdict = options_.limiter->TryAcquire(peer);
  if (verdict != ConnectionLimiter::Verdict::kAccepted) {
    // Not ours to track: OnData and OnClosed ignore connections they do
    // not know.
    conn->Start(this);
    conn->Send(absl::StrCat("421 4.7.0 ", options_.session.hostname,
                            verdict == ConnectionLimiter::Verdict::kTooManyTotal
                                ? " Too many connections, try again later\r\n"
                                : " Too many connections from your address\r\n"));
    conn->CloseAfterFlush();
    Add(options_.metrics.connections_refused);
    SLUICE_LOG(kWarning, "smtp connection refused")
        .Field("listener", SmtpListenerName(options_.kind))
        .Field("client", conn->peer().HostString())
        .Field("reason", verdict == ConnectionLimiter::Verdict::kTooManyTotal ? "total" : "per ip");
    return;
  }
  Add(options_.metrics.connections);
  Add(options_.metrics.connections_open, 1);
  auto client = std::make_unique<Client>(conn);
  client->id = next_client_id_++;
  client->policy = std::make_unique<Policy>(*this, *client);
  smtp::ServerOptions session_options = options_.session;
  session_options.normalize_bare_lf = common::AnyContains(options_.trusted_networks, peer);
  session_options.require_tls_for_auth =
      !(options_.auth_on_loopback_without_tls && IsLocalHost(peer));
  client->session = std::make_unique<smtp::ServerSession>(session_options, client->policy.get());
  Client& c = *client;
  client_ids_.emplace(conn, c.id);
  clients_.emplace(c.id, std::move(client));
  conn->Start(this);
  if (options_.session.implicit_tls && !StartTls(c)) return;
  // Under implicit TLS the greeting is held until the handshake is done.
  c.session->Start();
  Drive(c, smtp::ServerAction::kReadMore);
}

bool SmtpServer::StartTls(Client& c) {
  absl::StatusOr<std::unique_ptr<tls::TlsSession>> session = options_.tls->NewSession();
  if (!session.ok()) {
    SLUICE_LOG(kError, "cannot start TLS").Field("error", session.status());
    c.conn->Close();
    return false;
  }
  c.stream.StartServer(*std::move(session));
  return true;
}

void SmtpServer::OnData(reactor::TcpConnection& conn, absl::string_view data) {
  auto it = client_ids_.find(&conn);
  if (it == client_ids_.end()) return;
  Receive(*clients_.at(it->second), data);
}

void SmtpServer::Receive(Client& c, absl::string_view bytes) {
  absl::StatusOr<absl::string_view> input = c.stream.Receive(bytes);
  if (!input.ok()) {
    SLUICE_LOG(kInfo, "tls handshake or read failed")
        .Field("listener", SmtpListenerName(options_.kind))
        .Field("client", c.conn->peer().HostString())
        .Field("error", input.status());
    c.conn->CloseAfterFlush();  // after the alert
    return;
  }
  if (c.stream.TakeHandshakeDone()) Add(options_.metrics.tls_sessions);
  if (c.stream.peer_closed()) {
    c.stream.Close();
    return;
  }
  if (input->empty()) return;
  const smtp::ServerAction action = c.session->Feed(std::string_view(input->data(), input->size()));
  // While busy the session only keeps what arrives; the answer drives it on.
  if (!c.busy) Drive(c, action);
}

void SmtpServer::OnPeerClosed(reactor::TcpConnection& conn) {
  auto it = client_ids_.find(&conn);
  if (it == client_ids_.end()) {
    conn.CloseAfterFlush();
    return;
  }
  Client& c = *clients_.at(it->second);
  c.peer_closed = true;
  // A message being spooled still gets its answer written before we close.
  if (!c.busy) conn.CloseAfterFlush();
}

void SmtpServer::OnClosed(reactor::TcpConnection& conn, const absl::Status& /*reason*/) {
  auto it = client_ids_.find(&conn);
  if (it == client_ids_.end()) return;
  auto client = clients_.find(it->second);
  reactor_.CancelTimer(client->second->timer);
  options_.limiter->Release(conn.peer().sockaddr_ptr());
  Add(options_.metrics.connections_open, -1);
  clients_.erase(client);
  client_ids_.erase(it);
  MaybeFinishStop();
}

void SmtpServer::Flush(Client& c) {
  if (c.session->output().empty()) return;
  if (absl::Status status = c.stream.Send(c.session->TakeOutput()); !status.ok()) {
    c.conn->Close(status);
  }
}

void SmtpServer::Drive(Client& c, smtp::ServerAction action) {
  switch (action) {
    case smtp::ServerAction::kReadMore:
      Flush(c);
      if (c.peer_closed) {
        c.conn->CloseAfterFlush();
      } else if (stopping_) {
        Drive(c, c.session->Shutdown("Service shutting down"));
      } else {
        ArmTimer(c);
      }
      return;
    case smtp::ServerAction::kMessage:
      Flush(c);
      SpoolMessage(c);
      return;
    case smtp::ServerAction::kAuthenticate:
      Flush(c);
      Authenticate(c);
      return;
    case smtp::ServerAction::kCheckRecipient:
      CheckRecipient(c);
      return;
    case smtp::ServerAction::kStartTls:
      // "220 Ready to start TLS" goes out in plaintext; everything after it
      // is TLS. The session drops whatever the client pipelined behind
      // STARTTLS (RFC 3207 4.2 and the STARTTLS command injection attacks).
      Flush(c);
      if (options_.tls == nullptr || !StartTls(c)) {
        c.conn->CloseAfterFlush();
        return;
      }
      Drive(c, c.session->TlsStarted());
      return;
    case smtp::ServerAction::kClose:
      Flush(c);
      reactor_.CancelTimer(c.timer);
      c.stream.Close();  // close_notify first under TLS
      return;
  }
}

void SmtpServer::ArmTimer(Client& c) {
  reactor_.CancelTimer(c.timer);
  const uint64_t id = c.id;
  c.timer = reactor_.RunAfter(options_.command_timeout, [this, id] {
    auto it = clients_.find(id);
    if (it == clients_.end()) return;
    Client& c = *it->second;
    c.timer = reactor::TimerId{};
    Drive(c, c.session->Shutdown("Timeout exceeded"));
  });
}

void SmtpServer::SpoolMessage(Client& c) {
  c.busy = true;
  reactor_.CancelTimer(c.timer);
  c.conn->PauseReading();
  smtp::ReceivedMessage received = c.session->TakeMessage();
  std::string body = std::move(received.body);
  std::string tenant;
  if (options_.kind != SmtpListenerKind::kRelay) {
    body = AddMissingSubmissionHeaders(std::move(body), options_.session.hostname,
                                       c.body_id.ToString(), options_.clock->Now());
    tenant = c.session->auth_user();
  }
  IngestEnvelope envelope = FromSmtp(received.envelope, std::move(tenant));
  if (Outbound(c)) {
    const absl::Status unsubscribe = ApplyUnsubscribeRequest(
        &body,
        {.tenant = envelope.tenant,
         .recipient = envelope.recipients[0].address,
         .campaign = envelope.campaign},
        envelope.recipients.size(), options_.unsubscribe.get(), options_.unsubscribe_base_url);
    if (!unsubscribe.ok()) {
      Add(options_.metrics.messages_failed);
      c.busy = false;
      c.conn->ResumeReading();
      Drive(c, c.session->SupplyMessageResult(smtp::MessageResult::PermanentFailure(
                   std::string(unsubscribe.message()), 550, "5.6.0")));
      return;
    }
  }
  ++pending_answers_;  // until AnswerMessage
  if (options_.dkim_pool != nullptr && options_.dkim != nullptr && Outbound(c) &&
      options_.dkim->Signs(body, envelope.tenant)) {
    SignThenEnqueue(c.id, std::move(envelope), std::move(body), absl::ZeroDuration());
    return;
  }
  Enqueue(c.id, envelope, std::move(body));
}

bool SmtpServer::Outbound(const Client& c) const {
  return options_.kind != SmtpListenerKind::kRelay || c.session->authenticated() ||
         common::AnyContains(options_.relay_networks, c.conn->peer().sockaddr_ptr());
}

void SmtpServer::SignThenEnqueue(uint64_t id, IngestEnvelope envelope, std::string body,
                                 absl::Duration waited) {
  auto it = clients_.find(id);
  if (it == clients_.end()) {  // left before its answer: nothing was promised
    --pending_answers_;
    MaybeFinishStop();
    return;
  }
  const std::string queue_id = it->second->body_id.ToString();
  DkimSigningPool::Done done = [this, id, queue_id,
                                envelope](absl::StatusOr<std::string> signed_message) {
    if (!signed_message.ok()) {
      Add(options_.metrics.messages_failed);
      SLUICE_LOG(kWarning, "message not signed")
          .Field("listener", SmtpListenerName(options_.kind))
          .Field("id", queue_id)
          .Field("error", signed_message.status());
      AnswerMessage(id, queue_id, signed_message.status());
      return;
    }
    Enqueue(id, envelope, *std::move(signed_message));
  };
  if (options_.dkim_pool->Submit(options_.dkim, body, envelope.tenant, shard_, done)) return;
  if (stopping_ || waited >= options_.dkim_wait) {
    Add(options_.metrics.messages_failed);
    SLUICE_LOG(kWarning, "message not signed: every DKIM signing worker is busy")
        .Field("listener", SmtpListenerName(options_.kind))
        .Field("id", queue_id)
        .Field("waited", waited);
    AnswerMessage(id, queue_id, absl::ResourceExhaustedError("every DKIM signing worker is busy"));
    return;
  }
  reactor_.RunAfter(options_.dkim_retry, [this, id, envelope = std::move(envelope),
                                          body = std::move(body), waited]() mutable {
    SignThenEnqueue(id, std::move(envelope), std::move(body), waited + options_.dkim_retry);
  });
}

void SmtpServer::Enqueue(uint64_t id, const IngestEnvelope& envelope, std::string body) {
  auto it = clients_.find(id);
  if (it == clients_.end()) {
    --pending_answers_;
    MaybeFinishStop();
    return;
  }
  Client& c = *it->second;
  IngestOptions ingest;
  ingest.bounce_domains = &options_.bounce_domains;
  const std::string queue_id = c.body_id.ToString();
  const size_t size = body.size();
  const size_t recipients = envelope.recipients.size();
  queue::NewMessage message =
      BuildSpoolMessage(envelope, std::move(body), c.body_id, ids_, options_.clock->Now(), ingest);
  options_.spool->Enqueue(std::move(message), [this, id, queue_id, size, recipients,
                                               client_ip = c.conn->peer().HostString(),
                                               tenant = envelope.tenant](absl::Status status) {
    if (status.ok()) {
      Add(options_.metrics.messages_accepted);
      if (options_.metrics.received) options_.metrics.received(tenant, 1);
      Add(options_.metrics.bytes_accepted, size);
      SLUICE_LOG(kDebug, "message accepted")
          .Field("listener", SmtpListenerName(options_.kind))
          .Field("id", queue_id)
          .Field("client", client_ip)
          .Field("recipients", static_cast<int64_t>(recipients))
          .Field("size", static_cast<int64_t>(size));
    } else {
      Add(options_.metrics.messages_failed);
      SLUICE_LOG(kWarning, "message not spooled")
          .Field("listener", SmtpListenerName(options_.kind))
          .Field("id", queue_id)
          .Field("client", client_ip)
          .Field("error", status);
    }
    AnswerMessage(id, queue_id, status);
  });
}

void SmtpServer::AnswerMessage(uint64_t id, const std::string& queue_id, absl::Status status) {
  --pending_answers_;
  auto it = clients_.find(id);
  if (it == clients_.end()) {
    MaybeFinishStop();  // the client left; it was never told 250
    return;
  }
  Client& c = *it->second;
  c.busy = false;
  c.conn->ResumeReading();
  smtp::MessageResult result = smtp::MessageResult::Accepted(queue_id);
  if (absl::IsUnavailable(status)) {
    result = smtp::MessageResult::InsufficientStorage();
  } else if (!status.ok()) {
    result = smtp::MessageResult::TemporaryFailure();
  }
  Drive(c, c.session->SupplyMessageResult(result));
}

void SmtpServer::Authenticate(Client& c) {
  if (options_.authenticator == nullptr) {
    Drive(c, c.session->SupplyAuthResult(smtp::AuthResult::kTemporaryFailure));
    return;
  }
  c.busy = true;
  reactor_.CancelTimer(c.timer);
  c.conn->PauseReading();
  const uint64_t id = c.id;
  ++pending_answers_;
  options_.authenticator->Verify(
      c.session->auth_request(), c.conn->peer().sockaddr_ptr(),
      [this, id](smtp::AuthResult result) {
        --pending_answers_;
        auto it = clients_.find(id);
        if (it == clients_.end()) {
          MaybeFinishStop();
          return;
        }
        Client& c = *it->second;
        c.busy = false;
        c.conn->ResumeReading();
        if (result == smtp::AuthResult::kAccepted) {
          SLUICE_LOG(kInfo, "smtp auth accepted")
              .Field("listener", SmtpListenerName(options_.kind))
              .Field("client", c.conn->peer().HostString())
              .Field("user", c.session->auth_request().user);
        } else if (refusal_log_.Allow(options_.clock->Now(), "smtp refusals")) {
          SLUICE_LOG(kWarning, "smtp auth failed")
              .Field("listener", SmtpListenerName(options_.kind))
              .Field("client", c.conn->peer().HostString())
              .Field("user", c.session->auth_request().user)
              .Field("mechanism", c.session->auth_request().mechanism)
              .Field("reason", result == smtp::AuthResult::kRejected
                                   ? "invalid credentials"
                                   : "too many failures from this address, or the checker is busy");
        }
        c.auth_logged = true;
        Drive(c, c.session->SupplyAuthResult(result));
        c.auth_logged = false;
      });
}

bool SmtpServer::ChecksSuppression(const Client& c, const smtp::Recipient& recipient) const {
  if (options_.suppression == nullptr || !options_.suppression->MayHaveSuppressions()) return false;
  const bool tenant = options_.kind != SmtpListenerKind::kRelay && c.session->authenticated();
  if (!tenant && !options_.suppression_for_everyone) return false;
  return !options_.bounce_domains.contains(absl::AsciiStrToLower(recipient.address.domain));
}

void SmtpServer::CheckRecipient(Client& c) {
  // Replies so far stay in the output: pipelined RCPTs are answered
  // together once the input is used up.
  c.busy = true;
  reactor_.CancelTimer(c.timer);
  c.conn->PauseReading();
  const uint64_t id = c.id;
  const std::string address = c.session->pending_recipient().address.ToString();
  std::string tenant = options_.kind != SmtpListenerKind::kRelay ? c.session->auth_user() : "";
  ++pending_answers_;
  options_.suppression->LookUpSuppressed(
      std::move(tenant), {address},
      [this, id,
       address](absl::StatusOr<std::vector<std::optional<queue::SuppressionEntry>>> found) {
        --pending_answers_;
        auto it = clients_.find(id);
        if (it == clients_.end()) {
          MaybeFinishStop();
          return;
        }
        Client& c = *it->second;
        c.busy = false;
        c.conn->ResumeReading();
        smtp::PolicyDecision decision = smtp::PolicyDecision::Accept();
        if (!found.ok()) {
          decision = smtp::PolicyDecision::Reject(451, "4.3.0",
                                                  "Suppression list unavailable; try again later");
        } else if (!found->empty() && (*found)[0].has_value()) {
          Add(options_.metrics.suppressed);
          decision = smtp::PolicyDecision::Reject(
              550, "5.7.1", absl::StrCat("<", address, ">: ", DescribeSuppression(*(*found)[0])));
        }
        Drive(c, c.session->SupplyRecipientResult(decision));
      });
}

void SmtpServer::OnRefused(const Client& c, int code, std::string_view enhanced,
                           std::string_view text) {
  Add(code < 500 ? options_.metrics.refused_temporary : options_.metrics.refused_permanent);
  // The answer to an AUTH exchange was logged above with its user.
  if (c.auth_logged) return;
  if (!refusal_log_.Allow(options_.clock->Now(), "smtp refusals")) return;
  SLUICE_LOG(kWarning, "smtp refused")
      .Field("listener", SmtpListenerName(options_.kind))
      .Field("client", c.conn->peer().HostString())
      .Field("helo", c.session->helo_name())
      .Field("reply", absl::StrCat(code, " ", absl::string_view(enhanced.data(), enhanced.size()),
                                   enhanced.empty() ? "" : " ",
                                   absl::string_view(text.data(), text.size())));
}

void SmtpServer::Stop(absl::AnyInvocable<void()> done) {
  stopping_ = true;
  stop_done_ = std::move(done);
  if (listener_ != nullptr) {
    listener_->Close();
    listener_ = nullptr;
  }
  // Clients waiting for the spool get their answer first; Drive() then
  // sees stopping_ and says goodbye.
  std::vector<uint64_t> idle;
  for (const auto& [id, client] : clients_) {
    if (!client->busy) idle.push_back(id);
  }
  for (uint64_t id : idle) {
    auto it = clients_.find(id);
    if (it == clients_.end()) continue;
    Drive(*it->second, it->second->session->Shutdown("Service shutting down"));
  }
  MaybeFinishStop();
}

void SmtpServer::MaybeFinishStop() {
  // Answers still owed to us (spool, authenticator) point at this server.
  if (!stopping_ || !clients_.empty() || pending_answers_ > 0 || !stop_done_) return;
  auto done = std::move(stop_done_);
  done();
}

}  // namespace sluice::api
