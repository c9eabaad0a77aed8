// Envelope: what one SMTP transaction (MAIL, RCPT..., DATA/BDAT) carries
// besides the body: the reverse path, the recipients and the parameters of
// SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), DSN (RFC 3461) and
// AUTH= (RFC 4954). Plain data; the server session fills it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "smtp/address.h"

namespace sluice::smtp {

enum class BodyType { kUnspecified, k7Bit, k8BitMime };

// RFC 3461 RET.
enum class DsnRet { kUnspecified, kFull, kHeaders };

// RFC 3461 NOTIFY, a bit set; 0 means the parameter was not given.
inline constexpr uint8_t kNotifyNever = 1;
inline constexpr uint8_t kNotifySuccess = 2;
inline constexpr uint8_t kNotifyFailure = 4;
inline constexpr uint8_t kNotifyDelay = 8;

struct Recipient {
  Address address;
  uint8_t notify = 0;
  // ORCPT=addr-type;xtext: the type ("rfc822", "utf-8") and the decoded
  // address. Both empty when ORCPT was not given.
  std::string orcpt_type;
  std::string orcpt;
};

struct Envelope {
  Address mail_from;           // IsNull() for "<>"
  uint64_t declared_size = 0;  // SIZE=, 0 if not given
  BodyType body = BodyType::kUnspecified;
  bool smtputf8 = false;
  DsnRet ret = DsnRet::kUnspecified;
  std::string envid;  // ENVID=, xtext-decoded
  // AUTH= of MAIL (RFC 4954 5), decoded; kept only from authenticated
  // clients, "<>" otherwise; empty when not given.
  std::string auth;
  std::vector<Recipient> recipients;
};

}  // namespace sluice::smtp
