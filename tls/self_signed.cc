#include "tls/self_signed.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "openssl/bn.h"
#include "openssl/ec_key.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/nid.h"
#include "openssl/pem.h"
#include "openssl/rsa.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"
#include "tls/ssl_error.h"

namespace sluice::tls {
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> GenerateKey(KeyType type) {
  bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new());
  if (pkey == nullptr) return SslError("EVP_PKEY_new");
  if (type == KeyType::kEcP256) {
    bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
    if (ec == nullptr || !EC_KEY_generate_key(ec.get())) return SslError("EC key generation");
    if (!EVP_PKEY_assign_EC_KEY(pkey.get(), ec.release())) return SslError("EVP_PKEY_assign");
  } else {
    bssl::UniquePtr<RSA> rsa(RSA_new());
    bssl::UniquePtr<BIGNUM> e(BN_new());
    if (rsa == nullptr || e == nullptr || !BN_set_word(e.get(), RSA_F4) ||
        !RSA_generate_key_ex(rsa.get(), 2048, e.get(), nullptr)) {
      return SslError("RSA key generation");
    }
    if (!EVP_PKEY_assign_RSA(pkey.get(), rsa.release())) return SslError("EVP_PKEY_assign");
  }
  return pkey;
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
  if (ext == nullptr || !X509_add_ext(cert, ext.get(), -1)) {
    return SslError(absl::StrCat("certificate extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

std::string ToPem(EVP_PKEY* pkey) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr)) return {};
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string ToPem(X509* cert) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) return {};
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

absl::StatusOr<bssl::UniquePtr<X509>> ParseCertPem(std::string_view pem) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  bssl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return SslError("parse certificate", absl::StatusCode::kInvalidArgument);
  return cert;
}

absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> ParseKeyPem(std::string_view pem) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  bssl::UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return SslError("parse private key", absl::StatusCode::kInvalidArgument);
  return key;
}

absl::Status Errno(std::string_view what, std::string_view path) {
  return absl::Status(absl::ErrnoToStatusCode(errno),
                      absl::StrCat(AbslView(what), " ", AbslView(path), ": ", strerror(errno)));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status status = Errno("read", path);
      close(fd);
      return status;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// Writes `contents` to `path` with `mode` through a synced temporary file.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents, mode_t mode) {
  const std::string tmp = path + ".tmp";
  unlink(tmp.c_str());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Errno("create", tmp);
  // The umask may have narrowed `mode`; never widened it, but be exact.
  if (fchmod(fd, mode) != 0) {
    absl::Status status = Errno("chmod", tmp);
    close(fd);
    return status;
  }
  while (!contents.empty()) {
    ssize_t n = write(fd, contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status status = Errno("write", tmp);
      close(fd);
      return status;
    }
    contents.remove_prefix(static_cast<size_t>(n));
  }
  if (fsync(fd) != 0) {
    absl::Status status = Errno("fsync", tmp);
    close(fd);
    return status;
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
  return absl::OkStatus();
}

absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return absl::OkStatus();
  return Errno("mkdir", path);
}

// The existing pair is usable: both parse, match, and the certificate has
// not expired.
bool ExistingPairUsable(const std::string& cert_file, const std::string& key_file) {
  absl::StatusOr<std::string> cert_pem = ReadFile(cert_file);
  absl::StatusOr<std::string> key_pem = ReadFile(key_file);
  if (!cert_pem.ok() || !key_pem.ok()) return false;
  absl::StatusOr<bssl::UniquePtr<X509>> cert = ParseCertPem(*cert_pem);
  absl::StatusOr<bssl::UniquePtr<EVP_PKEY>> key = ParseKeyPem(*key_pem);
  if (!cert.ok() || !key.ok()) return false;
  if (!X509_check_private_key(cert->get(), key->get())) {
    ERR_clear_error();
    return false;
  }
  return X509_cmp_current_time(X509_get0_notAfter(cert->get())) > 0;
}

}  // namespace

absl::StatusOr<KeyAndCertificate> GenerateCertificate(const CertificateSpec& spec,
                                                      const KeyAndCertificate* issuer) {
  ERR_clear_error();
  SLUICE_ASSIGN_OR_RETURN(bssl::UniquePtr<EVP_PKEY> key, GenerateKey(spec.key_type));
  bssl::UniquePtr<X509> issuer_cert;
  bssl::UniquePtr<EVP_PKEY> issuer_key;
  if (issuer != nullptr) {
    SLUICE_ASSIGN_OR_RETURN(issuer_cert, ParseCertPem(issuer->cert_pem));
    SLUICE_ASSIGN_OR_RETURN(issuer_key, ParseKeyPem(issuer->key_pem));
  }

  bssl::UniquePtr<X509> cert(X509_new());
  bssl::UniquePtr<BIGNUM> serial(BN_new());
  if (cert == nullptr || serial == nullptr) return SslError("X509_new");
  // A random positive 127-bit serial number.
  if (!X509_set_version(cert.get(), X509_VERSION_3) ||
      !BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return SslError("certificate serial");
  }
  const long not_before = static_cast<long>(absl::ToInt64Seconds(spec.not_before_offset));
  const long not_after =
      static_cast<long>(absl::ToInt64Seconds(spec.not_before_offset + spec.validity));
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after) == nullptr) {
    return SslError("certificate validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const uint8_t*>(spec.common_name.data()),
                                  static_cast<int>(spec.common_name.size()), -1, 0) ||
      !X509_set_issuer_name(
          cert.get(), issuer_cert != nullptr ? X509_get_subject_name(issuer_cert.get()) : name) ||
      !X509_set_pubkey(cert.get(), key.get())) {
    return SslError("certificate names");
  }

  X509* signer_cert = issuer_cert != nullptr ? issuer_cert.get() : cert.get();
  if (spec.is_ca) {
    SLUICE_RETURN_IF_ERROR(
        AddExtension(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:TRUE"));
    SLUICE_RETURN_IF_ERROR(
        AddExtension(cert.get(), signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign"));
  } else {
    SLUICE_RETURN_IF_ERROR(
        AddExtension(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:FALSE"));
    // A self-signed leaf also signs itself: keyCertSign lets verifiers see
    // it as self-issued (and lets an operator pin it as a trust anchor).
    SLUICE_RETURN_IF_ERROR(AddExtension(
        cert.get(), signer_cert, NID_key_usage,
        issuer_cert == nullptr ? "critical,digitalSignature,keyEncipherment,keyCertSign"
                               : "critical,digitalSignature,keyEncipherment"));
    SLUICE_RETURN_IF_ERROR(
        AddExtension(cert.get(), signer_cert, NID_ext_key_usage, "serverAuth,clientAuth"));
  }
  SLUICE_RETURN_IF_ERROR(AddExtension(cert.get(), signer_cert, NID_subject_key_identifier, "hash"));
  if (issuer_cert != nullptr) {
    SLUICE_RETURN_IF_ERROR(
        AddExtension(cert.get(), signer_cert, NID_authority_key_identifier, "keyid:always"));
  }
  std::vector<std::string> alt_names;
  for (const std::string& dns : spec.dns_names) alt_names.push_back(absl::StrCat("DNS:", dns));
  for (const std::string& ip : spec.ip_addresses) alt_names.push_back(absl::StrCat("IP:", ip));
  if (!alt_names.empty()) {
    SLUICE_RETURN_IF_ERROR(
        AddExtension(cert.get(), signer_cert, NID_subject_alt_name, absl::StrJoin(alt_names, ",")));
  }

  EVP_PKEY* signer_key = issuer_key != nullptr ? issuer_key.get() : key.get();
  if (!X509_sign(cert.get(), signer_key, EVP_sha256())) return SslError("certificate signature");

  KeyAndCertificate out{ToPem(key.get()), ToPem(cert.get())};
  if (out.key_pem.empty() || out.cert_pem.empty()) return SslError("PEM encoding");
  return out;
}

absl::StatusOr<SelfSignedFiles> EnsureSelfSigned(std::string_view data_dir,
                                                 std::string_view hostname) {
  if (data_dir.empty()) return absl::InvalidArgumentError("EnsureSelfSigned: empty data_dir");
  if (hostname.empty()) return absl::InvalidArgumentError("EnsureSelfSigned: empty hostname");
  const std::string dir = absl::StrCat(AbslView(data_dir), "/tls");
  SelfSignedFiles files;
  files.cert_file = dir + "/selfsigned.crt";
  files.key_file = dir + "/selfsigned.key";
  if (ExistingPairUsable(files.cert_file, files.key_file)) return files;

  SLUICE_RETURN_IF_ERROR(MakeDir(std::string(data_dir), 0755));
  SLUICE_RETURN_IF_ERROR(MakeDir(dir, 0700));
  CertificateSpec spec;
  spec.common_name = std::string(hostname);
  spec.dns_names = {std::string(hostname)};
  if (hostname != "localhost") spec.dns_names.push_back("localhost");
  spec.ip_addresses = {"127.0.0.1"};
  spec.key_type = KeyType::kEcP256;
  spec.validity = absl::Hours(24 * 365);
  SLUICE_ASSIGN_OR_RETURN(KeyAndCertificate pair, GenerateCertificate(spec));
  // The key first: a certificate without its key is never left behind as a
  // usable-looking pair (ExistingPairUsable checks they match anyway).
  SLUICE_RETURN_IF_ERROR(WriteFileAtomically(files.key_file, pair.key_pem, 0600));
  SLUICE_RETURN_IF_ERROR(WriteFileAtomically(files.cert_file, pair.cert_pem, 0644));
  files.generated = true;
  return files;
}

}  // namespace sluice::tls
