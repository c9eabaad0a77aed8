// sluice-dkim: DKIM keys for sluice, and signing from the shell.
//
//   sluice-dkim keygen --algorithm=ed25519 --domain=example.com --selector=s1
//       --out=/etc/sluice/dkim/s1.pem
//     writes a new private key (mode 0600; refuses to overwrite) and prints
//     the TXT record to publish at s1._domainkey.example.com
//   sluice-dkim record --key=FILE --domain=... --selector=...
//     prints that record again for an existing key
//   sluice-dkim sign --key=FILE --domain=... --selector=... < message > signed
//     prints the message with a DKIM-Signature field in front (the same
//     signer sluiced uses), for checking a verifier by hand
//
// Exit status: 0 done, 1 an error (printed on stderr), 2 bad usage.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mail/dkim_key.h"
#include "mail/dkim_signer.h"

ABSL_FLAG(std::string, algorithm, "rsa", "keygen: rsa or ed25519");
ABSL_FLAG(int, bits, 2048, "keygen: RSA key size (2048 or more)");
ABSL_FLAG(std::string, out, "", "keygen: where to write the private key");
ABSL_FLAG(std::string, key, "", "record, sign: the private key file");
ABSL_FLAG(std::string, domain, "", "the signing domain (d=)");
ABSL_FLAG(std::string, selector, "", "the selector (s=)");
ABSL_FLAG(std::string, canonicalization, "relaxed/relaxed",
          "sign: header/body, each simple or relaxed");
ABSL_FLAG(int64_t, time, 0, "sign: t= as Unix seconds (0: now)");

namespace sluice::mail {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "sluice-dkim: %s\n", std::string(status.message()).c_str());
  return 1;
}

void PrintRecord(const DkimKey& key) {
  absl::StatusOr<std::string> record = key.DnsRecord();
  if (!record.ok()) return;
  const std::string name =
      absl::GetFlag(FLAGS_selector).empty() || absl::GetFlag(FLAGS_domain).empty()
          ? "SELECTOR._domainkey.DOMAIN"
          : absl::StrCat(absl::GetFlag(FLAGS_selector), "._domainkey.",
                         absl::GetFlag(FLAGS_domain));
  std::printf("%s. IN TXT \"%s\"\n", name.c_str(), record->c_str());
}

int Keygen() {
  const std::string path = absl::GetFlag(FLAGS_out);
  if (path.empty()) return Fail(absl::InvalidArgumentError("keygen needs --out FILE"));
  const std::string algorithm = absl::GetFlag(FLAGS_algorithm);
  if (algorithm != "rsa" && algorithm != "ed25519") {
    return Fail(absl::InvalidArgumentError("--algorithm is rsa or ed25519"));
  }
  absl::StatusOr<std::shared_ptr<const DkimKey>> key = DkimKey::Generate(
      algorithm == "rsa" ? DkimAlgorithm::kRsaSha256 : DkimAlgorithm::kEd25519Sha256,
      absl::GetFlag(FLAGS_bits));
  if (!key.ok()) return Fail(key.status());
  absl::StatusOr<std::string> pem = (*key)->PrivateKeyPem();
  if (!pem.ok()) return Fail(pem.status());
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return Fail(absl::InternalError(absl::StrCat(path, ": ", strerror(errno))));
  const bool written = write(fd, pem->data(), pem->size()) == static_cast<ssize_t>(pem->size());
  if (close(fd) != 0 || !written) {
    return Fail(absl::InternalError(absl::StrCat(path, ": write failed")));
  }
  PrintRecord(**key);
  return 0;
}

absl::StatusOr<std::shared_ptr<const DkimKey>> LoadKey() {
  const std::string path = absl::GetFlag(FLAGS_key);
  if (path.empty()) return absl::InvalidArgumentError("needs --key FILE");
  return DkimKey::LoadFile(path);
}

int Record() {
  absl::StatusOr<std::shared_ptr<const DkimKey>> key = LoadKey();
  if (!key.ok()) return Fail(key.status());
  PrintRecord(**key);
  return 0;
}

int Sign() {
  absl::StatusOr<std::shared_ptr<const DkimKey>> key = LoadKey();
  if (!key.ok()) return Fail(key.status());
  DkimSignature signature;
  signature.key = *key;
  signature.domain = absl::GetFlag(FLAGS_domain);
  signature.selector = absl::GetFlag(FLAGS_selector);
  const std::string c = absl::GetFlag(FLAGS_canonicalization);
  const size_t slash = c.find('/');
  auto parse = [](const std::string& name, DkimCanonicalization* out) {
    if (name == "simple")
      *out = DkimCanonicalization::kSimple;
    else if (name == "relaxed")
      *out = DkimCanonicalization::kRelaxed;
    else
      return false;
    return true;
  };
  if (slash == std::string::npos ||
      !parse(c.substr(0, slash), &signature.header_canonicalization) ||
      !parse(c.substr(slash + 1), &signature.body_canonicalization)) {
    return Fail(
        absl::InvalidArgumentError("--canonicalization is header/body, e.g. relaxed/simple"));
  }
  absl::StatusOr<std::unique_ptr<const DkimSigner>> signer = DkimSigner::Create({signature});
  if (!signer.ok()) return Fail(signer.status());
  const std::string message(std::istreambuf_iterator<char>(std::cin), {});
  const int64_t t = absl::GetFlag(FLAGS_time);
  absl::StatusOr<std::string> field =
      (*signer)->Sign(message, t == 0 ? absl::Now() : absl::FromUnixSeconds(t));
  if (!field.ok()) return Fail(field.status());
  std::fwrite(field->data(), 1, field->size(), stdout);
  std::fwrite(message.data(), 1, message.size(), stdout);
  return 0;
}

}  // namespace
}  // namespace sluice::mail

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "sluice-dkim keygen|record|sign: DKIM keys and signatures (see the file's header)");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string command = args.size() == 2 ? args[1] : "";
  if (command == "keygen") return sluice::mail::Keygen();
  if (command == "record") return sluice::mail::Record();
  if (command == "sign") return sluice::mail::Sign();
  std::fprintf(stderr, "usage: sluice-dkim keygen|record|sign [flags]; --help for the flags\n");
  return 2;
}
