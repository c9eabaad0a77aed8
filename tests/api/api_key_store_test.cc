#include "api/api_key_store.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sluice::api {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

std::unique_ptr<ApiKeyStore> Store(std::vector<ApiKeySpec> specs) {
  auto store = ApiKeyStore::Create(specs);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

TEST(ApiKeyStoreTest, Sha256HexMatchesSha256sum) {
  // printf 'secret' | sha256sum
  EXPECT_EQ(ApiKeyStore::Sha256Hex("secret"),
            "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b");
}

TEST(ApiKeyStoreTest, WithoutKeysOnlyLoopbackIsServed) {
  auto store = Store({});
  EXPECT_EQ(store->Authorize("", /*loopback_client=*/true, kScopeAdmin, kNow).status, 200);
  const ApiAuthorization remote = store->Authorize("Bearer x", false, kScopeRead, kNow);
  EXPECT_EQ(remote.status, 401);
  EXPECT_TRUE(absl::StrContains(remote.message, "loopback")) << remote.message;
}

TEST(ApiKeyStoreTest, TokensScopesAndLoopbackGetsNoFavoursOnceKeysExist) {
  auto store = Store({{"app", ApiKeyStore::Sha256Hex("t1"), {"inject"}, 0, 0},
                      {"ops", ApiKeyStore::Sha256Hex("t2"), {"admin", "read"}, 0, 0}});
  EXPECT_EQ(store->Authorize("", true, kScopeInject, kNow).status, 401);
  EXPECT_EQ(store->Authorize("Bearer nope", true, kScopeInject, kNow).status, 401);
  EXPECT_EQ(store->Authorize("Basic dDE=", true, kScopeInject, kNow).status, 401);
  const ApiAuthorization ok = store->Authorize("bearer  t1 ", false, kScopeInject, kNow);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.key_name, "app");
  EXPECT_EQ(store->Authorize("Bearer t1", false, kScopeAdmin, kNow).status, 403);
  EXPECT_EQ(store->Authorize("Bearer t2", false, kScopeInject, kNow).status, 403);
  EXPECT_EQ(store->Authorize("Bearer t2", false, kScopeRead | kScopeAdmin, kNow).status, 200);
}

TEST(ApiKeyStoreTest, RateLimitAllowsTheBurstThenSaysHowLongToWait) {
  auto store = Store({{"app", ApiKeyStore::Sha256Hex("t"), {"inject"}, 10, 3}});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(store->Authorize("Bearer t", false, kScopeInject, kNow).status, 200) << i;
  }
  const ApiAuthorization limited = store->Authorize("Bearer t", false, kScopeInject, kNow);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.retry_after, absl::Milliseconds(100));
  EXPECT_EQ(
      store->Authorize("Bearer t", false, kScopeInject, kNow + absl::Milliseconds(100)).status,
      200);
}

TEST(ApiKeyStoreTest, BadConfigurationNamesTheKey) {
  auto bad_hash = ApiKeyStore::Create({{"app", "abc", {"inject"}, 0, 0}});
  ASSERT_FALSE(bad_hash.ok());
  EXPECT_TRUE(absl::StrContains(bad_hash.status().message(), "api_keys[0] (app): token_sha256"))
      << bad_hash.status();
  auto bad_scope = ApiKeyStore::Create({{"app", ApiKeyStore::Sha256Hex("t"), {"write"}, 0, 0}});
  ASSERT_FALSE(bad_scope.ok());
  EXPECT_TRUE(absl::StrContains(bad_scope.status().message(), "unknown scope 'write'"));
  auto duplicate = ApiKeyStore::Create({{"a", ApiKeyStore::Sha256Hex("t"), {"read"}, 0, 0},
                                        {"b", ApiKeyStore::Sha256Hex("t"), {"read"}, 0, 0}});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_TRUE(absl::StrContains(duplicate.status().message(), "api_keys[1] (b)"));
}

}  // namespace
}  // namespace sluice::api
