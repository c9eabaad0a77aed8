#include "mail/dkim_canonical.h"

#include <cstddef>

#include "absl/strings/ascii.h"
#include "openssl/sha.h"

namespace sluice::mail {
namespace {

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

// Appends `text` with each run of white space as one space and none at the
// end.
void AppendCollapsed(absl::string_view text, std::string* out) {
  bool pending_space = false;
  for (char c : text) {
    if (IsWsp(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space) out->push_back(' ');
    pending_space = false;
    out->push_back(c);
  }
}

// Feeds the canonical body to `sha` line by line, without building it.
class BodyCanonicalizer {
 public:
  BodyCanonicalizer(DkimCanonicalization c, SHA256_CTX* sha)
      : relaxed_(c == DkimCanonicalization::kRelaxed), sha_(sha) {}

  void Line(absl::string_view line) {
    absl::string_view content = line;
    if (relaxed_) {
      scratch_.clear();
      AppendCollapsed(line, &scratch_);
      content = scratch_;
    }
    if (content.empty()) {
      ++empty_lines_;  // written only if a line with content follows
      return;
    }
    for (; empty_lines_ > 0; --empty_lines_) Update("\r\n");
    Update(content);
    Update("\r\n");
    wrote_any_ = true;
  }

  void Finish() {
    if (!wrote_any_ && !relaxed_) Update("\r\n");
  }

 private:
  void Update(absl::string_view bytes) { SHA256_Update(sha_, bytes.data(), bytes.size()); }

  const bool relaxed_;
  SHA256_CTX* const sha_;
  std::string scratch_;
  size_t empty_lines_ = 0;
  bool wrote_any_ = false;
};

}  // namespace

absl::string_view DkimCanonicalizationName(DkimCanonicalization c) {
  return c == DkimCanonicalization::kSimple ? "simple" : "relaxed";
}

std::string CanonicalHeaderField(absl::string_view field, DkimCanonicalization c) {
  if (c == DkimCanonicalization::kSimple) return std::string(field) + "\r\n";
  const size_t colon = field.find(':');
  absl::string_view name = field.substr(0, colon);
  while (!name.empty() && IsWsp(name.back())) name.remove_suffix(1);
  std::string out = absl::AsciiStrToLower(name);
  out.push_back(':');
  if (colon != absl::string_view::npos) {
    std::string unfolded;
    unfolded.reserve(field.size() - colon);
    for (char ch : field.substr(colon + 1)) {
      if (ch != '\r' && ch != '\n') unfolded.push_back(ch);
    }
    absl::string_view value = unfolded;
    while (!value.empty() && IsWsp(value.front())) value.remove_prefix(1);
    AppendCollapsed(value, &out);
  }
  out.append("\r\n");
  return out;
}

Sha256Digest DkimBodyHash(absl::string_view body, DkimCanonicalization c) {
  SHA256_CTX sha;
  SHA256_Init(&sha);
  BodyCanonicalizer canonical(c, &sha);
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t eol = body.find("\r\n", pos);
    if (eol == absl::string_view::npos) {
      canonical.Line(body.substr(pos));  // no final CRLF: one is added
      break;
    }
    canonical.Line(body.substr(pos, eol - pos));
    pos = eol + 2;
  }
  canonical.Finish();
  Sha256Digest digest;
  SHA256_Final(digest.data(), &sha);
  return digest;
}

}  // namespace sluice::mail
