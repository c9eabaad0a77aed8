#include "engine/suppression_feed.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace sluice::engine {
namespace {

int64_t ExpiryOf(absl::Time now, absl::Duration lifetime) {
  return lifetime == absl::ZeroDuration() ? 0 : absl::ToUnixMillis(now + lifetime);
}

}  // namespace

void SuppressionFeed::HardBounce(const DeliveryEvent& event, mail::BounceCategory category) {
  if (options_ == nullptr || options_->list == nullptr ||
      !options_->bounce_categories[static_cast<size_t>(category)] || event.recipient.empty()) {
    return;
  }
  queue::SuppressionEntry entry;
  entry.scope = event.tenant;
  entry.address = event.recipient;
  entry.source = queue::SuppressionSource::kHardBounce;
  const std::string_view name = mail::BounceCategoryName(category);
  entry.reason = absl::StrCat(absl::string_view(name.data(), name.size()), ": ",
                              absl::string_view(event.reply).substr(0, 300));
  entry.created_unix_ms = absl::ToUnixMillis(event.time);
  entry.expires_unix_ms = ExpiryOf(event.time, options_->bounce_expiry);
  Add(std::move(entry), options_->added_bounces);
}

void SuppressionFeed::Complaint(const DeliveryEvent& event) {
  if (options_ == nullptr || options_->list == nullptr || !options_->complaints ||
      event.recipient.empty()) {
    return;
  }
  queue::SuppressionEntry entry;
  entry.scope = event.tenant;
  entry.address = event.recipient;
  entry.source = queue::SuppressionSource::kComplaint;
  entry.reason =
      absl::StrCat("feedback report: ", event.category.empty() ? "abuse" : event.category);
  if (!event.remote_ip.empty()) absl::StrAppend(&entry.reason, " (source ", event.remote_ip, ")");
  entry.created_unix_ms = absl::ToUnixMillis(event.time);
  entry.expires_unix_ms = ExpiryOf(event.time, options_->complaint_expiry);
  Add(std::move(entry), options_->added_complaints);
}

void SuppressionFeed::Add(queue::SuppressionEntry entry, common::Counter* added) {
  std::string address = entry.address;
  const absl::Time now = absl::FromUnixMillis(entry.created_unix_ms);
  ops_.Begin();
  options_->list->Suppress({std::move(entry)},
                           [this, added, address = std::move(address), now](absl::Status status) {
                             if (status.ok()) {
                               if (added != nullptr) added->Add(1);
                             } else if (log_.Allow(now, "suppression adds")) {
                               SLUICE_LOG(kWarning, "recipient not added to the suppression list")
                                   .Field("recipient", address)
                                   .Field("error", status);
                             }
                             ops_.End();
                           });
}

}  // namespace sluice::engine
