// BounceClassifier: what a refusal means for the recipient, from the SMTP
// reply code, the enhanced status code (RFC 3463) and the text. One
// classifier serves the synchronous replies seen at delivery time and the
// asynchronous bounces (DSNs) that come back later, so both land in the
// same categories, PowerMTA's and KumoMTA's:
//
//   bad-mailbox, bad-domain, inactive-mailbox, quota, spam-block, policy,
//   routing, message-expired, throttled, auth-failure, content, other
//
// The rules are data: a TOML file of [[rule]] tables, tried in order, the
// first match winning. A rule matches when every condition it has holds:
//
//   [[rule]]
//   category = "bad-mailbox"
//   status = ["5.1.1", "5.1.10"]   # enhanced status codes, or prefixes ending
//                                  # in '.': "5.7." (any of these)
//   code = [550, 553]              # the reply's basic code (any of these)
//   text = "user unknown|no such user"   # RE2, case-insensitive, anywhere
//
// Builtin() is the rule set sluice ships (mail/bounce_rules.toml: the
// documented replies of Gmail, Yahoo, Microsoft and the common MTAs, then
// RFC 3463's status codes); operators add theirs in front of it. Without a
// match a reply is "other". Compiled once (all texts in one RE2::Set, one
// pass per reply); immutable, so any thread may use one.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "re2/set.h"

namespace sluice::mail {

enum class BounceCategory {
  kBadMailbox,
  kBadDomain,
  kInactiveMailbox,
  kQuota,
  kSpamBlock,
  kPolicy,
  kRouting,
  kMessageExpired,
  kThrottled,
  kAuthFailure,
  kContent,
  kOther,
};

// "bad-mailbox", ...
std::string_view BounceCategoryName(BounceCategory category);
absl::StatusOr<BounceCategory> ParseBounceCategory(absl::string_view name);

struct BounceClass {
  BounceCategory category = BounceCategory::kOther;
  // Permanent (5xx) and about the address itself (bad mailbox or domain,
  // inactive mailbox): mail to it will never be delivered, so it belongs
  // on the suppression list. Everything else is soft.
  bool hard = false;
  int rule = -1;  // index of the matching rule; -1: none matched
};

class BounceClassifier {
 public:
  struct Rule {
    BounceCategory category = BounceCategory::kOther;
    std::vector<std::string> status;  // "5.1.1", or a prefix "5.7."
    std::vector<int> codes;
    std::string text;  // RE2 syntax; empty: any text
  };

  static absl::StatusOr<std::unique_ptr<const BounceClassifier>> Create(std::vector<Rule> rules);
  // Rules from TOML; errors name `source`, the rule and the key.
  static absl::StatusOr<std::vector<Rule>> ParseRules(absl::string_view toml,
                                                      absl::string_view source);
  // The shipped rules, compiled on first use.
  static const BounceClassifier& Builtin();
  static absl::string_view BuiltinRulesToml();

  ~BounceClassifier();
  BounceClassifier(const BounceClassifier&) = delete;
  BounceClassifier& operator=(const BounceClassifier&) = delete;

  // `code` 0 when unknown (a DSN's Status without a reply); `enhanced`
  // "5.1.1" or empty.
  BounceClass Classify(int code, absl::string_view enhanced, absl::string_view text) const;
  // A reply as text ("550 5.1.1 no such user"; its code read from the
  // front, 0 without one) with its enhanced status code.
  BounceClass ClassifyReply(absl::string_view reply, absl::string_view enhanced) const {
    return Classify(ReplyCodeOf(reply), enhanced, reply);
  }

  // The basic code at the front of a reply text, 0 without one.
  static int ReplyCodeOf(absl::string_view reply);

  size_t size() const { return rules_.size(); }

 private:
  explicit BounceClassifier(std::vector<Rule> rules);
  static bool StatusMatches(const Rule& rule, absl::string_view enhanced);

  std::vector<Rule> rules_;
  std::vector<int> text_pattern_;         // per rule: its index in texts_, or -1
  std::vector<int> pattern_rule_;         // per pattern in texts_: its rule
  std::unique_ptr<re2::RE2::Set> texts_;  // every rule's text, matched in one pass
};

}  // namespace sluice::mail
