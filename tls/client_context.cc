#include "tls/client_context.h"

#include <arpa/inet.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "openssl/err.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"
#include "tls/alpn.h"
#include "tls/ssl_error.h"

namespace sluice::tls {
namespace {

// SSL ex_data slot holding the cache key (a heap std::string) of a client
// session, freed with the SSL.
void FreeKey(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*index*/, long /*argl*/,
             void* /*argp*/) {
  delete static_cast<std::string*>(ptr);
}

int KeyIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeKey);
  return index;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr addr;
  return inet_pton(AF_INET, host.c_str(), &addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

}  // namespace

ClientContext::ClientContext(const ClientOptions& options) : options_(options) {}

absl::StatusOr<std::shared_ptr<ClientContext>> ClientContext::Create(const ClientOptions& options) {
  auto context = std::make_shared<ClientContext>(options);
  SLUICE_RETURN_IF_ERROR(context->Init());
  return context;
}

absl::Status ClientContext::Init() {
  if (options_.min_version < TLS1_2_VERSION || options_.max_version > TLS1_3_VERSION ||
      options_.min_version > options_.max_version) {
    return absl::InvalidArgumentError("TLS client: versions must be TLS 1.2..1.3, min <= max");
  }
  if (KeyIndex() < 0) return SslError("SSL_get_ex_new_index");
  SLUICE_ASSIGN_OR_RETURN(std::string alpn_wire, EncodeAlpn(options_.alpn));
  ERR_clear_error();
  ctx_.reset(SSL_CTX_new(TLS_method()));
  if (ctx_ == nullptr) return SslError("SSL_CTX_new");
  SSL_CTX* ctx = ctx_.get();
  if (!SSL_CTX_set_min_proto_version(ctx, options_.min_version) ||
      !SSL_CTX_set_max_proto_version(ctx, options_.max_version)) {
    return SslError("TLS client: protocol versions");
  }
  const std::string ca_file = options_.ca_file.empty() ? kSystemCaBundle : options_.ca_file;
  if (!SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr)) {
    return SslError(absl::StrCat("TLS client: CA file ", ca_file),
                    absl::StatusCode::kInvalidArgument);
  }
  // SSL_CTX_set_alpn_protos returns zero on success.
  if (!alpn_wire.empty() &&
      SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const uint8_t*>(alpn_wire.data()),
                              alpn_wire.size()) != 0) {
    return SslError("TLS client: ALPN");
  }
  // Our cache, keyed by host; BoringSSL's internal one is keyed by session id.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(ctx, &ClientContext::OnNewSession);
  SSL_CTX_set_app_data(ctx, this);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TlsSession>> ClientContext::NewSession(std::string_view host_in,
                                                                      VerifyMode mode) {
  if (host_in.empty()) return absl::InvalidArgumentError("TLS client: empty host name");
  std::string host = absl::AsciiStrToLower(absl::string_view(host_in.data(), host_in.size()));
  if (!host.empty() && host.back() == '.') host.pop_back();  // absolute DNS name
  const bool ip = IsIpLiteral(host);

  ERR_clear_error();
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx_.get()));
  if (ssl == nullptr) return SslError("SSL_new", absl::StatusCode::kResourceExhausted);
  SSL_set_connect_state(ssl.get());
  if (!ip && !SSL_set_tlsext_host_name(ssl.get(), host.c_str())) {
    return SslError(absl::StrCat("TLS client: SNI '", host, "'"),
                    absl::StatusCode::kInvalidArgument);
  }
  // The name check runs in both modes: kNone reports it, kVerify enforces it.
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int name_ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                         : X509_VERIFY_PARAM_set1_host(param, host.data(), host.size());
  if (!name_ok) {
    return SslError(absl::StrCat("TLS client: host name '", host, "'"),
                    absl::StatusCode::kInvalidArgument);
  }
  SSL_set_verify(ssl.get(), mode == VerifyMode::kVerify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                 nullptr);

  auto key =
      std::make_unique<std::string>(absl::StrCat(mode == VerifyMode::kVerify ? "v|" : "n|", host));
  Offer(*key, ssl.get());
  if (!SSL_set_ex_data(ssl.get(), KeyIndex(), key.get())) return SslError("SSL_set_ex_data");
  key.release();  // FreeKey owns it now
  return TlsSession::Wrap(std::move(ssl), shared_from_this());
}

int ClientContext::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<ClientContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, KeyIndex()));
  if (self == nullptr || key == nullptr || !SSL_SESSION_is_resumable(session)) return 0;
  // Returning 1 hands us the caller's reference.
  self->Store(*key, bssl::UniquePtr<SSL_SESSION>(session));
  return 1;
}

void ClientContext::Store(const std::string& key, bssl::UniquePtr<SSL_SESSION> session) {
  if (options_.session_cache_size == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    it->second->session = std::move(session);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(CacheEntry{key, std::move(session)});
  index_[key] = lru_.begin();
  while (lru_.size() > options_.session_cache_size) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

void ClientContext::Offer(const std::string& key, SSL* ssl) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) return;
  lru_.splice(lru_.begin(), lru_, it->second);
  // SSL_set_session takes its own reference. A session that cannot be
  // offered (expired, wrong version) makes a full handshake, not a failure.
  if (!SSL_set_session(ssl, it->second->session.get())) ERR_clear_error();
}

void ClientContext::ForgetSession(std::string_view host_in) {
  std::string host = absl::AsciiStrToLower(absl::string_view(host_in.data(), host_in.size()));
  if (!host.empty() && host.back() == '.') host.pop_back();
  std::lock_guard<std::mutex> lock(mutex_);
  for (const char* prefix : {"v|", "n|"}) {
    auto it = index_.find(absl::StrCat(prefix, host));
    if (it == index_.end()) continue;
    lru_.erase(it->second);
    index_.erase(it);
  }
}

size_t ClientContext::cached_sessions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lru_.size();
}

}  // namespace sluice::tls
