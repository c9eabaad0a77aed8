// password_hash: known-answer vectors, round trips, malformed entries, and
// the sluice-passwd tool.
#include "tls/password_hash.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"

namespace sluice::tls {
namespace {

std::string Hex(const absl::StatusOr<std::string>& bytes) {
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? absl::BytesToHexString(*bytes) : "";
}

// RFC 7914 section 11 and the widely used RFC 6070-style SHA-256 vectors.
TEST(PasswordHashTest, Pbkdf2HmacSha256KnownAnswers) {
  EXPECT_EQ(Hex(Pbkdf2HmacSha256("passwd", "salt", 1, 64)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
            "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
  EXPECT_EQ(Hex(Pbkdf2HmacSha256("Password", "NaCl", 80000, 64)),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
            "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
  EXPECT_EQ(Hex(Pbkdf2HmacSha256("password", "salt", 1, 32)),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
  EXPECT_EQ(Hex(Pbkdf2HmacSha256("password", "salt", 2, 32)),
            "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43");
  EXPECT_EQ(Hex(Pbkdf2HmacSha256("password", "salt", 4096, 32)),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
  EXPECT_EQ(Hex(Pbkdf2HmacSha256("passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt",
                                 4096, 40)),
            "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9");
  EXPECT_FALSE(Pbkdf2HmacSha256("p", "s", 0, 32).ok());
}

// RFC 7914 section 12.
TEST(PasswordHashTest, ScryptKnownAnswers) {
  EXPECT_EQ(Hex(Scrypt("", "", 16, 1, 1, 64)),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
            "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
  EXPECT_EQ(Hex(Scrypt("password", "NaCl", 1024, 8, 16, 64)),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
            "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
  EXPECT_EQ(Hex(Scrypt("pleaseletmein", "SodiumChloride", 16384, 8, 1, 64)),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
            "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887");
  EXPECT_FALSE(Scrypt("p", "s", 1000, 8, 1, 32).ok()) << "N must be a power of two";
}

// Encoded strings made independently (Python's hashlib), in our PHC form and
// in passlib's older pbkdf2 form.
TEST(PasswordHashTest, VerifiesEncodedKnownAnswers) {
  const char* kScrypt =
      "$scrypt$ln=10,r=8,p=1$+vr6+vr6+vr6+vr6+vr6+g$W0HvV6Zj0ieT0i8KxSNdonz9CICMlB//pU0Mwue5Y5U";
  const char* kPbkdf2 =
      "$pbkdf2-sha256$i=1000$+vr6+vr6+vr6+vr6+vr6+g$WGOIlGr7it7hRjW8MQzFbc/ppKpKCMuSwhjAA66GUpQ";
  const char* kPasslib =
      "$pbkdf2-sha256$29000$AAECAwQFBgcICQoLDA0ODw$ZvLORN3Wu1.2s6Mb0kBKZ43bylSsC/t0Vz5rE9nJPNg";
  for (const char* encoded : {kScrypt, kPbkdf2, kPasslib}) {
    SCOPED_TRACE(encoded);
    absl::StatusOr<bool> good = VerifyPassword("correct horse", encoded);
    ASSERT_TRUE(good.ok()) << good.status();
    EXPECT_TRUE(*good);
    absl::StatusOr<bool> bad = VerifyPassword("correct horsE", encoded);
    ASSERT_TRUE(bad.ok()) << bad.status();
    EXPECT_FALSE(*bad);
    EXPECT_TRUE(CheckPasswordHash(encoded).ok());
  }
}

TEST(PasswordHashTest, RoundTripsWithDefaultParameters) {
  for (PasswordScheme scheme : {PasswordScheme::kScrypt, PasswordScheme::kPbkdf2Sha256}) {
    absl::StatusOr<std::string> encoded = HashPassword("s3cret pässword", scheme);
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    if (scheme == PasswordScheme::kScrypt) {
      EXPECT_TRUE(absl::StartsWith(*encoded, "$scrypt$ln=15,r=8,p=1$")) << *encoded;
    } else {
      EXPECT_TRUE(absl::StartsWith(*encoded, "$pbkdf2-sha256$i=600000$")) << *encoded;
    }
    // 16-byte salt and 32-byte hash in unpadded base64: 22 and 43 characters.
    const size_t hash_at = encoded->rfind('$');
    const size_t salt_at = encoded->rfind('$', hash_at - 1);
    EXPECT_EQ(hash_at - salt_at - 1, 22u) << *encoded;
    EXPECT_EQ(encoded->size() - hash_at - 1, 43u) << *encoded;

    EXPECT_TRUE(*VerifyPassword("s3cret pässword", *encoded));
    EXPECT_FALSE(*VerifyPassword("s3cret password", *encoded));
    EXPECT_FALSE(*VerifyPassword("", *encoded));
  }
}

TEST(PasswordHashTest, SaltsDiffer) {
  PasswordHashOptions fast;
  fast.scrypt_log2_n = 4;
  auto a = HashPassword("same", fast);
  auto b = HashPassword("same", fast);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(*VerifyPassword("same", *a));
  EXPECT_TRUE(*VerifyPassword("same", *b));
}

TEST(PasswordHashTest, MalformedStringsAreClearErrors) {
  struct Case {
    const char* encoded;
    const char* message;
  };
  const Case cases[] = {
      {"", "expected $<scheme>$<parameters>$<salt>$<hash>"},
      {"plaintext", "expected $<scheme>"},
      {"$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0", "expected $<scheme>"},
      {"$md5$x$c2FsdA$aGFzaA", "unknown scheme 'md5'"},
      {"$pbkdf2-sha256$i=abc$c2FsdHNhbHRzYWx0$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
       "iterations 'abc' is not a number"},
      {"$pbkdf2-sha256$i=0$c2FsdHNhbHRzYWx0$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
       "iterations must be 1..10000000"},
      {"$pbkdf2-sha256$i=99999999999$c2FsdA$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
       "is not a number"},
      {"$pbkdf2-sha256$i=1000$!!!!$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
       "salt is not base64"},
      {"$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA", "hash must be 16..512 bytes"},
      {"$scrypt$ln=10,r=8$c2FsdA$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
       "scrypt needs ln=, r= and p="},
      {"$scrypt$ln=10,r=8,p=1,x=2$c2FsdA$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
       "unexpected scrypt parameter 'x'"},
      {"$scrypt$ln=25,r=8,p=1$c2FsdA$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
       "scrypt parameters need 32768 MiB (limit 256 MiB)"},
      {"$scrypt$ln=10,r=0,p=1$c2FsdA$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
       "scrypt r must be 1..64"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.encoded);
    absl::StatusOr<bool> result = VerifyPassword("x", c.encoded);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(result.status().message(), "malformed password hash"))
        << result.status();
    EXPECT_TRUE(absl::StrContains(result.status().message(), c.message)) << result.status();
    EXPECT_FALSE(CheckPasswordHash(c.encoded).ok());
  }
}

TEST(PasswordHashTest, RefusesBadOptions) {
  PasswordHashOptions options;
  options.scrypt_log2_n = 40;
  EXPECT_EQ(HashPassword("x", options).status().code(), absl::StatusCode::kInvalidArgument);
  options.scheme = PasswordScheme::kPbkdf2Sha256;
  options.pbkdf2_iterations = 0;
  EXPECT_EQ(HashPassword("x", options).status().code(), absl::StatusCode::kInvalidArgument);
}

// Runs `command` in a shell and returns its stdout and exit status.
std::pair<std::string, int> RunShell(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

TEST(PasswordHashTest, SluicePasswdPrintsVerifiableHashes) {
  const std::string tool = "tls/sluice-passwd";
  auto [scrypt_out, scrypt_rc] =
      RunShell("printf 'op3rator pass\\n' | " + tool + " --scrypt_ln=10");
  ASSERT_EQ(scrypt_rc, 0) << scrypt_out;
  ASSERT_FALSE(scrypt_out.empty());
  ASSERT_EQ(scrypt_out.back(), '\n');
  scrypt_out.pop_back();
  EXPECT_TRUE(absl::StartsWith(scrypt_out, "$scrypt$ln=10,r=8,p=1$")) << scrypt_out;
  EXPECT_TRUE(*VerifyPassword("op3rator pass", scrypt_out));

  auto [pbkdf2_out, pbkdf2_rc] = RunShell("printf 'op3rator pass' | " + tool +
                                          " --scheme=pbkdf2-sha256 --pbkdf2_iterations=1000");
  ASSERT_EQ(pbkdf2_rc, 0) << pbkdf2_out;
  pbkdf2_out.pop_back();
  EXPECT_TRUE(absl::StartsWith(pbkdf2_out, "$pbkdf2-sha256$i=1000$")) << pbkdf2_out;
  EXPECT_TRUE(*VerifyPassword("op3rator pass", pbkdf2_out));

  EXPECT_NE(RunShell("printf '' | " + tool + " 2>/dev/null").second, 0);
  EXPECT_NE(RunShell("printf 'x' | " + tool + " --scheme=md5 2>/dev/null").second, 0);
}

}  // namespace
}  // namespace sluice::tls
