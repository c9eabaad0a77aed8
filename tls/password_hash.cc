#include "tls/password_hash.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "openssl/base64.h"
#include "openssl/crypto.h"
#include "openssl/digest.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/mem.h"
#include "openssl/rand.h"
#include "tls/ssl_error.h"

namespace sluice::tls {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr uint32_t kMaxPbkdf2Iterations = 10'000'000;
constexpr uint64_t kMaxScryptMemory = 256ull << 20;
constexpr size_t kMaxSaltBytes = 1024;
constexpr size_t kMinHashBytes = 16;
constexpr size_t kMaxHashBytes = 512;

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string_view StdView(absl::string_view s) { return std::string_view(s.data(), s.size()); }

absl::Status Malformed(std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed password hash: ", AbslView(why)));
}

// Unpadded standard base64.
std::string B64Encode(std::string_view bytes) {
  size_t len = 0;
  EVP_EncodedLength(&len, bytes.size());
  std::string out(len, '\0');
  size_t n = EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()),
                             reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  out.resize(n);
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// Unpadded (or padded) standard base64; passlib's "ab64" when `adapted`
// ('.' for '+').
absl::StatusOr<std::string> B64Decode(std::string_view text, bool adapted, std::string_view what) {
  std::string in(text);
  if (adapted) {
    for (char& c : in) {
      if (c == '.') c = '+';
    }
  }
  while (!in.empty() && in.back() == '=') in.pop_back();
  if (in.size() % 4 == 1) return Malformed(absl::StrCat(AbslView(what), " is not base64"));
  while (in.size() % 4 != 0) in.push_back('=');
  size_t max_len = 0;
  if (!EVP_DecodedLength(&max_len, in.size())) {
    return Malformed(absl::StrCat(AbslView(what), " is not base64"));
  }
  std::string out(max_len, '\0');
  size_t out_len = 0;
  if (!EVP_DecodeBase64(reinterpret_cast<uint8_t*>(out.data()), &out_len, max_len,
                        reinterpret_cast<const uint8_t*>(in.data()), in.size())) {
    ERR_clear_error();
    return Malformed(absl::StrCat(AbslView(what), " is not base64"));
  }
  out.resize(out_len);
  return out;
}

struct Parsed {
  PasswordScheme scheme;
  uint32_t iterations = 0;  // pbkdf2
  int log2_n = 0;           // scrypt
  uint32_t r = 0;
  uint32_t p = 0;
  std::string salt;
  std::string hash;
};

absl::StatusOr<uint32_t> ParseNumber(std::string_view text, std::string_view what) {
  uint32_t value = 0;
  if (text.empty() || text.size() > 10 || !absl::SimpleAtoi(AbslView(text), &value) ||
      text.find_first_not_of("0123456789") != std::string_view::npos) {
    return Malformed(absl::StrCat(AbslView(what), " '", AbslView(text), "' is not a number"));
  }
  return value;
}

absl::Status CheckScryptParams(int log2_n, uint32_t r, uint32_t p) {
  if (log2_n < 1 || log2_n > 30) return Malformed("scrypt ln must be 1..30");
  if (r < 1 || r > 64) return Malformed("scrypt r must be 1..64");
  if (p < 1 || p > 64) return Malformed("scrypt p must be 1..64");
  const uint64_t memory = (uint64_t{128} * r) << log2_n;
  if (memory > kMaxScryptMemory) {
    return Malformed(absl::StrCat("scrypt parameters need ", memory >> 20, " MiB (limit ",
                                  kMaxScryptMemory >> 20, " MiB)"));
  }
  return absl::OkStatus();
}

absl::Status ParseSaltAndHash(std::string_view salt_text, std::string_view hash_text, bool adapted,
                              Parsed* out) {
  SLUICE_ASSIGN_OR_RETURN(out->salt, B64Decode(salt_text, adapted, "salt"));
  SLUICE_ASSIGN_OR_RETURN(out->hash, B64Decode(hash_text, adapted, "hash"));
  if (out->salt.empty() || out->salt.size() > kMaxSaltBytes) {
    return Malformed(absl::StrCat("salt must be 1..", kMaxSaltBytes, " bytes"));
  }
  if (out->hash.size() < kMinHashBytes || out->hash.size() > kMaxHashBytes) {
    return Malformed(absl::StrCat("hash must be ", kMinHashBytes, "..", kMaxHashBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Parsed> Parse(std::string_view encoded) {
  // "$id$params$salt$hash" splits into "", id, params, salt, hash.
  std::vector<absl::string_view> fields = absl::StrSplit(AbslView(encoded), '$');
  if (encoded.empty() || encoded[0] != '$' || fields.size() != 5) {
    return Malformed("expected $<scheme>$<parameters>$<salt>$<hash>");
  }
  const absl::string_view id = fields[1];
  const absl::string_view params = fields[2];
  Parsed out;
  if (id == "pbkdf2-sha256") {
    out.scheme = PasswordScheme::kPbkdf2Sha256;
    bool passlib = false;
    if (absl::StartsWith(params, "i=")) {
      SLUICE_ASSIGN_OR_RETURN(out.iterations, ParseNumber(StdView(params.substr(2)), "iterations"));
    } else {
      // passlib: the bare iteration count, salt and hash in ab64.
      SLUICE_ASSIGN_OR_RETURN(out.iterations, ParseNumber(StdView(params), "iterations"));
      passlib = true;
    }
    if (out.iterations < 1 || out.iterations > kMaxPbkdf2Iterations) {
      return Malformed(absl::StrCat("pbkdf2 iterations must be 1..", kMaxPbkdf2Iterations));
    }
    SLUICE_RETURN_IF_ERROR(ParseSaltAndHash(StdView(fields[3]), StdView(fields[4]), passlib, &out));
    return out;
  }
  if (id == "scrypt") {
    out.scheme = PasswordScheme::kScrypt;
    bool have_ln = false, have_r = false, have_p = false;
    for (absl::string_view kv : absl::StrSplit(params, ',')) {
      std::pair<absl::string_view, absl::string_view> p =
          absl::StrSplit(kv, absl::MaxSplits('=', 1));
      SLUICE_ASSIGN_OR_RETURN(uint32_t value, ParseNumber(StdView(p.second), StdView(p.first)));
      if (p.first == "ln" && !have_ln) {
        have_ln = true;
        out.log2_n = value > 63 ? 63 : static_cast<int>(value);
      } else if (p.first == "r" && !have_r) {
        have_r = true;
        out.r = value;
      } else if (p.first == "p" && !have_p) {
        have_p = true;
        out.p = value;
      } else {
        return Malformed(absl::StrCat("unexpected scrypt parameter '", p.first, "'"));
      }
    }
    if (!have_ln || !have_r || !have_p) return Malformed("scrypt needs ln=, r= and p=");
    SLUICE_RETURN_IF_ERROR(CheckScryptParams(out.log2_n, out.r, out.p));
    SLUICE_RETURN_IF_ERROR(ParseSaltAndHash(StdView(fields[3]), StdView(fields[4]), false, &out));
    return out;
  }
  return Malformed(absl::StrCat("unknown scheme '", id, "' (expected pbkdf2-sha256 or scrypt)"));
}

absl::StatusOr<std::string> Derive(const Parsed& parsed, std::string_view password) {
  if (parsed.scheme == PasswordScheme::kPbkdf2Sha256) {
    return Pbkdf2HmacSha256(password, parsed.salt, parsed.iterations, parsed.hash.size());
  }
  return Scrypt(password, parsed.salt, uint64_t{1} << parsed.log2_n, parsed.r, parsed.p,
                parsed.hash.size());
}

}  // namespace

absl::StatusOr<std::string> Pbkdf2HmacSha256(std::string_view password, std::string_view salt,
                                             uint32_t iterations, size_t length) {
  if (iterations == 0) return absl::InvalidArgumentError("PBKDF2: iterations must be positive");
  std::string out(length, '\0');
  ERR_clear_error();
  if (!PKCS5_PBKDF2_HMAC(password.data(), password.size(),
                         reinterpret_cast<const uint8_t*>(salt.data()), salt.size(), iterations,
                         EVP_sha256(), length, reinterpret_cast<uint8_t*>(out.data()))) {
    return SslError("PBKDF2-HMAC-SHA256");
  }
  return out;
}

absl::StatusOr<std::string> Scrypt(std::string_view password, std::string_view salt, uint64_t n,
                                   uint32_t r, uint32_t p, size_t length) {
  std::string out(length, '\0');
  // The working memory scrypt needs: V (N blocks) plus B and XY.
  const size_t max_mem = 128 * size_t{r} * (n + p + 2) + (1 << 20);
  ERR_clear_error();
  if (!EVP_PBE_scrypt(password.data(), password.size(),
                      reinterpret_cast<const uint8_t*>(salt.data()), salt.size(), n, r, p, max_mem,
                      reinterpret_cast<uint8_t*>(out.data()), length)) {
    return SslError("scrypt", absl::StatusCode::kInvalidArgument);
  }
  return out;
}

absl::StatusOr<std::string> HashPassword(std::string_view password, PasswordScheme scheme) {
  PasswordHashOptions options;
  options.scheme = scheme;
  return HashPassword(password, options);
}

absl::StatusOr<std::string> HashPassword(std::string_view password,
                                         const PasswordHashOptions& options) {
  std::string salt(kSaltBytes, '\0');
  RAND_bytes(reinterpret_cast<uint8_t*>(salt.data()), salt.size());
  if (options.scheme == PasswordScheme::kPbkdf2Sha256) {
    if (options.pbkdf2_iterations < 1 || options.pbkdf2_iterations > kMaxPbkdf2Iterations) {
      return absl::InvalidArgumentError(
          absl::StrCat("pbkdf2 iterations must be 1..", kMaxPbkdf2Iterations));
    }
    SLUICE_ASSIGN_OR_RETURN(
        std::string hash, Pbkdf2HmacSha256(password, salt, options.pbkdf2_iterations, kHashBytes));
    return absl::StrCat("$pbkdf2-sha256$i=", options.pbkdf2_iterations, "$", B64Encode(salt), "$",
                        B64Encode(hash));
  }
  absl::Status params =
      CheckScryptParams(options.scrypt_log2_n, options.scrypt_r, options.scrypt_p);
  if (!params.ok()) return absl::InvalidArgumentError(params.message());
  SLUICE_ASSIGN_OR_RETURN(std::string hash,
                          Scrypt(password, salt, uint64_t{1} << options.scrypt_log2_n,
                                 options.scrypt_r, options.scrypt_p, kHashBytes));
  return absl::StrCat("$scrypt$ln=", options.scrypt_log2_n, ",r=", options.scrypt_r,
                      ",p=", options.scrypt_p, "$", B64Encode(salt), "$", B64Encode(hash));
}

absl::StatusOr<bool> VerifyPassword(std::string_view password, std::string_view encoded) {
  SLUICE_ASSIGN_OR_RETURN(Parsed parsed, Parse(encoded));
  SLUICE_ASSIGN_OR_RETURN(std::string derived, Derive(parsed, password));
  // Same length by construction; CRYPTO_memcmp's time depends only on it.
  const bool match = derived.size() == parsed.hash.size() &&
                     CRYPTO_memcmp(derived.data(), parsed.hash.data(), derived.size()) == 0;
  OPENSSL_cleanse(derived.data(), derived.size());
  return match;
}

absl::Status CheckPasswordHash(std::string_view encoded) { return Parse(encoded).status(); }

}  // namespace sluice::tls
