// GrpcAdmin: the sluice.v1.Admin service (api/proto/sluice/v1/admin.proto)
// without the transport: each unary call's request message in, its
// response message or status out, over the same spool, delivery engine and
// suppression list as the HTTP admin API (api/http_admin.h,
// api/suppression_admin.h), with its rules: Purge and Bounce refuse an
// empty filter, Suspend and Resume take exactly one of site, domain, tenant
// and campaign, errors are INVALID_ARGUMENT naming the field, NOT_FOUND,
// or UNAVAILABLE when a component is missing or failed.
//
// Used on one shard; every pointer may be null (its methods answer
// UNAVAILABLE), and what is set must outlive the answers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "api/grpc_injection.h"
#include "api/http_response.h"
#include "api/proto/sluice/v1/admin.pb.h"
#include "common/clock.h"
#include "engine/delivery_control.h"
#include "queue/spool.h"
#include "queue/spool_admin.h"
#include "queue/suppression.h"

namespace sluice::api {

class GrpcAdmin {
 public:
  GrpcAdmin(queue::Spool* spool, queue::SpoolAdmin* operations, engine::DeliveryControl* delivery,
            queue::SuppressionList* suppression, const common::Clock* clock)
      : spool_(spool),
        operations_(operations),
        delivery_(delivery),
        suppression_(suppression),
        clock_(clock) {}

  // The API key scopes that may call `path` ("/sluice.v1.Admin/Retry"):
  // read (or admin) for the getters, admin for the rest; 0 when `path` is
  // not one of Admin's methods.
  static uint32_t ScopesOf(std::string_view path);

  // Serves one call of a method ScopesOf() knows, its request message
  // given; answers through `reply` once.
  void Serve(std::string_view path, const std::string& message, HttpReply reply);

 private:
  // One of Admin's methods: its name, the scopes that may call it, and how
  // its request message is parsed and served.
  struct Method {
    std::string_view name;
    uint32_t scopes;
    void (*serve)(GrpcAdmin& admin, const std::string& message, HttpReply reply);
  };
  // The method `path` names, or null.
  static const Method* Find(std::string_view path);
  // Parses `message` as T and serves it with `Handle`, or answers
  // INVALID_ARGUMENT.
  template <typename T, void (GrpcAdmin::*Handle)(const T&, HttpReply)>
  static void Call(GrpcAdmin& admin, const std::string& message, HttpReply reply) {
    T request;
    if (!request.ParseFromString(message)) {
      reply(GrpcStatusResponse(
          absl::InvalidArgumentError(absl::StrCat("body: not a ", T::descriptor()->full_name()))));
      return;
    }
    (admin.*Handle)(request, std::move(reply));
  }

  void GetMessage(const sluice::v1::GetMessageRequest& request, HttpReply reply);
  void CountQueues(const sluice::v1::CountQueuesRequest& request, HttpReply reply);
  void ListSites(const sluice::v1::ListSitesRequest& request, HttpReply reply);
  void Retry(const sluice::v1::Filter& request, HttpReply reply);
  void Purge(const sluice::v1::Filter& request, HttpReply reply);
  void Bounce(const sluice::v1::BounceRequest& request, HttpReply reply);
  void Suspend(const sluice::v1::Filter& request, HttpReply reply);
  void Resume(const sluice::v1::Filter& request, HttpReply reply);
  void SetSuspended(const sluice::v1::Filter& request, bool suspended, HttpReply reply);
  void ListSuppressions(const sluice::v1::ListSuppressionsRequest& request, HttpReply reply);
  void CheckSuppression(const sluice::v1::CheckSuppressionRequest& request, HttpReply reply);
  void AddSuppressions(const sluice::v1::AddSuppressionsRequest& request, HttpReply reply);
  void RemoveSuppression(const sluice::v1::RemoveSuppressionRequest& request, HttpReply reply);

  queue::Spool* const spool_;
  queue::SpoolAdmin* const operations_;
  engine::DeliveryControl* const delivery_;
  queue::SuppressionList* const suppression_;
  const common::Clock* const clock_;
};

}  // namespace sluice::api
