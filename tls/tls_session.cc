#include "tls/tls_session.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "openssl/x509.h"
#include "tls/ssl_error.h"

namespace sluice::tls {
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string_view OrEmpty(const char* s) { return s == nullptr ? std::string_view() : s; }

// The largest chunk handed to SSL_write / SSL_read at once.
constexpr size_t kChunk = 16 * 1024;

}  // namespace

std::unique_ptr<TlsSession> TlsSession::Wrap(bssl::UniquePtr<SSL> ssl,
                                             std::shared_ptr<const void> keep_alive) {
  return std::unique_ptr<TlsSession>(new TlsSession(std::move(ssl), std::move(keep_alive)));
}

TlsSession::TlsSession(bssl::UniquePtr<SSL> ssl, std::shared_ptr<const void> keep_alive)
    : ssl_(std::move(ssl)), keep_alive_(std::move(keep_alive)) {
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  if (rbio_ == nullptr || wbio_ == nullptr) {
    BIO_free(rbio_);
    BIO_free(wbio_);
    rbio_ = wbio_ = nullptr;
    error_ = SslError("TLS: cannot allocate memory BIOs", absl::StatusCode::kResourceExhausted);
    return;
  }
  // An empty read BIO reports "retry", which SSL_* turn into WANT_READ.
  BIO_set_mem_eof_return(rbio_, -1);
  SSL_set_bio(ssl_.get(), rbio_, wbio_);  // takes ownership of both
}

TlsSession::~TlsSession() = default;

bool TlsSession::is_server() const { return SSL_is_server(ssl_.get()) != 0; }

void TlsSession::FeedCiphertext(std::string_view bytes) {
  if (rbio_ == nullptr) return;
  while (!bytes.empty()) {
    const int n = static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX));
    const int written = BIO_write(rbio_, bytes.data(), n);
    if (written <= 0) {
      if (error_.ok()) {
        error_ = SslError("TLS: cannot buffer input", absl::StatusCode::kResourceExhausted);
      }
      return;
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
}

bool TlsSession::HasCiphertext() const { return PendingCiphertextBytes() > 0; }

size_t TlsSession::PendingCiphertextBytes() const {
  return wbio_ == nullptr ? 0 : BIO_pending(wbio_);
}

std::string TlsSession::TakeCiphertext() {
  if (wbio_ == nullptr) return {};
  const uint8_t* contents = nullptr;
  size_t len = 0;
  if (!BIO_mem_contents(wbio_, &contents, &len) || len == 0) return {};
  std::string out(reinterpret_cast<const char*>(contents), len);
  BIO_reset(wbio_);
  return out;
}

absl::Status TlsSession::Fail(std::string_view what, int ret) {
  const int err = SSL_get_error(ssl_.get(), ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      ERR_clear_error();
      return absl::OkStatus();
    case SSL_ERROR_ZERO_RETURN:
      peer_closed_ = true;
      ERR_clear_error();
      return absl::OkStatus();
    default:
      break;
  }
  std::string errors = DrainSslErrors();
  if (errors.empty()) errors = absl::StrCat("SSL error ", err);
  absl::StatusCode code = absl::StatusCode::kUnavailable;
  std::string message = absl::StrCat(AbslView(what), " failed: ", errors);
  // A certificate the client refused: say why, in X509 terms.
  const long verify = SSL_get_verify_result(ssl_.get());
  if (!is_server() && !handshake_done_ && verify != X509_V_OK) {
    code = absl::StatusCode::kUnauthenticated;
    absl::StrAppend(&message, " (certificate: ", X509_verify_cert_error_string(verify), ")");
  }
  error_ = absl::Status(code, message);
  return error_;
}

absl::Status TlsSession::Handshake() {
  if (!error_.ok()) return error_;
  if (handshake_done_) return absl::OkStatus();
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_.get());
  if (ret == 1) {
    handshake_done_ = true;
    return FlushPendingPlaintext();
  }
  return Fail("TLS handshake", ret);
}

absl::Status TlsSession::FlushPendingPlaintext() {
  if (pending_plaintext_.empty()) return absl::OkStatus();
  std::string pending = std::exchange(pending_plaintext_, {});
  return WritePlaintext(pending);
}

absl::Status TlsSession::WritePlaintext(std::string_view data) {
  if (!error_.ok()) return error_;
  if (shut_down_) return absl::FailedPreconditionError("TLS write after shutdown");
  if (!handshake_done_) {
    pending_plaintext_.append(data);
    return absl::OkStatus();
  }
  while (!data.empty()) {
    const int n = static_cast<int>(std::min(data.size(), kChunk));
    ERR_clear_error();
    const int ret = SSL_write(ssl_.get(), data.data(), n);
    if (ret <= 0) {
      absl::Status status = Fail("TLS write", ret);
      if (!status.ok()) return status;
      // The memory BIO never pushes back, so "retry" means the connection
      // is in a state where it cannot write (the peer closed it).
      error_ = absl::FailedPreconditionError("TLS write: connection cannot send");
      return error_;
    }
    data.remove_prefix(static_cast<size_t>(ret));
  }
  return absl::OkStatus();
}

absl::Status TlsSession::ReadPlaintext(std::string* out) {
  if (!error_.ok()) return error_;
  if (!handshake_done_) {
    absl::Status status = Handshake();
    if (!status.ok() || !handshake_done_) return status;
  }
  char buf[kChunk];
  while (!peer_closed_) {
    ERR_clear_error();
    const int n = SSL_read(ssl_.get(), buf, sizeof(buf));
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    const int err = SSL_get_error(ssl_.get(), n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      return absl::OkStatus();
    }
    return Fail("TLS read", n);
  }
  return absl::OkStatus();
}

absl::Status TlsSession::Shutdown() {
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  // Nothing to say before the handshake is done (and after a fatal error the
  // alert has already been queued): the caller just closes the socket.
  if (!handshake_done_ || !error_.ok()) return error_;
  ERR_clear_error();
  const int ret = SSL_shutdown(ssl_.get());
  if (ret < 0) return Fail("TLS shutdown", ret);
  return absl::OkStatus();
}

std::string_view TlsSession::version() const { return OrEmpty(SSL_get_version(ssl_.get())); }

std::string_view TlsSession::cipher() const {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_.get());
  return cipher == nullptr ? std::string_view() : OrEmpty(SSL_CIPHER_get_name(cipher));
}

int TlsSession::cipher_bits() const {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_.get());
  return cipher == nullptr ? 0 : SSL_CIPHER_get_bits(cipher, nullptr);
}

std::string_view TlsSession::alpn() const {
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &data, &len);
  return std::string_view(reinterpret_cast<const char*>(data), data == nullptr ? 0 : len);
}

std::string_view TlsSession::sni() const {
  return OrEmpty(SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name));
}

bool TlsSession::resumed() const { return SSL_session_reused(ssl_.get()) != 0; }

bool TlsSession::has_peer_certificate() const {
  bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(ssl_.get()));
  return cert != nullptr;
}

long TlsSession::verify_result() const { return SSL_get_verify_result(ssl_.get()); }

std::string TlsSession::verify_error() const {
  return X509_verify_cert_error_string(verify_result());
}

bool TlsSession::peer_verified() const {
  return handshake_done_ && has_peer_certificate() && verify_result() == X509_V_OK;
}

}  // namespace sluice::tls
