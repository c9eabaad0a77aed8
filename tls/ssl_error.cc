#include "tls/ssl_error.h"

#include "absl/strings/str_cat.h"
#include "openssl/err.h"

namespace sluice::tls {

std::string DrainSslErrors() {
  std::string out;
  const char* file = nullptr;
  int line = 0;
  while (uint32_t err = ERR_get_error_line(&file, &line)) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

absl::Status SslError(std::string_view what, absl::StatusCode code) {
  std::string errors = DrainSslErrors();
  if (errors.empty()) return absl::Status(code, absl::string_view(what.data(), what.size()));
  return absl::Status(code,
                      absl::StrCat(absl::string_view(what.data(), what.size()), ": ", errors));
}

}  // namespace sluice::tls
