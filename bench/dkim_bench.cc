// DKIM signing costs, against the raw BoringSSL primitive in the same run:
// the limit for our signer is the primitive itself (RSA PKCS#1 v1.5 over a
// SHA-256 digest, Ed25519 over the digest), so BM_Sign* should be within
// 10% of BM_Primitive*. BM_SignMessage adds canonicalization and the body
// and header hashes of a whole 2 KiB and 20 KiB message.
//
//   bazel run //bench:dkim_bench
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "mail/dkim_key.h"
#include "mail/dkim_signer.h"
#include "openssl/bn.h"
#include "openssl/curve25519.h"
#include "openssl/evp.h"
#include "openssl/rsa.h"
#include "openssl/sha.h"

namespace sluice::mail {
namespace {

std::shared_ptr<const DkimKey> Key(int algorithm) {
  static std::shared_ptr<const DkimKey> keys[3] = {
      *DkimKey::Generate(DkimAlgorithm::kRsaSha256, 2048),
      *DkimKey::Generate(DkimAlgorithm::kRsaSha256, 3072),
      *DkimKey::Generate(DkimAlgorithm::kEd25519Sha256)};
  return keys[algorithm];
}

const char* Name(int algorithm) {
  static const char* names[] = {"rsa-2048", "rsa-3072", "ed25519"};
  return names[algorithm];
}

std::string Message(size_t body_bytes) {
  std::string message =
      "From: News <news@example.com>\r\nTo: someone@example.net\r\nSubject: The weekly news\r\n"
      "Date: Thu, 03 Dec 2026 20:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
  const std::string line = "The quick brown fox jumps over the lazy dog, again and again.\r\n";
  while (message.size() < body_bytes) message += line;
  return message;
}

Sha256Digest Digest() {
  Sha256Digest digest;
  const std::string data = "dkim-signature:v=1; a=rsa-sha256; b=";
  SHA256(reinterpret_cast<const uint8_t*>(data.data()), data.size(), digest.data());
  return digest;
}

void BM_Sign(benchmark::State& state) {
  const std::shared_ptr<const DkimKey> key = Key(static_cast<int>(state.range(0)));
  const Sha256Digest digest = Digest();
  for (auto _ : state) benchmark::DoNotOptimize(key->Sign(digest));
  state.SetLabel(Name(static_cast<int>(state.range(0))));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sign)->Arg(0)->Arg(1)->Arg(2);

// The primitive with nothing around it, on a key generated the same way.
void BM_Primitive(benchmark::State& state) {
  const int algorithm = static_cast<int>(state.range(0));
  const Sha256Digest digest = Digest();
  if (algorithm == 2) {
    uint8_t public_key[32], private_key[64], signature[64];
    ED25519_keypair(public_key, private_key);
    for (auto _ : state) {
      ED25519_sign(signature, digest.data(), digest.size(), private_key);
      benchmark::DoNotOptimize(signature);
    }
  } else {
    bssl::UniquePtr<RSA> rsa(RSA_new());
    bssl::UniquePtr<BIGNUM> e(BN_new());
    BN_set_word(e.get(), RSA_F4);
    RSA_generate_key_ex(rsa.get(), algorithm == 0 ? 2048 : 3072, e.get(), nullptr);
    std::string signature(RSA_size(rsa.get()), '\0');
    for (auto _ : state) {
      unsigned length = 0;
      RSA_sign(NID_sha256, digest.data(), digest.size(),
               reinterpret_cast<uint8_t*>(signature.data()), &length, rsa.get());
      benchmark::DoNotOptimize(signature);
    }
  }
  state.SetLabel(Name(algorithm));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Primitive)->Arg(0)->Arg(1)->Arg(2);

void BM_SignMessage(benchmark::State& state) {
  const int algorithm = static_cast<int>(state.range(0));
  DkimSignature signature;
  signature.domain = "example.com";
  signature.selector = "s1";
  signature.key = Key(algorithm);
  const std::unique_ptr<const DkimSigner> signer = *DkimSigner::Create({signature});
  const std::string message = Message(static_cast<size_t>(state.range(1)));
  const absl::Time now = absl::FromUnixSeconds(1796000000);
  for (auto _ : state) benchmark::DoNotOptimize(signer->Sign(message, now));
  state.SetLabel(Name(algorithm));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(message.size()));
}
BENCHMARK(BM_SignMessage)->ArgsProduct({{0, 1, 2}, {2048, 20480}});

}  // namespace
}  // namespace sluice::mail

BENCHMARK_MAIN();
