#include "dns/dns_message.h"

#include <gtest/gtest.h>

#include "tests/dns/packet_builder.h"

namespace sluice::dns {
namespace {

using testing::PacketBuilder;

absl::StatusOr<ParsedResponse> Parse(const PacketBuilder& b, std::string_view qname,
                                     RecordType qtype) {
  return ParseResponse(absl::MakeConstSpan(b.bytes()), qname, qtype);
}

TEST(DnsMessageTest, ParsesMxRecordsWithMinimumTtl) {
  PacketBuilder b(1, 0, 1, 2, 0);
  b.Question("Example.COM", 15);
  b.Mx("example.com", 300, 10, "MX1.example.com").Mx("example.com", 120, 20, "mx2.example.com");
  absl::StatusOr<ParsedResponse> parsed = Parse(b, "example.com.", RecordType::kMx);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Answer& a = parsed->answer;
  EXPECT_EQ(a.status, AnswerStatus::kOk);
  ASSERT_EQ(a.mx.size(), 2u);
  EXPECT_EQ(a.mx[0], (MxRecord{10, "mx1.example.com"}));
  EXPECT_EQ(a.mx[1], (MxRecord{20, "mx2.example.com"}));
  EXPECT_EQ(a.ttl, absl::Seconds(120));
  EXPECT_EQ(a.canonical_name, "example.com");
  EXPECT_FALSE(parsed->chase_cname);
}

TEST(DnsMessageTest, NullMxHasRootExchange) {
  PacketBuilder b(1, 0, 1, 1, 0);
  b.Question("nomail.test", 15);
  b.Mx("nomail.test", 300, 0, "");
  absl::StatusOr<ParsedResponse> parsed = Parse(b, "nomail.test", RecordType::kMx);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->answer.mx.size(), 1u);
  EXPECT_EQ(parsed->answer.mx[0], (MxRecord{0, ""}));
}

TEST(DnsMessageTest, FollowsCnameChainAndTakesSmallestTtl) {
  PacketBuilder b(1, 0, 1, 3, 0);
  b.Question("alias.test", 1);
  b.Cname("alias.test", 60, "middle.test")
      .Cname("middle.test", 600, "real.test")
      .A("real.test", 300, 192, 0, 2, 7);
  absl::StatusOr<ParsedResponse> parsed = Parse(b, "alias.test", RecordType::kA);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->answer.status, AnswerStatus::kOk);
  EXPECT_EQ(parsed->answer.canonical_name, "real.test");
  ASSERT_EQ(parsed->answer.addresses.size(), 1u);
  EXPECT_EQ(parsed->answer.addresses[0].HostString(), "192.0.2.7");
  EXPECT_EQ(parsed->answer.ttl, absl::Seconds(60));
}

TEST(DnsMessageTest, UnchasedCnameAsksForAChase) {
  PacketBuilder b(1, 0, 1, 1, 0);
  b.Question("alias.test", 15);
  b.Cname("alias.test", 90, "elsewhere.example");
  absl::StatusOr<ParsedResponse> parsed = Parse(b, "alias.test", RecordType::kMx);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->chase_cname);
  EXPECT_EQ(parsed->answer.canonical_name, "elsewhere.example");
  EXPECT_EQ(parsed->answer.ttl, absl::Seconds(90));
}

TEST(DnsMessageTest, NoDataTakesTtlFromSoa) {
  PacketBuilder b(1, 0, 1, 0, 1);
  b.Question("host.test", 28);
  b.Soa("test", 3600, 120);
  absl::StatusOr<ParsedResponse> parsed = Parse(b, "host.test", RecordType::kAaaa);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->answer.status, AnswerStatus::kNoData);
  EXPECT_EQ(parsed->answer.ttl, absl::Seconds(120));  // min(SOA TTL, MINIMUM)
  EXPECT_FALSE(parsed->chase_cname);
}

TEST(DnsMessageTest, NxDomainTakesTtlFromSoa) {
  PacketBuilder b(1, 3, 1, 0, 1);
  b.Question("nope.test", 15);
  b.Soa("test", 45, 300);
  absl::StatusOr<ParsedResponse> parsed = Parse(b, "nope.test", RecordType::kMx);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->answer.status, AnswerStatus::kNxDomain);
  EXPECT_EQ(parsed->answer.ttl, absl::Seconds(45));
}

TEST(DnsMessageTest, NegativeAnswerWithoutSoaHasNoTtl) {
  PacketBuilder b(1, 3, 1, 0, 0);
  b.Question("nope.test", 15);
  absl::StatusOr<ParsedResponse> parsed = Parse(b, "nope.test", RecordType::kMx);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_LT(parsed->answer.ttl, absl::ZeroDuration());
}

TEST(DnsMessageTest, ServFailAndRefusedAreServerFailures) {
  for (int rcode : {2, 5}) {
    PacketBuilder b(1, rcode, 1, 0, 0);
    b.Question("x.test", 1);
    absl::StatusOr<ParsedResponse> parsed = Parse(b, "x.test", RecordType::kA);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->answer.status, AnswerStatus::kServFail) << rcode;
  }
}

TEST(DnsMessageTest, ReadsCompressedNames) {
  PacketBuilder b(1, 0, 1, 1, 0);
  b.Question("example.com", 15);  // the question name starts at offset 12
  b.Pointer(12).U16(15).U16(1).U32(300);
  const size_t rdlength_at = b.size();
  b.U16(0);
  b.U16(5).U8(2).Bytes("mx").Pointer(12);
  b.EndRecord(rdlength_at);
  absl::StatusOr<ParsedResponse> parsed = Parse(b, "example.com", RecordType::kMx);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->answer.mx.size(), 1u);
  EXPECT_EQ(parsed->answer.mx[0].host, "mx.example.com");
}

TEST(DnsMessageTest, ParsesTxtAndTlsaAndTheAdBit) {
  PacketBuilder b(1, 0, 1, 1, 0);
  b.SetFlagBits(0x0020);
  b.Question("t.test", 16);
  size_t at = b.BeginRecord("t.test", 16, 60);
  b.U8(5).Bytes("v=spf").U8(5).Bytes("1 -al");
  b.EndRecord(at);
  absl::StatusOr<ParsedResponse> txt = Parse(b, "t.test", RecordType::kTxt);
  ASSERT_TRUE(txt.ok()) << txt.status();
  ASSERT_EQ(txt->answer.txt.size(), 1u);
  EXPECT_EQ(txt->answer.txt[0].strings, (std::vector<std::string>{"v=spf", "1 -al"}));
  EXPECT_EQ(txt->answer.txt[0].Joined(), "v=spf1 -al");
  EXPECT_TRUE(txt->answer.authenticated);

  PacketBuilder t(1, 0, 1, 1, 0);
  t.Question("_25._tcp.mx.test", 52);
  at = t.BeginRecord("_25._tcp.mx.test", 52, 60);
  t.U8(3).U8(1).U8(1).Bytes("\xAB\xCD");
  t.EndRecord(at);
  absl::StatusOr<ParsedResponse> tlsa = Parse(t, "_25._tcp.mx.test", RecordType::kTlsa);
  ASSERT_TRUE(tlsa.ok()) << tlsa.status();
  ASSERT_EQ(tlsa->answer.tlsa.size(), 1u);
  EXPECT_EQ(tlsa->answer.tlsa[0], (TlsaRecord{3, 1, 1, "\xAB\xCD"}));
  EXPECT_FALSE(tlsa->answer.authenticated);
}

TEST(DnsMessageTest, MalformedPacketsAreErrorsNotCrashes) {
  PacketBuilder good(1, 0, 1, 1, 0);
  good.Question("example.com", 15);
  good.Mx("example.com", 300, 10, "mx.example.com");
  // Every truncation of a good packet is rejected, never read past its end.
  for (size_t len = 0; len < good.size(); ++len) {
    auto span = absl::MakeConstSpan(good.bytes().data(), len);
    absl::StatusOr<ParsedResponse> parsed = ParseResponse(span, "example.com", RecordType::kMx);
    EXPECT_FALSE(parsed.ok()) << len;
  }
  // A pointer to itself (a loop).
  PacketBuilder loop(1, 0, 1, 0, 0);
  loop.Pointer(12).U16(15).U16(1);
  EXPECT_FALSE(ParseResponse(absl::MakeConstSpan(loop.bytes()), "x", RecordType::kMx).ok());
}

}  // namespace
}  // namespace sluice::dns
