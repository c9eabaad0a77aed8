#include "mail/dkim_key.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/secret_file.h"
#include "openssl/bytestring.h"
#include "openssl/err.h"
#include "openssl/pem.h"
#include "openssl/rsa.h"
#include "tls/ssl_error.h"

namespace sluice::mail {
namespace {

constexpr int kMinRsaBits = 1024;

}  // namespace

absl::string_view DkimAlgorithmName(DkimAlgorithm algorithm) {
  return algorithm == DkimAlgorithm::kRsaSha256 ? "rsa-sha256" : "ed25519-sha256";
}

DkimKey::DkimKey(bssl::UniquePtr<EVP_PKEY> key, DkimAlgorithm algorithm)
    : key_(std::move(key)), algorithm_(algorithm) {}

absl::StatusOr<std::shared_ptr<const DkimKey>> DkimKey::Adopt(bssl::UniquePtr<EVP_PKEY> key) {
  switch (EVP_PKEY_id(key.get())) {
    case EVP_PKEY_RSA:
      if (EVP_PKEY_bits(key.get()) < kMinRsaBits) {
        return absl::InvalidArgumentError(absl::StrCat("RSA key of ", EVP_PKEY_bits(key.get()),
                                                       " bits; DKIM needs 1024 or more"));
      }
      return std::shared_ptr<const DkimKey>(new DkimKey(std::move(key), DkimAlgorithm::kRsaSha256));
    case EVP_PKEY_ED25519:
      return std::shared_ptr<const DkimKey>(
          new DkimKey(std::move(key), DkimAlgorithm::kEd25519Sha256));
    default:
      return absl::InvalidArgumentError("not an RSA or Ed25519 key");
  }
}

absl::StatusOr<std::shared_ptr<const DkimKey>> DkimKey::FromPem(absl::string_view pem) {
  ERR_clear_error();
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<long>(pem.size())));
  bssl::UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return tls::SslError("no PEM private key", absl::StatusCode::kInvalidArgument);
  }
  return Adopt(std::move(key));
}

absl::StatusOr<std::shared_ptr<const DkimKey>> DkimKey::LoadFile(const std::string& path) {
  absl::StatusOr<std::string> text = common::ReadSecretFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::shared_ptr<const DkimKey>> key = FromPem(*text);
  if (!key.ok()) {
    return absl::Status(key.status().code(), absl::StrCat(path, ": ", key.status().message()));
  }
  return key;
}

absl::StatusOr<std::shared_ptr<const DkimKey>> DkimKey::FromEd25519Seed(absl::string_view seed) {
  if (seed.size() != 32) return absl::InvalidArgumentError("an Ed25519 seed is 32 bytes");
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const uint8_t*>(seed.data()), seed.size()));
  if (key == nullptr) return tls::SslError("Ed25519 key");
  return Adopt(std::move(key));
}

absl::StatusOr<std::shared_ptr<const DkimKey>> DkimKey::Generate(DkimAlgorithm algorithm,
                                                                 int rsa_bits) {
  const bool rsa = algorithm == DkimAlgorithm::kRsaSha256;
  if (rsa && rsa_bits < 2048) {
    return absl::InvalidArgumentError("generate RSA keys of 2048 bits or more");
  }
  bssl::UniquePtr<EVP_PKEY_CTX> ctx(
      EVP_PKEY_CTX_new_id(rsa ? EVP_PKEY_RSA : EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* generated = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      (rsa && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), rsa_bits) != 1) ||
      EVP_PKEY_keygen(ctx.get(), &generated) != 1) {
    return tls::SslError("key generation");
  }
  return Adopt(bssl::UniquePtr<EVP_PKEY>(generated));
}

int DkimKey::bits() const { return EVP_PKEY_bits(key_.get()); }

absl::StatusOr<std::string> DkimKey::Sign(const Sha256Digest& digest) const {
  ERR_clear_error();
  std::string signature;
  if (algorithm_ == DkimAlgorithm::kEd25519Sha256) {
    bssl::ScopedEVP_MD_CTX ctx;
    size_t length = 64;
    signature.resize(length);
    if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), reinterpret_cast<uint8_t*>(signature.data()), &length,
                       digest.data(), digest.size()) != 1) {
      return tls::SslError("Ed25519 signature");
    }
    signature.resize(length);
    return signature;
  }
  bssl::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
  size_t length = 0;
  if (ctx == nullptr || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_sign(ctx.get(), nullptr, &length, digest.data(), digest.size()) != 1) {
    return tls::SslError("RSA signature");
  }
  signature.resize(length);
  if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<uint8_t*>(signature.data()), &length, digest.data(),
                    digest.size()) != 1) {
    return tls::SslError("RSA signature");
  }
  signature.resize(length);
  return signature;
}

absl::StatusOr<std::string> DkimKey::DnsRecord() const {
  std::string public_key;
  if (algorithm_ == DkimAlgorithm::kEd25519Sha256) {
    uint8_t raw[32];
    size_t length = sizeof(raw);
    if (EVP_PKEY_get_raw_public_key(key_.get(), raw, &length) != 1) {
      return tls::SslError("Ed25519 public key");
    }
    public_key.assign(reinterpret_cast<const char*>(raw), length);
  } else {
    bssl::ScopedCBB cbb;
    uint8_t* der = nullptr;
    size_t length = 0;
    if (CBB_init(cbb.get(), 512) != 1 || EVP_marshal_public_key(cbb.get(), key_.get()) != 1 ||
        CBB_finish(cbb.get(), &der, &length) != 1) {
      return tls::SslError("RSA public key");
    }
    public_key.assign(reinterpret_cast<const char*>(der), length);
    OPENSSL_free(der);
  }
  return absl::StrCat("v=DKIM1; k=", algorithm_ == DkimAlgorithm::kRsaSha256 ? "rsa" : "ed25519",
                      "; p=", absl::Base64Escape(public_key));
}

absl::StatusOr<std::string> DkimKey::PrivateKeyPem() const {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
      1) {
    return tls::SslError("PEM encoding");
  }
  const uint8_t* data = nullptr;
  size_t length = 0;
  BIO_mem_contents(bio.get(), &data, &length);
  return std::string(reinterpret_cast<const char*>(data), length);
}

}  // namespace sluice::mail
