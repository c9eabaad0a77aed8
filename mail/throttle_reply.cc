#include "mail/throttle_reply.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace sluice::mail {

bool IsThrottleReply(const smtp::ServerReply& reply) {
  if (reply.local || !reply.IsTransient()) return false;
  if (reply.code == 421) return true;
  if (reply.enhanced == "4.5.3") return false;  // too many recipients: a new transaction
  if (reply.enhanced == "4.7.0" || reply.enhanced == "4.7.28") return true;
  const std::string text = absl::AsciiStrToLower(reply.Text());
  return absl::StrContains(text, "[ts0") || absl::StrContains(text, "too many") ||
         absl::StrContains(text, "rate limit") || absl::StrContains(text, "throttl");
}

}  // namespace sluice::mail
