#include "smtp/auth_exchange.h"

#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"

namespace sluice::smtp {
namespace {

bool DecodeBase64(std::string_view text, std::string* out) {
  // absl accepts a few things RFC 4648 does not; refuse them here.
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && c != '=') {
      return false;
    }
  }
  if (text.size() % 4 != 0) return false;
  return absl::Base64Unescape(absl::string_view(text.data(), text.size()), out);
}

AuthExchange::Step Failed(std::string_view enhanced, std::string_view text) {
  return {AuthExchange::Outcome::kFailed, enhanced, text};
}

}  // namespace

bool AuthExchange::Start(std::string_view mechanism) {
  request_ = AuthRequest();
  request_.mechanism = std::string(mechanism);
  if (mechanism == "PLAIN") {
    step_ = Expect::kPlain;
  } else if (mechanism == "LOGIN") {
    step_ = Expect::kLoginUser;
  } else {
    step_ = Expect::kNothing;
    return false;
  }
  return true;
}

std::string_view AuthExchange::FirstChallenge() const {
  return step_ == Expect::kPlain ? "" : "VXNlcm5hbWU6";  // "Username:"
}

AuthExchange::Step AuthExchange::Respond(std::string_view line) {
  ABSL_RAW_CHECK(step_ != Expect::kNothing, "AuthExchange::Respond() outside an exchange");
  const Expect step = std::exchange(step_, Expect::kNothing);
  if (line == "*") return Failed("5.0.0", "Error: authentication cancelled");
  std::string decoded;
  if (!DecodeBase64(line, &decoded)) return Failed("5.5.2", "Error: cannot decode response");
  if (step == Expect::kPlain) {
    // authzid NUL authcid NUL passwd (RFC 4616 2).
    const size_t first = decoded.find('\0');
    const size_t second =
        first == std::string::npos ? std::string::npos : decoded.find('\0', first + 1);
    if (second == std::string::npos || decoded.find('\0', second + 1) != std::string::npos ||
        second == first + 1) {
      return Failed("5.5.2", "Error: malformed PLAIN response");
    }
    request_.authzid = decoded.substr(0, first);
    request_.user = decoded.substr(first + 1, second - first - 1);
    request_.password = decoded.substr(second + 1);
    return {Outcome::kComplete, "", ""};
  }
  if (step == Expect::kLoginUser) {
    if (decoded.empty() || decoded.find('\0') != std::string::npos) {
      return Failed("5.5.2", "Error: malformed LOGIN user name");
    }
    request_.user = std::move(decoded);
    step_ = Expect::kLoginPassword;
    return {Outcome::kChallenge, "", "UGFzc3dvcmQ6"};  // "Password:"
  }
  request_.password = std::move(decoded);
  return {Outcome::kComplete, "", ""};
}

void AuthExchange::Clear() {
  request_.password.assign(request_.password.size(), '\0');
  request_ = AuthRequest();
}

}  // namespace sluice::smtp
