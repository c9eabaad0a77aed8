#include "api/grpc_inject_stream.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/grpc_injection.h"
#include "api/proto/sluice/v1/injection.pb.h"

namespace sluice::api {

std::shared_ptr<GrpcInjectStream> GrpcInjectStream::Start(HttpStreamWriter writer,
                                                          std::string encoding, Inject inject,
                                                          GrpcInjectStreamOptions options) {
  std::shared_ptr<GrpcInjectStream> stream(
      new GrpcInjectStream(writer, std::move(encoding), std::move(inject), options));
  stream->writer_.Start(200, "application/grpc");
  return stream;
}

GrpcInjectStream::GrpcInjectStream(HttpStreamWriter writer, std::string encoding, Inject inject,
                                   GrpcInjectStreamOptions options)
    : writer_(writer),
      encoding_(std::move(encoding)),
      inject_(std::move(inject)),
      options_(options),
      reader_(options.max_message_bytes) {}

void GrpcInjectStream::OnData(std::string_view bytes) {
  if (finished_ || input_closed()) {
    writer_.Consume(bytes.size());
    return;
  }
  held_ += bytes.size();
  std::vector<grpc::Message> messages;
  // The messages before a broken frame are still served.
  input_error_ = reader_.Feed(bytes, &messages);
  for (grpc::Message& message : messages) waiting_.push_back(std::move(message));
  Pump();
  Release();
  MaybeFinish();
}

void GrpcInjectStream::OnEnd() {
  ended_ = true;
  if (input_error_.ok()) input_error_ = reader_.Finish();
  Release();
  MaybeFinish();
}

void GrpcInjectStream::OnCancel() {
  cancelled_ = true;
  waiting_.clear();
  MaybeFinish();
}

void GrpcInjectStream::OnProgress() {
  if (finished_ || closed_to_requests()) return;
  Pump();
  Release();
}

void GrpcInjectStream::OnStop() {
  if (finished_ || closed_to_requests()) return;
  stopping_ = true;
  waiting_.clear();
  Release();
  MaybeFinish();
}

void GrpcInjectStream::Expire() {
  if (finished_) return;
  finished_ = true;
  cancelled_ = true;  // nothing more is written
  waiting_.clear();
  writer_.Consume(std::exchange(held_, 0));
  writer_.Finish(
      GrpcStatusResponse(absl::DeadlineExceededError("the call's deadline passed")).trailers);
}

void GrpcInjectStream::Pump() {
  if (pumping_) return;
  // Answers that come at once (a bad request) are collected by this loop,
  // not by recursion.
  pumping_ = true;
  while (!waiting_.empty() && in_flight_ < options_.max_in_flight &&
         writer_.unsent_bytes() <= options_.max_unsent_bytes && !closed_to_requests()) {
    grpc::Message message = std::move(waiting_.front());
    waiting_.pop_front();
    StartOne(std::move(message));
  }
  pumping_ = false;
  Flush();
}

void GrpcInjectStream::StartOne(grpc::Message message) {
  const uint64_t sequence = first_ + answers_.size();
  answers_.emplace_back();
  ++in_flight_;
  auto done = [self = shared_from_this(), sequence](HttpResponse response) {
    self->Answered(sequence, std::move(response));
  };
  absl::StatusOr<std::string> payload =
      DecodedMessage(std::move(message), encoding_, options_.max_message_bytes);
  if (!payload.ok()) {
    // The framing is fine but the stream's encoding is not: nothing after
    // this can be read either.
    done(GrpcStreamErrorResponse(payload.status(), ""));
    Fail(payload.status());
    return;
  }
  sluice::v1::InjectRequest request;
  if (!request.ParseFromString(*payload)) {
    done(GrpcStreamErrorResponse(absl::InvalidArgumentError("body: not a sluice.v1.InjectRequest"),
                                 ""));
    return;
  }
  absl::StatusOr<std::string> json = InjectionJsonOf(request);
  if (!json.ok()) {
    done(GrpcStreamErrorResponse(json.status(), request.request_id()));
    return;
  }
  inject_(*std::move(json), GrpcStreamFormat(request.request_id()), std::move(done));
}

void GrpcInjectStream::Answered(uint64_t sequence, HttpResponse response) {
  if (finished_) {  // expired
    --in_flight_;
    return;
  }
  Answer& answer = answers_[sequence - first_];
  answer.ready = true;
  answer.framed = std::move(response.body);
  --in_flight_;
  if (pumping_) return;  // Pump() goes on from here
  Flush();
  if (!closed_to_requests()) {
    Pump();
    Release();
  }
  MaybeFinish();
}

void GrpcInjectStream::Flush() {
  while (!answers_.empty() && answers_.front().ready) {
    if (!cancelled_) writer_.Write(answers_.front().framed);
    answers_.pop_front();
    ++first_;
  }
}

void GrpcInjectStream::Release() {
  if (held_ == 0) return;
  const bool room = input_closed() || (waiting_.empty() && in_flight_ < options_.max_in_flight &&
                                       writer_.unsent_bytes() <= options_.max_unsent_bytes);
  if (!room) return;
  writer_.Consume(std::exchange(held_, 0));
}

void GrpcInjectStream::Fail(absl::Status error) {
  if (error_.ok()) error_ = std::move(error);
  waiting_.clear();
  Release();
  MaybeFinish();
}

void GrpcInjectStream::MaybeFinish() {
  if (finished_ || pumping_ || in_flight_ > 0) return;
  Flush();
  absl::Status status;
  if (cancelled_) {
    status = absl::CancelledError("cancelled by the client");
  } else if (!error_.ok()) {
    status = error_;
  } else if (stopping_) {
    status = absl::UnavailableError("sluiced is stopping; send what was not answered again");
  } else if (!waiting_.empty()) {
    return;
  } else if (!input_error_.ok()) {
    status = input_error_;
  } else if (!ended_) {
    return;
  }
  finished_ = true;
  // The last use of the writer (it may end this object's exchange).
  writer_.Finish(GrpcStatusResponse(status).trailers);
}

}  // namespace sluice::api
