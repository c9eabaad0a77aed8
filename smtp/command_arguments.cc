#include "smtp/command_arguments.h"

#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "smtp/xtext.h"

namespace sluice::smtp {
namespace {

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IEquals(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(Absl(a), Absl(b));
}

constexpr size_t kMaxEnvidOctets = 100;  // RFC 3461 4.4
constexpr size_t kMaxOrcptOctets = 500;  // RFC 3461 4.2

// RFC 1870 size-value = 1*20DIGIT; a value past uint64 is simply too big.
bool ParseSize(std::string_view digits, uint64_t* size) {
  if (digits.empty() || digits.size() > 20) return false;
  uint64_t value = 0;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      value = UINT64_MAX;
    } else {
      value = value * 10 + digit;
    }
  }
  *size = value;
  return true;
}

ParameterError Malformed(std::string_view text) { return {501, "5.5.4", std::string(text)}; }

}  // namespace

std::optional<ParameterError> ParseMailParameters(absl::Span<const EsmtpParam> params,
                                                  uint64_t max_message_size, bool authenticated,
                                                  Envelope* envelope) {
  bool seen_size = false, seen_body = false, seen_ret = false, seen_envid = false,
       seen_auth = false;
  for (const EsmtpParam& param : params) {
    auto duplicate = [&](bool* seen) {
      if (*seen) return true;
      *seen = true;
      return false;
    };
    const std::string& key = param.keyword;
    if (key == "SIZE") {
      if (duplicate(&seen_size) || !param.has_value ||
          !ParseSize(param.value, &envelope->declared_size)) {
        return Malformed("Error: bad SIZE parameter");
      }
      if (max_message_size != 0 && envelope->declared_size > max_message_size) {
        return ParameterError{552, "5.3.4",
                              "Error: message size exceeds fixed maximum message size",
                              /*bad_command=*/false};
      }
    } else if (key == "BODY") {
      if (duplicate(&seen_body) || !param.has_value) return Malformed("Error: bad BODY parameter");
      if (IEquals(param.value, "7BIT")) {
        envelope->body = BodyType::k7Bit;
      } else if (IEquals(param.value, "8BITMIME")) {
        envelope->body = BodyType::k8BitMime;
      } else {
        return ParameterError{555, "5.5.4", "Error: unsupported BODY type"};
      }
    } else if (key == "SMTPUTF8") {
      if (envelope->smtputf8 || param.has_value) return Malformed("Error: bad SMTPUTF8 parameter");
      envelope->smtputf8 = true;
    } else if (key == "RET") {
      if (duplicate(&seen_ret) || !param.has_value) return Malformed("Error: bad RET parameter");
      if (IEquals(param.value, "FULL")) {
        envelope->ret = DsnRet::kFull;
      } else if (IEquals(param.value, "HDRS")) {
        envelope->ret = DsnRet::kHeaders;
      } else {
        return Malformed("Error: bad RET parameter");
      }
    } else if (key == "ENVID") {
      absl::StatusOr<std::string> envid =
          param.has_value ? DecodeXtext(param.value) : absl::InvalidArgumentError("");
      if (duplicate(&seen_envid) || !envid.ok() || param.value.size() > kMaxEnvidOctets) {
        return Malformed("Error: bad ENVID parameter");
      }
      envelope->envid = *std::move(envid);
    } else if (key == "AUTH") {
      absl::StatusOr<std::string> auth =
          param.has_value ? DecodeXtext(param.value) : absl::InvalidArgumentError("");
      if (duplicate(&seen_auth) || !auth.ok()) return Malformed("Error: bad AUTH parameter");
      // RFC 4954 5: trust the claim only from an authenticated client.
      envelope->auth = authenticated ? *std::move(auth) : "<>";
    } else {
      return ParameterError{555, "5.5.4", absl::StrCat("Error: unsupported parameter ", key)};
    }
  }
  return std::nullopt;
}

std::optional<ParameterError> ParseRcptParameters(absl::Span<const EsmtpParam> params,
                                                  Recipient* recipient) {
  bool seen_orcpt = false;
  for (const EsmtpParam& param : params) {
    if (param.keyword == "NOTIFY") {
      if (recipient->notify != 0 || !param.has_value) {
        return Malformed("Error: bad NOTIFY parameter");
      }
      for (absl::string_view word : absl::StrSplit(Absl(param.value), ',')) {
        uint8_t bit = 0;
        if (absl::EqualsIgnoreCase(word, "NEVER")) bit = kNotifyNever;
        if (absl::EqualsIgnoreCase(word, "SUCCESS")) bit = kNotifySuccess;
        if (absl::EqualsIgnoreCase(word, "FAILURE")) bit = kNotifyFailure;
        if (absl::EqualsIgnoreCase(word, "DELAY")) bit = kNotifyDelay;
        if (bit == 0 || (recipient->notify & bit) != 0) {
          return Malformed("Error: bad NOTIFY parameter");
        }
        recipient->notify |= bit;
      }
      if ((recipient->notify & kNotifyNever) != 0 && recipient->notify != kNotifyNever) {
        return Malformed("Error: NOTIFY=NEVER must stand alone");
      }
    } else if (param.keyword == "ORCPT") {
      const size_t semicolon = param.value.find(';');
      if (seen_orcpt || !param.has_value || semicolon == std::string::npos || semicolon == 0 ||
          semicolon + 1 == param.value.size() || param.value.size() > kMaxOrcptOctets) {
        return Malformed("Error: bad ORCPT parameter");
      }
      seen_orcpt = true;
      recipient->orcpt_type = param.value.substr(0, semicolon);
      const std::string_view value = std::string_view(param.value).substr(semicolon + 1);
      if (IEquals(recipient->orcpt_type, "rfc822")) {
        absl::StatusOr<std::string> decoded = DecodeXtext(value);
        if (!decoded.ok()) return Malformed("Error: bad ORCPT parameter");
        recipient->orcpt = *std::move(decoded);
      } else {
        // utf-8-addr-xtext / unitext (RFC 6533) are kept as sent.
        recipient->orcpt = std::string(value);
      }
    } else {
      return ParameterError{555, "5.5.4",
                            absl::StrCat("Error: unsupported parameter ", param.keyword)};
    }
  }
  return std::nullopt;
}

}  // namespace sluice::smtp
