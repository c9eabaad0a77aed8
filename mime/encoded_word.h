// encoded_word: RFC 2047 encoded-words for non-ASCII header text.
//
// EncodeWords turns UTF-8 text into "=?utf-8?B?...?=" or "=?utf-8?Q?...?="
// words, choosing whichever encoding is shorter for the whole text. Each word
// is at most `max_word` characters (RFC 2047 2: at most 75), the first at most
// `first_max_word` so that it fits after a header name; a word never splits a
// UTF-8 character. Decoders drop the whitespace between adjacent encoded
// words, so the words carry every space of the text and joining them with
// " " (or a fold) reproduces the text exactly. The Q form uses only the
// characters RFC 2047 5(3) allows in a phrase, so the words are valid in
// display names as well as in unstructured fields.
//
// NeedsEncodedWords says when unstructured text cannot go out as plain
// atoms: non-ASCII or control characters, "=?" (which would read as an
// encoded word), leading, trailing or repeated whitespace, or a word too
// long to fold.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::mime {

inline constexpr size_t kMaxEncodedWord = 75;

std::vector<std::string> EncodeWords(std::string_view utf8, size_t first_max_word = kMaxEncodedWord,
                                     size_t max_word = kMaxEncodedWord);

bool NeedsEncodedWords(std::string_view text, size_t max_plain_word = 77);

}  // namespace sluice::mime
