#include "tls/server_context.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "openssl/err.h"
#include "openssl/x509.h"
#include "tls/alpn.h"
#include "tls/ssl_error.h"

namespace sluice::tls {
namespace {

absl::Status CheckVersions(uint16_t min_version, uint16_t max_version) {
  auto known = [](uint16_t v) { return v == TLS1_2_VERSION || v == TLS1_3_VERSION; };
  if (!known(min_version) || !known(max_version) || min_version > max_version) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS versions must be TLS 1.2 or 1.3 with min <= max (got 0x",
                     absl::Hex(min_version), "..0x", absl::Hex(max_version), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

ServerContext::ServerContext(const ServerOptions& options) : options_(options) {}

absl::StatusOr<std::shared_ptr<const ServerContext>> ServerContext::Create(
    const ServerOptions& options) {
  auto context = std::make_shared<ServerContext>(options);
  SLUICE_RETURN_IF_ERROR(context->Init());
  return std::shared_ptr<const ServerContext>(std::move(context));
}

absl::StatusOr<std::shared_ptr<const ServerContext>> ServerContext::Reload() const {
  return Create(options_);
}

absl::Status ServerContext::Init() {
  SLUICE_RETURN_IF_ERROR(CheckVersions(options_.min_version, options_.max_version));
  if (options_.cert_chain_file.empty() || options_.key_file.empty()) {
    return absl::InvalidArgumentError("TLS server: certificate and key files are required");
  }
  SLUICE_ASSIGN_OR_RETURN(alpn_wire_, EncodeAlpn(options_.alpn));
  ERR_clear_error();
  ctx_.reset(SSL_CTX_new(TLS_method()));
  if (ctx_ == nullptr) return SslError("SSL_CTX_new");
  SSL_CTX* ctx = ctx_.get();
  if (!SSL_CTX_set_min_proto_version(ctx, options_.min_version) ||
      !SSL_CTX_set_max_proto_version(ctx, options_.max_version)) {
    return SslError("TLS server: protocol versions");
  }
  if (!SSL_CTX_use_certificate_chain_file(ctx, options_.cert_chain_file.c_str())) {
    return SslError(absl::StrCat("TLS server: certificate chain ", options_.cert_chain_file),
                    absl::StatusCode::kInvalidArgument);
  }
  if (!SSL_CTX_use_PrivateKey_file(ctx, options_.key_file.c_str(), SSL_FILETYPE_PEM)) {
    return SslError(absl::StrCat("TLS server: private key ", options_.key_file),
                    absl::StatusCode::kInvalidArgument);
  }
  if (!SSL_CTX_check_private_key(ctx)) {
    return SslError(absl::StrCat("TLS server: key ", options_.key_file, " does not match ",
                                 options_.cert_chain_file),
                    absl::StatusCode::kInvalidArgument);
  }
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Tickets are on by default; the session id context lets TLS 1.2
  // session-id resumption work too.
  static constexpr uint8_t kSessionIdContext[] = {'s', 'l', 'u', 'i', 'c', 'e'};
  if (!SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof(kSessionIdContext))) {
    return SslError("TLS server: session id context");
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  if (!alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(ctx, &ServerContext::SelectAlpn, this);

  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned digest_len = 0;
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  if (leaf == nullptr || !X509_digest(leaf, EVP_sha256(), digest, &digest_len)) {
    return SslError("TLS server: certificate digest");
  }
  certificate_sha256_ =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), digest_len));
  return absl::OkStatus();
}

int ServerContext::SelectAlpn(SSL* /*ssl*/, const uint8_t** out, uint8_t* out_len,
                              const uint8_t* in, unsigned in_len, void* arg) {
  const auto* self = static_cast<const ServerContext*>(arg);
  uint8_t* selected = nullptr;
  // Server preference: the first of our protocols that the client offers.
  if (SSL_select_next_proto(
          &selected, out_len, reinterpret_cast<const uint8_t*>(self->alpn_wire_.data()),
          static_cast<unsigned>(self->alpn_wire_.size()), in, in_len) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

absl::StatusOr<std::unique_ptr<TlsSession>> ServerContext::NewSession() const {
  ERR_clear_error();
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx_.get()));
  if (ssl == nullptr) return SslError("SSL_new", absl::StatusCode::kResourceExhausted);
  SSL_set_accept_state(ssl.get());
  return TlsSession::Wrap(std::move(ssl), shared_from_this());
}

}  // namespace sluice::tls
