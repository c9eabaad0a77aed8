#include "smtp/client_envelope.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "smtp/xtext.h"

namespace sluice::smtp {
namespace {

bool HasControl(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool BadAddress(const Address& address) {
  return HasControl(address.local_part) || HasControl(address.domain);
}

}  // namespace

bool NeedsSmtpUtf8(const OutboundMessage& message) {
  bool needs_utf8 = message.needs_smtputf8 || message.sender.utf8;
  for (const Recipient& recipient : message.recipients) {
    needs_utf8 = needs_utf8 || recipient.address.utf8;
  }
  return needs_utf8;
}

std::optional<ServerReply> EnvelopeRefusal(const OutboundMessage& message,
                                           const ServerCapabilities& caps, bool strict_8bitmime) {
  bool bad_address = BadAddress(message.sender);
  for (const Recipient& recipient : message.recipients) {
    bad_address = bad_address || BadAddress(recipient.address);
  }
  if (bad_address) return ServerReply::Local(501, "5.1.3", "control character in an address");
  if (NeedsSmtpUtf8(message) && !caps.smtputf8) {
    return ServerReply::Local(553, "5.6.7",
                              "message needs SMTPUTF8, which the server does not support");
  }
  if (message.needs_8bit && !caps.eightbitmime && strict_8bitmime) {
    return ServerReply::Local(554, "5.6.3",
                              "message needs 8BITMIME, which the server does not support");
  }
  return std::nullopt;
}

std::string MailFromLine(const OutboundMessage& message, const ServerCapabilities& caps,
                         size_t body_size) {
  std::string mail = absl::StrCat("MAIL FROM:<", message.sender.ToString(), ">");
  if (caps.size) absl::StrAppend(&mail, " SIZE=", body_size);
  if (message.needs_8bit && caps.eightbitmime) mail += " BODY=8BITMIME";
  if (NeedsSmtpUtf8(message)) mail += " SMTPUTF8";
  if (caps.dsn) {
    if (message.ret == DsnRet::kFull) mail += " RET=FULL";
    if (message.ret == DsnRet::kHeaders) mail += " RET=HDRS";
    if (!message.envid.empty()) absl::StrAppend(&mail, " ENVID=", EncodeXtext(message.envid));
  }
  return mail;
}

std::string RcptToLine(const Recipient& recipient, const ServerCapabilities& caps) {
  std::string line = absl::StrCat("RCPT TO:<", recipient.address.ToString(), ">");
  if (caps.dsn) {
    if (recipient.notify & kNotifyNever) {
      line += " NOTIFY=NEVER";
    } else if (recipient.notify != 0) {
      line += " NOTIFY=";
      static constexpr std::pair<uint8_t, std::string_view> kNames[] = {
          {kNotifySuccess, "SUCCESS"}, {kNotifyFailure, "FAILURE"}, {kNotifyDelay, "DELAY"}};
      bool first = true;
      for (const auto& [bit, name] : kNames) {
        if (!(recipient.notify & bit)) continue;
        if (!first) line += ",";
        line += name;
        first = false;
      }
    }
    if (!recipient.orcpt.empty()) {
      absl::StrAppend(&line,
                      " ORCPT=", recipient.orcpt_type.empty() ? "rfc822" : recipient.orcpt_type,
                      ";", EncodeXtext(recipient.orcpt));
    }
  }
  return line;
}

}  // namespace sluice::smtp
