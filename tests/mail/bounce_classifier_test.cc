#include "mail/bounce_classifier.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sluice::mail {
namespace {

struct Case {
  int code;
  const char* enhanced;
  const char* text;
  BounceCategory category;
  bool hard;
};

// Replies as the providers and MTAs document or send them.
const Case kCases[] = {
    // Gmail.
    {550, "5.1.1",
     "The email account that you tried to reach does not exist. Please try double-checking the "
     "recipient's email address for typos or unnecessary spaces.",
     BounceCategory::kBadMailbox, true},
    {550, "5.2.1", "The email account that you tried to reach is disabled.",
     BounceCategory::kInactiveMailbox, true},
    {552, "5.2.2", "The recipient's inbox is out of storage space.", BounceCategory::kQuota, false},
    {421, "4.7.28",
     "Gmail has detected an unusual rate of unsolicited mail originating from your IP address.",
     BounceCategory::kThrottled, false},
    {550, "5.7.28", "There is an unusual rate of unsolicited mail originating from your IP.",
     BounceCategory::kSpamBlock, false},
    {550, "5.7.26",
     "This mail has been blocked because the sender is unauthenticated. Gmail requires all "
     "senders to authenticate with either SPF or DKIM.",
     BounceCategory::kAuthFailure, false},
    {550, "5.7.25", "The IP address sending this message does not have a PTR record setup",
     BounceCategory::kPolicy, false},
    // Yahoo and AOL.
    {421, "4.7.0",
     "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user "
     "complaints",
     BounceCategory::kThrottled, false},
    {553, "5.7.1",
     "[BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's "
     "list",
     BounceCategory::kSpamBlock, false},
    {554, "", "delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com)",
     BounceCategory::kBadMailbox, true},
    {554, "5.7.9", "Message not accepted for policy reasons.", BounceCategory::kPolicy, false},
    // Microsoft.
    {550, "5.5.0", "Requested action not taken: mailbox unavailable (S2017062302)",
     BounceCategory::kBadMailbox, true},
    {550, "5.7.515",
     "Access denied, sending domain example.com does not meet the required authentication level.",
     BounceCategory::kAuthFailure, false},
    {550, "5.7.1",
     "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet "
     "service provider since part of their network is on our block list (S3150).",
     BounceCategory::kSpamBlock, false},
    {451, "4.7.650",
     "The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.",
     BounceCategory::kThrottled, false},
    {550, "5.4.1",
     "Recipient address rejected: Access denied. AS(201806281) [x.prod.protection.outlook.com]",
     BounceCategory::kBadMailbox, true},
    {550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
     BounceCategory::kBadMailbox, true},
    // Postfix, Exim, Sendmail, qmail.
    {550, "5.1.1",
     "<nobody@example.net>: Recipient address rejected: User unknown in local "
     "recipient table",
     BounceCategory::kBadMailbox, true},
    {0, "5.1.2",
     "Host or domain name not found. Name service error for name=example.invalid "
     "type=MX: Host not found",
     BounceCategory::kBadDomain, true},
    {0, "", "Unrouteable address", BounceCategory::kBadDomain, false},
    {0, "4.4.7", "delivery temporarily suspended: connect to mx.example.net: Connection timed out",
     BounceCategory::kMessageExpired, false},
    {550, "", "sorry, no mailbox here by that name. (#5.1.1)", BounceCategory::kBadMailbox, true},
    {554, "5.7.1", "Relay access denied", BounceCategory::kRouting, false},
    {552, "5.3.4", "Message size exceeds fixed limit", BounceCategory::kContent, false},
    {554, "5.6.0", "Message rejected: virus found (Eicar-Test-Signature)", BounceCategory::kContent,
     false},
    {421, "", "Too many concurrent SMTP connections; please try again later.",
     BounceCategory::kThrottled, false},
    {450, "4.2.2", "Mailbox full", BounceCategory::kQuota, false},
    // Nothing to go on.
    {550, "", "Go away", BounceCategory::kOther, false},
};

TEST(BounceClassifierTest, ShippedRulesClassifyTheDocumentedReplies) {
  const BounceClassifier& classifier = BounceClassifier::Builtin();
  for (const Case& c : kCases) {
    SCOPED_TRACE(testing::Message() << c.code << " " << c.enhanced << " " << c.text);
    const BounceClass got = classifier.Classify(c.code, c.enhanced, c.text);
    EXPECT_EQ(BounceCategoryName(got.category), BounceCategoryName(c.category));
    EXPECT_EQ(got.hard, c.hard);
  }
}

TEST(BounceClassifierTest, AnEnhancedStatusAloneIsEnough) {
  const BounceClassifier& classifier = BounceClassifier::Builtin();
  EXPECT_EQ(classifier.Classify(0, "5.1.1", "").category, BounceCategory::kBadMailbox);
  EXPECT_TRUE(classifier.Classify(0, "5.1.1", "").hard);
  EXPECT_EQ(classifier.Classify(0, "4.2.2", "").category, BounceCategory::kQuota);
  EXPECT_EQ(classifier.Classify(0, "5.7.3", "").category, BounceCategory::kPolicy);
  EXPECT_EQ(classifier.Classify(0, "4.7.12", "").category, BounceCategory::kThrottled);
  EXPECT_EQ(classifier.Classify(0, "", "").category, BounceCategory::kOther);
  EXPECT_EQ(classifier.Classify(0, "", "").rule, -1);
}

TEST(BounceClassifierTest, OperatorRulesComeFirstAndEveryConditionMustHold) {
  absl::StatusOr<std::vector<BounceClassifier::Rule>> rules = BounceClassifier::ParseRules(
      R"([[rule]]
category = "spam-block"
code = [550]
status = ["5.7."]
text = "listed by acme-rbl"
)",
      "mine.toml");
  ASSERT_TRUE(rules.ok()) << rules.status();
  absl::StatusOr<std::vector<BounceClassifier::Rule>> builtin =
      BounceClassifier::ParseRules(BounceClassifier::BuiltinRulesToml(), "builtin");
  ASSERT_TRUE(builtin.ok()) << builtin.status();
  rules->insert(rules->end(), builtin->begin(), builtin->end());
  absl::StatusOr<std::unique_ptr<const BounceClassifier>> classifier =
      BounceClassifier::Create(*std::move(rules));
  ASSERT_TRUE(classifier.ok()) << classifier.status();
  EXPECT_EQ((*classifier)->Classify(550, "5.7.1", "Listed by ACME-RBL").rule, 0);
  EXPECT_EQ((*classifier)->Classify(550, "5.7.1", "Listed by ACME-RBL").category,
            BounceCategory::kSpamBlock);
  // The wrong code: the operator's rule does not apply, the shipped ones do.
  EXPECT_NE((*classifier)->Classify(554, "5.7.1", "Listed by ACME-RBL").rule, 0);
}

TEST(BounceClassifierTest, BadRulesAreRefusedNamingTheProblem) {
  auto error = [](const char* toml) {
    return std::string(BounceClassifier::ParseRules(toml, "r.toml").status().message());
  };
  EXPECT_TRUE(absl::StrContains(error("[[rule]]\ncategory = \"bouncy\"\ntext = \"x\"\n"),
                                "'bouncy' is not a bounce category"));
  EXPECT_TRUE(absl::StrContains(error("[[rule]]\ntext = \"x\"\n"), "needs a category"));
  EXPECT_TRUE(absl::StrContains(error("[[rule]]\ncategory = \"quota\"\n"),
                                "needs at least one of status, code, text"));
  EXPECT_TRUE(absl::StrContains(error("[[rule]]\ncategory = \"quota\"\ntext = \"(\"\n"), "text: "));
  EXPECT_TRUE(absl::StrContains(error("[[rule]]\ncategory = \"quota\"\nstatus = [\"x.1\"]\n"),
                                "not an enhanced status code"));
  EXPECT_TRUE(absl::StrContains(error("[[rule]]\ncategory = \"quota\"\ncode = [42]\n"),
                                "must be an integer in [200, 599]"));
}

}  // namespace
}  // namespace sluice::mail
