// Verp: variable envelope return paths (VERP) that name the message and
// the recipient a bounce is about, and cannot be forged. An asynchronous
// bounce comes back to the envelope sender, so when that sender is
//
//   b-<message id>-<recipient index>-<mac>@<bounce domain>
//   b-01JABCDEFGHJKMNPQRSTVWXYZ0-3-9f2c41d07a5e3b18@bounces.example.com
//
// the bounce finds its message and recipient even when the DSN itself is
// mangled or says nothing usable. The MAC (HMAC-SHA256 over id, index and
// domain, 64 bits in hex) keeps others from making sluice act on
// addresses it never sent from. Everything is case-insensitive, since
// some MTAs fold local parts; the local part stays under 64 octets.
// Immutable; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/message_id.h"

namespace sluice::mail {

struct VerpTarget {
  common::MessageId message_id;
  uint32_t recipient = 0;  // index into the envelope's recipients
  std::string domain;      // the bounce domain, lowercase

  bool operator==(const VerpTarget&) const = default;
};

class Verp {
 public:
  // `secret` must be at least 32 bytes.
  static absl::StatusOr<Verp> Create(std::string secret);

  std::string Encode(const common::MessageId& id, uint32_t recipient,
                     absl::string_view bounce_domain) const;
  // What an address made by Encode() names; InvalidArgument for any other
  // address (not VERP, altered, another secret's).
  absl::StatusOr<VerpTarget> Decode(absl::string_view address) const;

 private:
  explicit Verp(std::string secret) : secret_(std::move(secret)) {}
  std::string Mac(absl::string_view id, uint32_t recipient, absl::string_view domain) const;

  std::string secret_;
};

}  // namespace sluice::mail
