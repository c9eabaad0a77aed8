#include "mime/encoded_word.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mime/base64.h"

namespace sluice::mime {
namespace {

// Decodes one RFC 2047 word; the test's own independent reading.
std::string DecodeWord(const std::string& word) {
  EXPECT_EQ(word.substr(0, 8), "=?utf-8?");
  EXPECT_EQ(word.substr(word.size() - 2), "?=");
  const char encoding = word[8];
  const std::string payload = word.substr(10, word.size() - 12);
  if (encoding == 'B') return *Base64Decode(payload);
  std::string out;
  for (size_t i = 0; i < payload.size(); ++i) {
    if (payload[i] == '_') {
      out.push_back(' ');
    } else if (payload[i] == '=') {
      out.push_back(static_cast<char>(std::stoi(payload.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(payload[i]);
    }
  }
  return out;
}

bool IsCompleteUtf8(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = text[i];
    size_t length = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

void ExpectRoundTrip(const std::string& text, size_t first_max = kMaxEncodedWord) {
  const std::vector<std::string> words = EncodeWords(text, first_max);
  std::string decoded;
  for (size_t i = 0; i < words.size(); ++i) {
    EXPECT_LE(words[i].size(), i == 0 ? first_max : kMaxEncodedWord) << words[i];
    const std::string piece = DecodeWord(words[i]);
    EXPECT_TRUE(IsCompleteUtf8(piece)) << "word " << i << " splits a character: " << words[i];
    decoded += piece;
  }
  EXPECT_EQ(decoded, text);
}

TEST(EncodedWordTest, ChoosesQForMostlyAscii) {
  const std::vector<std::string> words = EncodeWords("Gruesse aus Köln");
  ASSERT_EQ(words.size(), 1u);
  EXPECT_EQ(words[0], "=?utf-8?Q?Gruesse_aus_K=C3=B6ln?=");
}

TEST(EncodedWordTest, ChoosesBForMostlyNonAscii) {
  const std::vector<std::string> words = EncodeWords("日本語");
  ASSERT_EQ(words.size(), 1u);
  EXPECT_EQ(words[0], "=?utf-8?B?5pel5pys6Kqe?=");
}

TEST(EncodedWordTest, QWordsEncodeSpecialsForPhraseUse) {
  const std::vector<std::string> words = EncodeWords("ä \"x\", <y>?_=");
  ASSERT_EQ(words.size(), 1u);
  for (char c : std::string("\",<>?_ ")) {
    EXPECT_EQ(words[0].substr(10, words[0].size() - 12).find(c), std::string::npos) << c;
  }
  ExpectRoundTrip("ä \"x\", <y>?_=");
}

TEST(EncodedWordTest, SplitsLongTextWithoutSplittingCharacters) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "€🎉ä日 ";
  ExpectRoundTrip(text);
  ExpectRoundTrip(text, 40);
  ExpectRoundTrip(std::string(200, 'x') + "ü");
  ExpectRoundTrip("🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉", 20);
  EXPECT_GT(EncodeWords(text).size(), 3u);
}

TEST(EncodedWordTest, DecidesWhenPlainTextNeedsEncoding) {
  EXPECT_FALSE(NeedsEncodedWords("Hello world"));
  EXPECT_FALSE(NeedsEncodedWords(""));
  EXPECT_TRUE(NeedsEncodedWords("Grüße"));
  EXPECT_TRUE(NeedsEncodedWords("a  b"));
  EXPECT_TRUE(NeedsEncodedWords(" leading"));
  EXPECT_TRUE(NeedsEncodedWords("trailing "));
  EXPECT_TRUE(NeedsEncodedWords("looks =?like?= a word"));
  EXPECT_TRUE(NeedsEncodedWords("tab\there"));
  EXPECT_TRUE(NeedsEncodedWords(std::string(78, 'w')));
  EXPECT_FALSE(NeedsEncodedWords(std::string(77, 'w')));
}

}  // namespace
}  // namespace sluice::mime
