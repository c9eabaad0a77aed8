#include "mime/header_writer.h"

#include "absl/strings/str_split.h"
#include "mime/encoded_word.h"
#include "smtp/address.h"

namespace sluice::mime {
namespace {

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  for (absl::string_view word :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ' ', absl::SkipEmpty())) {
    words.emplace_back(word);
  }
  return words;
}

}  // namespace

std::vector<std::string> PhraseTokens(std::string_view display_name, size_t first_room) {
  if (NeedsEncodedWords(display_name)) {
    return EncodeWords(display_name, std::min(first_room, kMaxEncodedWord));
  }
  bool atoms = true;
  for (unsigned char c : display_name) {
    if (c != ' ' && !smtp::IsAtext(c)) atoms = false;
  }
  if (atoms) return SplitWords(display_name);
  std::string quoted = "\"";
  for (char c : display_name) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return {std::move(quoted)};
}

void HeaderWriter::Begin(std::string_view name) {
  out_->append(name);
  out_->push_back(':');
  column_ = name.size() + 1;
  line_has_token_ = false;
}

size_t HeaderWriter::Room() const {
  return column_ + 1 >= kHeaderLineLength ? 0 : kHeaderLineLength - column_ - 1;
}

void HeaderWriter::Token(std::string_view token) {
  // Fold before the token when it would overrun the line, unless nothing
  // but the field name is on the line yet (folding there gains nothing for
  // a first token that is too long anyway).
  if (token.size() > Room() && line_has_token_) {
    out_->append("\r\n ");
    column_ = 1;
  } else {
    out_->push_back(' ');
    ++column_;
  }
  for (char c : token) out_->push_back(c == '\r' || c == '\n' ? ' ' : c);
  column_ += token.size();
  line_has_token_ = true;
}

void HeaderWriter::End() { out_->append("\r\n"); }

void HeaderWriter::AddUnstructured(std::string_view name, std::string_view value) {
  Begin(name);
  if (NeedsEncodedWords(value)) {
    // The first word fits after the name when there is sensible room.
    const size_t room = Room();
    for (const std::string& word :
         EncodeWords(value, room >= 30 ? std::min(room, kMaxEncodedWord) : kMaxEncodedWord)) {
      Token(word);
    }
  } else {
    for (const std::string& word : SplitWords(value)) Token(word);
  }
  End();
}

void HeaderWriter::AddMailboxes(std::string_view name, absl::Span<const Mailbox> mailboxes) {
  Begin(name);
  for (size_t i = 0; i < mailboxes.size(); ++i) {
    const Mailbox& mailbox = mailboxes[i];
    const bool last = i + 1 == mailboxes.size();
    if (mailbox.display_name.empty()) {
      std::string address = mailbox.AddrSpec();
      if (!last) address.push_back(',');
      Token(address);
      continue;
    }
    const size_t room = Room();
    for (const std::string& token :
         PhraseTokens(mailbox.display_name, room >= 30 ? room : kMaxEncodedWord)) {
      Token(token);
    }
    std::string address = "<" + mailbox.AddrSpec() + ">";
    if (!last) address.push_back(',');
    Token(address);
  }
  End();
}

void HeaderWriter::AddTokens(std::string_view name, absl::Span<const std::string> tokens) {
  Begin(name);
  for (const std::string& token : tokens) Token(token);
  End();
}

}  // namespace sluice::mime
