#include "mail/verp.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "openssl/crypto.h"
#include "openssl/hmac.h"

namespace sluice::mail {
namespace {

constexpr size_t kMacBytes = 8;

absl::Status NotVerp(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("not a VERP address of ours: ", why));
}

}  // namespace

absl::StatusOr<Verp> Verp::Create(std::string secret) {
  if (secret.size() < 32) return absl::InvalidArgumentError("a VERP secret needs 32 bytes or more");
  return Verp(std::move(secret));
}

std::string Verp::Mac(absl::string_view id, uint32_t recipient, absl::string_view domain) const {
  const std::string input = absl::StrCat(id, "\n", recipient, "\n", domain);
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), secret_.size(), reinterpret_cast<const uint8_t*>(input.data()),
       input.size(), mac, &length);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(mac), std::min<size_t>(kMacBytes, length)));
}

std::string Verp::Encode(const common::MessageId& id, uint32_t recipient,
                         absl::string_view bounce_domain) const {
  const std::string domain = absl::AsciiStrToLower(bounce_domain);
  const std::string id_text = id.ToString();
  return absl::StrCat("b-", id_text, "-", recipient, "-", Mac(id_text, recipient, domain), "@",
                      domain);
}

absl::StatusOr<VerpTarget> Verp::Decode(absl::string_view address) const {
  const size_t at = address.rfind('@');
  if (at == absl::string_view::npos) return NotVerp("no domain");
  const std::string local = absl::AsciiStrToLower(address.substr(0, at));
  VerpTarget target;
  target.domain = absl::AsciiStrToLower(address.substr(at + 1));
  const std::vector<absl::string_view> parts = absl::StrSplit(local, '-');
  if (parts.size() != 4 || parts[0] != "b") return NotVerp("not b-ID-INDEX-MAC");
  absl::StatusOr<common::MessageId> id = common::MessageId::Parse(parts[1]);
  if (!id.ok()) return NotVerp("bad message id");
  if (!absl::SimpleAtoi(parts[2], &target.recipient) || parts[2].empty() ||
      (parts[2].size() > 1 && parts[2][0] == '0')) {
    return NotVerp("bad recipient index");
  }
  const std::string expected = Mac(id->ToString(), target.recipient, target.domain);
  if (parts[3].size() != expected.size() ||
      CRYPTO_memcmp(parts[3].data(), expected.data(), expected.size()) != 0) {
    return NotVerp("the MAC does not match");
  }
  target.message_id = *id;
  return target;
}

}  // namespace sluice::mail
