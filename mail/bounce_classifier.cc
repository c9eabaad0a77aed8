#include "mail/bounce_classifier.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/toml_binder.h"
#include "re2/re2.h"

// mail/bounce_rules.toml, embedded by the BUILD rule bounce_rules_embed.
extern "C" const char kSluiceBounceRulesToml[];

namespace sluice::mail {
namespace {

constexpr std::pair<BounceCategory, std::string_view> kNames[] = {
    {BounceCategory::kBadMailbox, "bad-mailbox"},
    {BounceCategory::kBadDomain, "bad-domain"},
    {BounceCategory::kInactiveMailbox, "inactive-mailbox"},
    {BounceCategory::kQuota, "quota"},
    {BounceCategory::kSpamBlock, "spam-block"},
    {BounceCategory::kPolicy, "policy"},
    {BounceCategory::kRouting, "routing"},
    {BounceCategory::kMessageExpired, "message-expired"},
    {BounceCategory::kThrottled, "throttled"},
    {BounceCategory::kAuthFailure, "auth-failure"},
    {BounceCategory::kContent, "content"},
    {BounceCategory::kOther, "other"},
};

absl::Status CheckStatus(absl::string_view status) {
  // "5.1.1" or a prefix "5." / "5.7.": a class digit, then dot-separated
  // numbers.
  if (status.empty() || (status[0] != '2' && status[0] != '4' && status[0] != '5')) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", status, "' is not an enhanced status code"));
  }
  for (char c : status) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '.') {
      return absl::InvalidArgumentError(
          absl::StrCat("'", status, "' is not an enhanced status code"));
    }
  }
  return absl::OkStatus();
}

bool Permanent(int code, absl::string_view enhanced) {
  if (code != 0) return code >= 500 && code < 600;
  return !enhanced.empty() && enhanced[0] == '5';
}

bool AboutTheAddress(BounceCategory category) {
  return category == BounceCategory::kBadMailbox || category == BounceCategory::kBadDomain ||
         category == BounceCategory::kInactiveMailbox;
}

}  // namespace

std::string_view BounceCategoryName(BounceCategory category) {
  for (const auto& [value, name] : kNames) {
    if (value == category) return name;
  }
  return "other";
}

absl::StatusOr<BounceCategory> ParseBounceCategory(absl::string_view name) {
  for (const auto& [value, known] : kNames) {
    if (name == absl::string_view(known.data(), known.size())) return value;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", name,
      "' is not a bounce category (bad-mailbox, bad-domain, inactive-mailbox, quota, spam-block, "
      "policy, routing, message-expired, throttled, auth-failure, content, other)"));
}

absl::string_view BounceClassifier::BuiltinRulesToml() { return kSluiceBounceRulesToml; }

absl::StatusOr<std::vector<BounceClassifier::Rule>> BounceClassifier::ParseRules(
    absl::string_view toml, absl::string_view source) {
  std::vector<Rule> rules;
  absl::Status status = common::TableBinder::Bind(toml, source, [&](common::TableBinder& root) {
    root.TableArray("rule", [&](common::TableBinder& table, size_t) {
      Rule& rule = rules.emplace_back();
      bool has_category = false;
      table.Parsed("category", &rule.category, &ParseBounceCategory);
      has_category = table.Has("category");
      table.StringList("status", &rule.status, &CheckStatus);
      table.IntList("code", 200, 599, &rule.codes);
      table.String("text", &rule.text);
      if (!has_category) table.Error("needs a category");
      if (rule.status.empty() && rule.codes.empty() && rule.text.empty()) {
        table.Error("needs at least one of status, code, text");
      }
      if (!rule.text.empty()) {
        const re2::RE2 compiled(rule.text);
        if (!compiled.ok()) table.Error(absl::StrCat("text: ", compiled.error()));
      }
    });
  });
  if (!status.ok()) return status;
  return rules;
}

absl::StatusOr<std::unique_ptr<const BounceClassifier>> BounceClassifier::Create(
    std::vector<Rule> rules) {
  std::unique_ptr<BounceClassifier> classifier(new BounceClassifier(std::move(rules)));
  re2::RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  classifier->texts_ = std::make_unique<re2::RE2::Set>(options, re2::RE2::UNANCHORED);
  for (size_t i = 0; i < classifier->rules_.size(); ++i) {
    const Rule& rule = classifier->rules_[i];
    if (rule.text.empty()) {
      classifier->text_pattern_.push_back(-1);
      continue;
    }
    std::string error;
    const int index = classifier->texts_->Add(rule.text, &error);
    if (index < 0) {
      return absl::InvalidArgumentError(absl::StrCat("rule ", i, " text: ", error));
    }
    classifier->text_pattern_.push_back(index);
    classifier->pattern_rule_.push_back(static_cast<int>(i));
  }
  if (!classifier->texts_->Compile()) {
    return absl::ResourceExhaustedError("bounce rules: the patterns are too large to compile");
  }
  return std::unique_ptr<const BounceClassifier>(std::move(classifier));
}

const BounceClassifier& BounceClassifier::Builtin() {
  static const BounceClassifier* const builtin = [] {
    absl::StatusOr<std::vector<Rule>> rules = ParseRules(BuiltinRulesToml(), "bounce_rules.toml");
    // The shipped file is checked by the tests; a broken one is a build bug.
    if (!rules.ok()) std::abort();
    absl::StatusOr<std::unique_ptr<const BounceClassifier>> classifier = Create(*std::move(rules));
    if (!classifier.ok()) std::abort();
    return classifier->release();
  }();
  return *builtin;
}

BounceClassifier::BounceClassifier(std::vector<Rule> rules) : rules_(std::move(rules)) {}

BounceClassifier::~BounceClassifier() = default;

int BounceClassifier::ReplyCodeOf(absl::string_view reply) {
  if (reply.size() < 3 || !absl::ascii_isdigit(static_cast<unsigned char>(reply[0])) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(reply[1])) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(reply[2]))) {
    return 0;
  }
  return (reply[0] - '0') * 100 + (reply[1] - '0') * 10 + (reply[2] - '0');
}

bool BounceClassifier::StatusMatches(const Rule& rule, absl::string_view enhanced) {
  if (rule.status.empty()) return true;
  for (const std::string& status : rule.status) {
    if (status.back() == '.' ? absl::StartsWith(enhanced, status) : enhanced == status) {
      return true;
    }
  }
  return false;
}

BounceClass BounceClassifier::Classify(int code, absl::string_view enhanced,
                                       absl::string_view text) const {
  std::vector<int> matched;
  if (!text.empty()) texts_->Match(re2::StringPiece(text.data(), text.size()), &matched);
  std::vector<bool> text_hit(rules_.size(), false);
  for (int pattern : matched) text_hit[pattern_rule_[pattern]] = true;
  BounceClass out;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = rules_[i];
    if (text_pattern_[i] >= 0 && !text_hit[i]) continue;
    if (!StatusMatches(rule, enhanced)) continue;
    if (!rule.codes.empty() &&
        std::find(rule.codes.begin(), rule.codes.end(), code) == rule.codes.end()) {
      continue;
    }
    out.category = rule.category;
    out.rule = static_cast<int>(i);
    break;
  }
  out.hard = Permanent(code, enhanced) && AboutTheAddress(out.category);
  return out;
}

}  // namespace sluice::mail
