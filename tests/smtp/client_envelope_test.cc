#include "smtp/client_envelope.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>

namespace sluice::smtp {
namespace {

Address Addr(std::string local, std::string domain, bool utf8 = false) {
  Address address;
  address.local_part = std::move(local);
  address.domain = std::move(domain);
  address.utf8 = utf8;
  return address;
}

OutboundMessage Message() {
  OutboundMessage message;
  message.sender = Addr("a", "b.test");
  Recipient recipient;
  recipient.address = Addr("c", "d.test");
  message.recipients.push_back(recipient);
  return message;
}

ServerCapabilities Everything() {
  ServerCapabilities caps;
  caps.esmtp = caps.size = caps.eightbitmime = caps.smtputf8 = caps.dsn = true;
  return caps;
}

// "code enhanced text" of the refusal, or "" when there is none.
std::string Refusal(const OutboundMessage& message, const ServerCapabilities& caps,
                    bool strict_8bitmime = false) {
  const std::optional<ServerReply> reply = EnvelopeRefusal(message, caps, strict_8bitmime);
  return reply.has_value() ? reply->ToString() : "";
}

TEST(ClientEnvelopeTest, MailFromCarriesOnlyWhatTheServerAnnounced) {
  OutboundMessage message = Message();
  message.needs_8bit = true;
  message.ret = DsnRet::kHeaders;
  message.envid = "x+y";
  EXPECT_EQ(MailFromLine(message, ServerCapabilities(), 42), "MAIL FROM:<a@b.test>");
  EXPECT_EQ(MailFromLine(message, Everything(), 42),
            "MAIL FROM:<a@b.test> SIZE=42 BODY=8BITMIME RET=HDRS ENVID=x+2By");
  message.sender = Address();
  message.ret = DsnRet::kFull;
  message.envid.clear();
  EXPECT_EQ(MailFromLine(message, Everything(), 0), "MAIL FROM:<> SIZE=0 BODY=8BITMIME RET=FULL");
}

TEST(ClientEnvelopeTest, AnyUtf8AddressNeedsSmtpUtf8) {
  OutboundMessage message = Message();
  EXPECT_FALSE(NeedsSmtpUtf8(message));
  message.recipients.back().address.utf8 = true;
  EXPECT_TRUE(NeedsSmtpUtf8(message));
  EXPECT_EQ(MailFromLine(message, Everything(), 1), "MAIL FROM:<a@b.test> SIZE=1 SMTPUTF8");
  message = Message();
  message.needs_smtputf8 = true;
  EXPECT_TRUE(NeedsSmtpUtf8(message));
}

TEST(ClientEnvelopeTest, RcptToCarriesDsnOnlyWhenAnnounced) {
  Recipient recipient;
  recipient.address = Addr("c", "d.test");
  recipient.notify = kNotifyDelay | kNotifySuccess;
  recipient.orcpt = "c+1@d.test";
  EXPECT_EQ(RcptToLine(recipient, ServerCapabilities()), "RCPT TO:<c@d.test>");
  EXPECT_EQ(RcptToLine(recipient, Everything()),
            "RCPT TO:<c@d.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;c+2B1@d.test");
  recipient.notify = kNotifyNever;
  recipient.orcpt_type = "utf-8";
  EXPECT_EQ(RcptToLine(recipient, Everything()),
            "RCPT TO:<c@d.test> NOTIFY=NEVER ORCPT=utf-8;c+2B1@d.test");
}

TEST(ClientEnvelopeTest, RefusesWhatTheServerCannotTake) {
  OutboundMessage message = Message();
  EXPECT_EQ(Refusal(message, ServerCapabilities()), "");
  message.needs_8bit = true;
  EXPECT_EQ(Refusal(message, ServerCapabilities()), "");
  EXPECT_EQ(Refusal(message, ServerCapabilities(), /*strict_8bitmime=*/true),
            "554 5.6.3 message needs 8BITMIME, which the server does not support");
  message.sender.utf8 = true;
  EXPECT_EQ(Refusal(message, ServerCapabilities(), true),
            "553 5.6.7 message needs SMTPUTF8, which the server does not support");
  EXPECT_EQ(Refusal(message, Everything(), true), "");
  message.recipients.back().address.local_part = "c\r\nRSET";
  EXPECT_EQ(Refusal(message, ServerCapabilities(), true),
            "501 5.1.3 control character in an address");
}

}  // namespace
}  // namespace sluice::smtp
