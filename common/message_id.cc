#include "common/message_id.h"

#include <cassert>

#include "absl/numeric/int128.h"
#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace sluice::common {
namespace {

// Crockford's base32: digits and uppercase letters without I, L, O and U.
// Its characters are in ASCII order, so text order equals numeric order.
constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// Maps an ASCII byte to its 5-bit value, or -1.
constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (int8_t& v : table) v = -1;
  for (int i = 0; i < 32; ++i) {
    const char c = kAlphabet[i];
    table[static_cast<unsigned char>(c)] = static_cast<int8_t>(i);
    if (c >= 'A' && c <= 'Z')
      table[static_cast<unsigned char>(c - 'A' + 'a')] = static_cast<int8_t>(i);
  }
  return table;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

// For error messages: bounded, and printable whatever the input was.
std::string Quote(absl::string_view text) {
  constexpr size_t kMaxShown = 40;
  if (text.size() > kMaxShown)
    return absl::StrCat("'", absl::CHexEscape(text.substr(0, kMaxShown)), "...'");
  return absl::StrCat("'", absl::CHexEscape(text), "'");
}

}  // namespace

MessageId MessageId::FromParts(uint64_t unix_millis, uint16_t node, uint8_t shard,
                               uint64_t counter) {
  return MessageId(((unix_millis & kMaxUnixMillis) << 16) | node,
                   (uint64_t{shard} << 56) | (counter & kMaxCounter));
}

absl::StatusOr<MessageId> MessageId::Parse(absl::string_view text) {
  if (text.size() != kTextLength) {
    return absl::InvalidArgumentError(absl::StrCat("message id ", Quote(text), " must be ",
                                                   kTextLength, " characters, got ", text.size()));
  }
  absl::uint128 value = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const int8_t digit = kDecode[static_cast<unsigned char>(text[i])];
    if (digit < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("message id ", Quote(text), " has an invalid character at position ", i));
    }
    value = (value << 5) | digit;
  }
  // 26 characters carry 130 bits; the first may only use its low 3.
  if (kDecode[static_cast<unsigned char>(text[0])] > 7) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message id ", Quote(text), " is out of range (its first character must be 0-7)"));
  }
  return MessageId(absl::Uint128High64(value), absl::Uint128Low64(value));
}

absl::StatusOr<MessageId> MessageId::FromBytes(absl::Span<const uint8_t> bytes) {
  if (bytes.size() != kByteLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("message id must be ", kByteLength, " bytes, got ", bytes.size()));
  }
  uint64_t hi = 0;
  uint64_t lo = 0;
  for (int i = 0; i < 8; ++i) {
    hi = (hi << 8) | bytes[i];
    lo = (lo << 8) | bytes[i + 8];
  }
  return MessageId(hi, lo);
}

std::string MessageId::ToString() const {
  const absl::uint128 value = absl::MakeUint128(hi_, lo_);
  std::string text(kTextLength, '0');
  for (int i = 0; i < kTextLength; ++i) {
    const int shift = (kTextLength - 1 - i) * 5;
    text[i] = kAlphabet[absl::Uint128Low64(value >> shift) & 31];
  }
  return text;
}

std::array<uint8_t, MessageId::kByteLength> MessageId::ToBytes() const {
  std::array<uint8_t, kByteLength> bytes;
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(hi_ >> (56 - 8 * i));
    bytes[i + 8] = static_cast<uint8_t>(lo_ >> (56 - 8 * i));
  }
  return bytes;
}

absl::Time MessageId::Timestamp() const {
  return absl::FromUnixMillis(static_cast<int64_t>(unix_millis()));
}

MessageIdGenerator::MessageIdGenerator(const Clock* clock, int shard, uint16_t node)
    : clock_(clock), shard_(static_cast<uint8_t>(shard)), node_(node) {
  assert(shard >= 0 && shard <= 255);
}

MessageId MessageIdGenerator::Next() {
  int64_t now = absl::ToUnixMillis(clock_->Now());
  if (now < 0) now = 0;
  const uint64_t millis =
      static_cast<uint64_t>(now) > MessageId::kMaxUnixMillis ? MessageId::kMaxUnixMillis : now;
  if (!started_ || millis > last_millis_) {
    last_millis_ = millis;
    counter_ = 0;
    started_ = true;
  } else if (counter_ < MessageId::kMaxCounter) {
    // Same millisecond, or the clock went back: keep the last millisecond so
    // ids stay increasing.
    ++counter_;
  } else {
    // 2^56 ids in one millisecond: borrow the next one. (At the very last
    // representable millisecond, in the year 10889, this would wrap.)
    ++last_millis_;
    counter_ = 0;
  }
  return MessageId::FromParts(last_millis_, node_, shard_, counter_);
}

uint16_t MessageIdGenerator::ProcessNode() {
  static const uint16_t node = [] {
    absl::BitGen gen;
    return absl::Uniform<uint16_t>(gen);
  }();
  return node;
}

}  // namespace sluice::common
