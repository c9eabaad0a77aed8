#include "api/http_injector.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "api/suppression_reply.h"
#include "common/logging.h"

namespace sluice::api {
namespace {

// A different id stream from the SMTP listeners and delivery on the same
// shard (common/message_id.h).
constexpr uint16_t kIdStream = 8;

void Add(common::Counter* counter, uint64_t n = 1) {
  if (counter != nullptr) counter->Add(n);
}

}  // namespace

InjectionFormat InjectionFormat::Json() {
  InjectionFormat format;
  format.error = [](const absl::Status& error, bool retry_after) {
    const int status = absl::IsInvalidArgument(error)                                   ? 400
                       : absl::IsUnavailable(error) || absl::IsResourceExhausted(error) ? 503
                                                                                        : 500;
    return HttpResponse::Error(status, error.message(),
                               retry_after ? HttpHeaders{{"Retry-After", "1"}} : HttpHeaders{});
  };
  format.accepted = [](const PreparedInjection& prepared,
                       const std::vector<absl::Status>& results) {
    return HttpResponse::Json(200, FormatInjectionResponse(prepared, results));
  };
  return format;
}

struct HttpInjector::Job {
  HttpReply reply;
  std::shared_ptr<const InjectionFormat> format;
  PreparedInjection prepared;
  std::vector<absl::Status> results;
  size_t next = 0;       // the next message to start
  size_t in_flight = 0;  // being signed or written
  size_t answered = 0;
  bool pumping = false;  // inside Pump(): answers given now wait for it
  std::string tenant;    // of every message (one request), for metrics.received
  std::shared_ptr<const mail::DkimKeyring> dkim;  // as when the request came
  absl::Duration waited;                          // for a signing worker
  reactor::TimerId retry;
};

HttpInjector::HttpInjector(reactor::Reactor& reactor, int shard, HttpInjectorOptions options)
    : reactor_(reactor),
      shard_(shard),
      options_(std::move(options)),
      parser_(options_.limits),
      ids_(options_.clock, shard, common::MessageIdGenerator::StreamNode(kIdStream)) {}

HttpInjector::~HttpInjector() {
  for (auto& [id, job] : jobs_) reactor_.CancelTimer(job->retry);
}

void HttpInjector::SetDkim(std::shared_ptr<const mail::DkimKeyring> keyring) {
  options_.dkim = std::move(keyring);
}

void HttpInjector::WhenIdle(absl::AnyInvocable<void()> done) {
  if (under_way_ == 0) {
    done();
    return;
  }
  idle_ = std::move(done);
}

void HttpInjector::Inject(std::string json, InjectionFormat format_value, HttpReply outer) {
  // Every answer is the injector's last use of this injection.
  ++under_way_;
  HttpReply reply = [this, outer = std::move(outer)](HttpResponse response) mutable {
    outer(std::move(response));
    if (--under_way_ == 0 && idle_) std::exchange(idle_, nullptr)();
  };
  auto format = std::make_shared<const InjectionFormat>(std::move(format_value));
  if (options_.spool == nullptr) {
    reply(format->error(absl::UnavailableError("no spool: injection is unavailable"), false));
    return;
  }
  InjectionContext context;
  context.hostname = options_.hostname;
  context.now = options_.clock->Now();
  context.unsubscribe = options_.unsubscribe;
  context.unsubscribe_base_url = options_.unsubscribe_base_url;
  if (options_.worker == nullptr || json.size() < options_.worker_threshold_bytes) {
    OnPrepared(std::move(reply), std::move(format), PrepareInjection(parser_, json, ids_, context));
    return;
  }
  // The reply waits in a shared slot: Submit() may refuse the job, and then
  // it is answered here.
  auto slot = std::make_shared<HttpReply>(std::move(reply));
  const bool posted = options_.worker->Submit(
      std::move(json), std::move(context),
      [this, slot, format, post = options_.post,
       shard = shard_](absl::StatusOr<PreparedInjection> prepared) mutable {
        post(shard, [this, slot, format, prepared = std::move(prepared)]() mutable {
          OnPrepared(std::move(*slot), format, std::move(prepared));
        });
      });
  if (!posted) {
    (*slot)(format->error(absl::UnavailableError("injection worker is busy; try again"), false));
  }
}

void HttpInjector::OnPrepared(HttpReply reply, std::shared_ptr<const InjectionFormat> format,
                              absl::StatusOr<PreparedInjection> prepared) {
  if (!prepared.ok()) {
    reply(format->error(absl::InvalidArgumentError(prepared.status().message()), false));
    return;
  }
  const uint64_t job_id = next_job_id_++;
  auto job = std::make_unique<Job>();
  job->reply = std::move(reply);
  job->format = std::move(format);
  job->prepared = *std::move(prepared);
  if (!job->prepared.messages.empty() && !job->prepared.messages[0].envelopes.empty()) {
    job->tenant = job->prepared.messages[0].envelopes[0].tenant();
  }
  if (options_.dkim_pool != nullptr && options_.dkim != nullptr && !options_.dkim->empty()) {
    job->dkim = options_.dkim;
  }
  const bool look_up =
      options_.suppression != nullptr && options_.suppression->MayHaveSuppressions();
  std::vector<std::string> addresses;
  if (look_up) {
    addresses.reserve(job->prepared.accepted.size());
    for (const PreparedRecipient& r : job->prepared.accepted) addresses.push_back(r.email);
  }
  std::string tenant = job->tenant;
  job->results.resize(job->prepared.messages.size());
  jobs_.emplace(job_id, std::move(job));
  if (!look_up) {
    Pump(job_id);
    return;
  }
  options_.suppression->LookUpSuppressed(
      std::move(tenant), std::move(addresses),
      [this, job_id](absl::StatusOr<std::vector<std::optional<queue::SuppressionEntry>>> found) {
        OnLookedUp(job_id, std::move(found));
      });
}

void HttpInjector::OnLookedUp(
    uint64_t job_id, absl::StatusOr<std::vector<std::optional<queue::SuppressionEntry>>> found) {
  auto it = jobs_.find(job_id);
  if (!found.ok()) {
    HttpReply reply = std::move(it->second->reply);
    std::shared_ptr<const InjectionFormat> format = std::move(it->second->format);
    jobs_.erase(it);
    reply(format->error(
        absl::UnavailableError(absl::StrCat("suppression list unavailable (",
                                            found.status().message(), "); try again")),
        false));
    return;
  }
  Job& job = *it->second;
  std::vector<std::optional<std::string>> reasons(found->size());
  uint64_t suppressed = 0;
  for (size_t i = 0; i < found->size(); ++i) {
    if (!(*found)[i].has_value()) continue;
    reasons[i] = DescribeSuppression(*(*found)[i]);
    ++suppressed;
  }
  if (suppressed > 0) {
    Add(options_.metrics.suppressed, suppressed);
    RejectAccepted(&job.prepared, reasons);
    job.results.assign(job.prepared.messages.size(), absl::OkStatus());
  }
  Pump(job_id);
}

void HttpInjector::Pump(uint64_t job_id) {
  Job& job = *jobs_.at(job_id);
  job.retry = reactor::TimerId{};
  job.pumping = true;
  bool full = false;
  while (job.in_flight < options_.max_in_flight && job.next < job.results.size()) {
    const size_t index = job.next;
    if (job.dkim != nullptr) {
      if (!Sign(job_id, index)) {
        full = true;
        break;
      }
    } else {
      Enqueue(job_id, index);
    }
    ++job.next;
    ++job.in_flight;
  }
  job.pumping = false;
  if (full) {
    if (job.waited >= options_.dkim_wait) {
      // Nothing more can be signed in time: what is left fails, unsigned
      // mail is never stored.
      const absl::Status busy = absl::ResourceExhaustedError("dkim: every signing worker is busy");
      SLUICE_LOG(kWarning, "messages not signed: every DKIM signing worker is busy")
          .Field("listener", options_.listener)
          .Field("messages", job.results.size() - job.next)
          .Field("waited", job.waited);
      for (; job.next < job.results.size(); ++job.next) {
        job.results[job.next] = busy;
        ++job.answered;
      }
    } else {
      job.waited += options_.dkim_retry;
      job.retry = reactor_.RunAfter(options_.dkim_retry, [this, job_id] { Pump(job_id); });
      return;
    }
  }
  if (job.answered == job.results.size()) Finish(job_id);
}

bool HttpInjector::Sign(uint64_t job_id, size_t index) {
  Job& job = *jobs_.at(job_id);
  DkimSigningPool::Done done = [this, job_id, index](absl::StatusOr<std::string> message) {
    if (!message.ok()) {
      SLUICE_LOG(kWarning, "message not signed")
          .Field("listener", options_.listener)
          .Field("error", message.status());
      Answered(job_id, index,
               absl::Status(message.status().code(),
                            absl::StrCat("dkim: ", message.status().message())));
      return;
    }
    queue::NewMessage& stored = jobs_.at(job_id)->prepared.messages[index];
    stored.body = *std::move(message);
    for (queue::Envelope& envelope : stored.envelopes) envelope.set_size(stored.body.size());
    Enqueue(job_id, index);
  };
  return options_.dkim_pool->Submit(job.dkim, job.prepared.messages[index].body, job.tenant, shard_,
                                    done);
}

void HttpInjector::Enqueue(uint64_t job_id, size_t index) {
  Job& job = *jobs_.at(job_id);
  // Only the ids are needed after this; the body goes to the spool.
  options_.spool->Enqueue(
      std::move(job.prepared.messages[index]), [this, job_id, index](absl::Status status) {
        if (!status.ok()) {
          status = absl::Status(status.code(), absl::StrCat("spool: ", status.message()));
        }
        Answered(job_id, index, std::move(status));
      });
}

void HttpInjector::Answered(uint64_t job_id, size_t index, absl::Status status) {
  Job& job = *jobs_.at(job_id);
  job.results[index] = std::move(status);
  --job.in_flight;
  ++job.answered;
  if (!job.pumping && !job.retry.valid()) Pump(job_id);
}

void HttpInjector::Finish(uint64_t job_id) {
  auto it = jobs_.find(job_id);
  std::unique_ptr<Job> job = std::move(it->second);
  jobs_.erase(it);
  size_t failed = 0;
  absl::Status first_error;
  for (const absl::Status& status : job->results) {
    if (!status.ok() && failed++ == 0) first_error = status;
  }
  size_t recipients = 0;
  for (const PreparedRecipient& r : job->prepared.accepted) {
    if (job->results[r.message].ok()) ++recipients;
  }
  const HttpInjectionMetrics& metrics = options_.metrics;
  Add(metrics.messages_accepted, job->results.size() - failed);
  if (metrics.received && failed < job->results.size()) {
    metrics.received(job->tenant, job->results.size() - failed);
  }
  Add(metrics.recipients_accepted, recipients);
  if (failed > 0) Add(metrics.injections_failed);
  if (!job->results.empty() && failed == job->results.size()) {
    // Nothing was stored: the client may safely send it all again.
    const bool retry = absl::IsUnavailable(first_error) || absl::IsResourceExhausted(first_error);
    job->reply(job->format->error(retry ? first_error : absl::InternalError(first_error.message()),
                                  retry));
    return;
  }
  if (failed > 0 && log_.Allow(options_.clock->Now(), "http injection failures")) {
    SLUICE_LOG(kWarning, "http injection partly failed")
        .Field("listener", options_.listener)
        .Field("messages", job->results.size())
        .Field("failed", failed)
        .Field("error", first_error);
  }
  SLUICE_LOG(kDebug, "http injection accepted")
      .Field("listener", options_.listener)
      .Field("tenant", job->tenant)
      .Field("messages", job->results.size() - failed)
      .Field("recipients", recipients);
  job->reply(job->format->accepted(job->prepared, job->results));
}

}  // namespace sluice::api
