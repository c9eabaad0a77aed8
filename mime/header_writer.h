// header_writer: writes RFC 5322 header fields, folded at 78 characters with
// CRLF + space, encoding non-ASCII text as RFC 2047 encoded-words.
//
// Folding happens only between the tokens a field is made of (words of
// unstructured text, encoded-words, "<addr-spec>", parameters), so a fold
// never changes the meaning. A token longer than a line (a 90-character
// Message-ID, say) stays whole on its own line; RFC 5322 permits lines up
// to 998 octets. Values are trusted to be free of CR and LF (the request
// parser refuses them); any that slip through become spaces.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "mime/mailbox.h"

namespace sluice::mime {

inline constexpr size_t kHeaderLineLength = 78;

class HeaderWriter {
 public:
  // Appends to `*out`, which must outlive the writer.
  explicit HeaderWriter(std::string* out) : out_(out) {}

  // Unstructured text (Subject, most extra headers): plain words when
  // possible, encoded-words otherwise.
  void AddUnstructured(std::string_view name, std::string_view value);
  // From, To, Reply-To: comma-separated mailboxes, display names as atoms, a
  // quoted string or encoded-words. An address with a UTF-8 local part is
  // written as UTF-8 (RFC 6532).
  void AddMailboxes(std::string_view name, absl::Span<const Mailbox> mailboxes);
  // A value made of tokens that must each stay whole, separated by a space
  // or a fold ("multipart/mixed;", "boundary=\"...\"").
  void AddTokens(std::string_view name, absl::Span<const std::string> tokens);

 private:
  void Begin(std::string_view name);
  void Token(std::string_view token);
  void End();
  // Room left on the current line for a token after a separating space.
  size_t Room() const;

  std::string* out_;
  size_t column_ = 0;
  bool line_has_token_ = false;
};

// The display name of a mailbox as phrase tokens: atoms, one quoted
// string, or encoded-words.
std::vector<std::string> PhraseTokens(std::string_view display_name, size_t first_room);

}  // namespace sluice::mime
