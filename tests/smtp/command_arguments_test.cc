#include "smtp/command_arguments.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sluice::smtp {
namespace {

EsmtpParam Param(std::string keyword, std::string value) {
  return {std::move(keyword), std::move(value), true};
}
EsmtpParam Flag(std::string keyword) { return {std::move(keyword), "", false}; }

std::optional<ParameterError> Mail(const std::vector<EsmtpParam>& params, Envelope* envelope,
                                   uint64_t max_size = 1000, bool authenticated = true) {
  return ParseMailParameters(params, max_size, authenticated, envelope);
}

// The refusal text of MAIL FROM with `params`, or "" when accepted.
std::string MailRefusal(const std::vector<EsmtpParam>& params) {
  Envelope envelope;
  std::optional<ParameterError> error = Mail(params, &envelope);
  return error.has_value() ? absl::StrCat(error->code, " ", error->text) : "";
}

std::string RcptRefusal(const std::vector<EsmtpParam>& params) {
  Recipient recipient;
  std::optional<ParameterError> error = ParseRcptParameters(params, &recipient);
  return error.has_value() ? absl::StrCat(error->code, " ", error->text) : "";
}

TEST(CommandArgumentsTest, FillsTheEnvelopeFromEveryMailParameter) {
  Envelope envelope;
  EXPECT_FALSE(Mail({Param("SIZE", "999"), Param("BODY", "8bitmime"), Flag("SMTPUTF8"),
                     Param("RET", "hdrs"), Param("ENVID", "a+2Bb"), Param("AUTH", "u+40x.test")},
                    &envelope)
                   .has_value());
  EXPECT_EQ(envelope.declared_size, 999u);
  EXPECT_EQ(envelope.body, BodyType::k8BitMime);
  EXPECT_TRUE(envelope.smtputf8);
  EXPECT_EQ(envelope.ret, DsnRet::kHeaders);
  EXPECT_EQ(envelope.envid, "a+b");
  EXPECT_EQ(envelope.auth, "u@x.test");
}

TEST(CommandArgumentsTest, SizeOverTheLimitIsRefusedButIsNoBadCommand) {
  Envelope envelope;
  std::optional<ParameterError> error = Mail({Param("SIZE", "1001")}, &envelope);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, 552);
  EXPECT_EQ(error->enhanced, "5.3.4");
  EXPECT_FALSE(error->bad_command);
  EXPECT_FALSE(Mail({Param("SIZE", "1001")}, &envelope, /*max_size=*/0).has_value());
}

TEST(CommandArgumentsTest, SizePastUint64IsSimplyTooBig) {
  Envelope envelope;
  EXPECT_FALSE(Mail({Param("SIZE", "99999999999999999999")}, &envelope, 0).has_value());
  EXPECT_EQ(envelope.declared_size, UINT64_MAX);
  EXPECT_EQ(MailRefusal({Param("SIZE", "999999999999999999999")}),
            "501 Error: bad SIZE parameter");  // 21 digits
  EXPECT_EQ(MailRefusal({Param("SIZE", "1e3")}), "501 Error: bad SIZE parameter");
}

TEST(CommandArgumentsTest, RefusesRepeatedAndMalformedMailParameters) {
  EXPECT_EQ(MailRefusal({Param("SIZE", "1"), Param("SIZE", "1")}), "501 Error: bad SIZE parameter");
  EXPECT_EQ(MailRefusal({Flag("BODY")}), "501 Error: bad BODY parameter");
  EXPECT_EQ(MailRefusal({Param("BODY", "BINARYMIME")}), "555 Error: unsupported BODY type");
  EXPECT_EQ(MailRefusal({Flag("SMTPUTF8"), Flag("SMTPUTF8")}), "501 Error: bad SMTPUTF8 parameter");
  EXPECT_EQ(MailRefusal({Param("SMTPUTF8", "yes")}), "501 Error: bad SMTPUTF8 parameter");
  EXPECT_EQ(MailRefusal({Param("RET", "ALL")}), "501 Error: bad RET parameter");
  EXPECT_EQ(MailRefusal({Param("ENVID", "a+2")}), "501 Error: bad ENVID parameter");
  EXPECT_EQ(MailRefusal({Param("ENVID", std::string(101, 'x'))}), "501 Error: bad ENVID parameter");
  EXPECT_EQ(MailRefusal({Param("ENVID", std::string(100, 'x'))}), "");
  EXPECT_EQ(MailRefusal({Flag("AUTH")}), "501 Error: bad AUTH parameter");
  EXPECT_EQ(MailRefusal({Param("FOO", "1")}), "555 Error: unsupported parameter FOO");
}

TEST(CommandArgumentsTest, StopsAtTheFirstRefusedParameter) {
  EXPECT_EQ(MailRefusal({Flag("FOO"), Param("SIZE", "x")}), "555 Error: unsupported parameter FOO");
  EXPECT_EQ(MailRefusal({Param("SIZE", "5000"), Flag("FOO")}),
            "552 Error: message size exceeds fixed maximum message size");
}

TEST(CommandArgumentsTest, TrustsTheAuthClaimOnlyFromAnAuthenticatedClient) {
  Envelope envelope;
  EXPECT_FALSE(
      Mail({Param("AUTH", "u+40x.test")}, &envelope, 1000, /*authenticated=*/false).has_value());
  EXPECT_EQ(envelope.auth, "<>");
}

TEST(CommandArgumentsTest, FillsTheRecipientFromNotifyAndOrcpt) {
  Recipient recipient;
  EXPECT_FALSE(
      ParseRcptParameters({Param("NOTIFY", "success,Delay"), Param("ORCPT", "rfc822;a+2Bb@x.test")},
                          &recipient)
          .has_value());
  EXPECT_EQ(recipient.notify, kNotifySuccess | kNotifyDelay);
  EXPECT_EQ(recipient.orcpt_type, "rfc822");
  EXPECT_EQ(recipient.orcpt, "a+b@x.test");
}

TEST(CommandArgumentsTest, KeepsNonRfc822OrcptAsSent) {
  Recipient recipient;
  EXPECT_FALSE(
      ParseRcptParameters({Param("ORCPT", "utf-8;b\\x{FC}r@x.test")}, &recipient).has_value());
  EXPECT_EQ(recipient.orcpt_type, "utf-8");
  EXPECT_EQ(recipient.orcpt, "b\\x{FC}r@x.test");
}

TEST(CommandArgumentsTest, RefusesMalformedNotify) {
  EXPECT_EQ(RcptRefusal({Param("NOTIFY", "NEVER")}), "");
  EXPECT_EQ(RcptRefusal({Param("NOTIFY", "NEVER,SUCCESS")}),
            "501 Error: NOTIFY=NEVER must stand alone");
  EXPECT_EQ(RcptRefusal({Param("NOTIFY", "SUCCESS,SUCCESS")}), "501 Error: bad NOTIFY parameter");
  EXPECT_EQ(RcptRefusal({Param("NOTIFY", "SOMETIMES")}), "501 Error: bad NOTIFY parameter");
  EXPECT_EQ(RcptRefusal({Flag("NOTIFY")}), "501 Error: bad NOTIFY parameter");
  EXPECT_EQ(RcptRefusal({Param("NOTIFY", "DELAY"), Param("NOTIFY", "FAILURE")}),
            "501 Error: bad NOTIFY parameter");
}

TEST(CommandArgumentsTest, RefusesMalformedOrcpt) {
  for (const char* value : {"a@x.test", ";a@x.test", "rfc822;", "rfc822;a+zz"}) {
    EXPECT_EQ(RcptRefusal({Param("ORCPT", value)}), "501 Error: bad ORCPT parameter") << value;
  }
  EXPECT_EQ(RcptRefusal({Param("ORCPT", "rfc822;" + std::string(494, 'x'))}),
            "501 Error: bad ORCPT parameter");  // 501 octets
  EXPECT_EQ(RcptRefusal({Param("ORCPT", "rfc822;a"), Param("ORCPT", "rfc822;b")}),
            "501 Error: bad ORCPT parameter");
  EXPECT_EQ(RcptRefusal({Param("SIZE", "1")}), "555 Error: unsupported parameter SIZE");
}

}  // namespace
}  // namespace sluice::smtp
