// TLS engine costs in memory (no sockets): full and resumed handshakes per
// version and key type, and bulk encrypt+decrypt throughput.
//
//   bazel run -c opt //bench:tls_bench
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "tests/tls/test_pki.h"
#include "tls/client_context.h"
#include "tls/server_context.h"

namespace sluice::tls {
namespace {

using testing::Connect;
using testing::Pair;
using testing::Pump;
using testing::TestPki;

struct Setup {
  std::unique_ptr<TestPki> pki;
  std::shared_ptr<const ServerContext> server;
  std::shared_ptr<ClientContext> client;
};

Setup MakeSetup(uint16_t version, KeyType key_type) {
  Setup s;
  s.pki = std::move(*TestPki::Create());
  auto leaf = *s.pki->Leaf("bench", {"mx.example.test"}, key_type);
  ServerOptions server_options;
  server_options.cert_chain_file = leaf.cert_file;
  server_options.key_file = leaf.key_file;
  server_options.max_version = version;
  s.server = *ServerContext::Create(server_options);
  ClientOptions client_options;
  client_options.ca_file = s.pki->ca_file();
  s.client = *ClientContext::Create(client_options);
  return s;
}

Pair NewPair(Setup& s) {
  Pair pair;
  pair.server = std::move(*s.server->NewSession());
  pair.client = std::move(*s.client->NewSession("mx.example.test", VerifyMode::kVerify));
  return pair;
}

// range(0): 12 or 13; range(1): 0 = EC P-256, 1 = RSA 2048; range(2): 1 = resumed.
void BM_Handshake(benchmark::State& state) {
  Setup s = MakeSetup(state.range(0) == 12 ? TLS1_2_VERSION : TLS1_3_VERSION,
                      state.range(1) == 0 ? KeyType::kEcP256 : KeyType::kRsa2048);
  const bool resume = state.range(2) == 1;
  for (auto _ : state) {
    if (!resume) s.client->ForgetSession("mx.example.test");
    Pair pair = NewPair(s);
    if (!Connect(pair).ok()) state.SkipWithError("handshake failed");
    // Let TLS 1.3 tickets reach the client cache.
    (void)pair.server->WritePlaintext("x");
    (void)Pump(pair);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Handshake)
    ->ArgNames({"tls", "rsa", "resumed"})
    ->Args({13, 0, 0})
    ->Args({13, 0, 1})
    ->Args({12, 0, 0})
    ->Args({12, 0, 1})
    ->Args({13, 1, 0})
    ->Args({12, 1, 0});

// Encrypt on one side, decrypt on the other, `range(0)` bytes per write.
void BM_Throughput(benchmark::State& state) {
  Setup s = MakeSetup(TLS1_3_VERSION, KeyType::kEcP256);
  Pair pair = NewPair(s);
  if (!Connect(pair).ok()) state.SkipWithError("handshake failed");
  const std::string data(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    (void)pair.client->WritePlaintext(data);
    pair.server->FeedCiphertext(pair.client->TakeCiphertext());
    pair.server_received.clear();
    (void)pair.server->ReadPlaintext(&pair.server_received);
    benchmark::DoNotOptimize(pair.server_received.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Throughput)->Arg(512)->Arg(16 * 1024)->Arg(256 * 1024);

}  // namespace
}  // namespace sluice::tls

BENCHMARK_MAIN();
