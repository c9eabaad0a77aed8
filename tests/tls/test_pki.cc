#include "tests/tls/test_pki.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sluice::tls::testing {

std::string FreshTempDir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const char* tmp = getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", prefix, "-", getpid(), "-",
                                 counter.fetch_add(1));
  mkdir(dir.c_str(), 0755);
  return dir;
}

absl::Status WriteTextFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::unique_ptr<TestPki>> TestPki::Create() {
  auto pki = std::unique_ptr<TestPki>(new TestPki());
  pki->dir_ = FreshTempDir("pki");
  CertificateSpec spec;
  spec.common_name = "sluice test CA";
  spec.is_ca = true;
  SLUICE_ASSIGN_OR_RETURN(pki->ca_, GenerateCertificate(spec));
  pki->ca_file_ = pki->dir_ + "/ca.crt";
  SLUICE_RETURN_IF_ERROR(WriteTextFile(pki->ca_file_, pki->ca_.cert_pem));
  return pki;
}

absl::StatusOr<CertFiles> TestPki::Leaf(const std::string& name,
                                        const std::vector<std::string>& dns_names, KeyType key_type,
                                        bool self_signed) {
  CertificateSpec spec;
  spec.common_name = dns_names.empty() ? name : dns_names[0];
  spec.dns_names = dns_names;
  spec.ip_addresses = {"127.0.0.1"};
  spec.key_type = key_type;
  SLUICE_ASSIGN_OR_RETURN(KeyAndCertificate leaf,
                          GenerateCertificate(spec, self_signed ? nullptr : &ca_));
  CertFiles files{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
  SLUICE_RETURN_IF_ERROR(WriteTextFile(files.cert_file, leaf.cert_pem));
  SLUICE_RETURN_IF_ERROR(WriteTextFile(files.key_file, leaf.key_pem));
  return files;
}

absl::Status Pump(Pair& pair, size_t chunk) {
  for (int round = 0; round < 10000; ++round) {
    bool moved = false;
    auto deliver = [&](TlsSession& from, TlsSession& to, std::string& received) -> absl::Status {
      if (!from.HasCiphertext()) return absl::OkStatus();
      moved = true;
      std::string bytes = from.TakeCiphertext();
      for (size_t at = 0; at < bytes.size(); at += chunk) {
        to.FeedCiphertext(std::string_view(bytes).substr(at, chunk));
        SLUICE_RETURN_IF_ERROR(to.ReadPlaintext(&received));
      }
      return absl::OkStatus();
    };
    absl::Status a = deliver(*pair.client, *pair.server, pair.server_received);
    absl::Status b = deliver(*pair.server, *pair.client, pair.client_received);
    // Let the side that failed send its alert before reporting.
    if (!a.ok() || !b.ok()) {
      (void)deliver(*pair.client, *pair.server, pair.server_received);
      (void)deliver(*pair.server, *pair.client, pair.client_received);
      return !a.ok() ? a : b;
    }
    if (!moved) return absl::OkStatus();
  }
  return absl::InternalError("Pump: sessions never went quiet");
}

absl::Status Connect(Pair& pair, size_t chunk) {
  SLUICE_RETURN_IF_ERROR(pair.client->Handshake());
  SLUICE_RETURN_IF_ERROR(Pump(pair, chunk));
  if (!pair.client->handshake_done() || !pair.server->handshake_done()) {
    return absl::InternalError("handshake did not finish");
  }
  return absl::OkStatus();
}

}  // namespace sluice::tls::testing
