// MessageId: the 128-bit, time-ordered identifier of one accepted message,
// and MessageIdGenerator, which hands them out on one shard.
//
// Layout, most significant bit first:
//   48 bits  Unix time in milliseconds
//   16 bits  node: random per process, so two processes sharing a spool or a
//            log do not collide
//    8 bits  shard that generated the id
//   56 bits  counter, so one generator never repeats itself
// Because time is on top, ids sort by creation time in every form: as
// integers (operator<=>), as big-endian bytes (ToBytes, used as RocksDB keys)
// and as text (ToString, 26 characters of Crockford base32 like a ULID).
//
// MessageId is a value type, safe to share between threads. Parse and
// FromBytes return InvalidArgument for malformed input; nothing here crashes.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/clock.h"

namespace sluice::common {

class MessageId {
 public:
  static constexpr int kTextLength = 26;
  static constexpr int kByteLength = 16;
  static constexpr uint64_t kMaxUnixMillis = (uint64_t{1} << 48) - 1;
  static constexpr uint64_t kMaxCounter = (uint64_t{1} << 56) - 1;

  // The all-zero id, which no generator produces.
  constexpr MessageId() = default;
  constexpr MessageId(uint64_t hi, uint64_t lo) : hi_(hi), lo_(lo) {}
  // Fields are truncated to their widths (48, 16, 8 and 56 bits).
  static MessageId FromParts(uint64_t unix_millis, uint16_t node, uint8_t shard, uint64_t counter);

  // Parses ToString()'s form, in any letter case. Crockford's aliases (I, L,
  // O) are refused, so each id has exactly one text.
  static absl::StatusOr<MessageId> Parse(absl::string_view text);
  // Reads ToBytes()'s form; anything but exactly 16 bytes is an error.
  static absl::StatusOr<MessageId> FromBytes(absl::Span<const uint8_t> bytes);

  // 26 uppercase characters from 0-9A-Z without I, L, O, U.
  std::string ToString() const;
  // Big-endian, so bytewise comparison matches operator<=>.
  std::array<uint8_t, kByteLength> ToBytes() const;

  uint64_t hi() const { return hi_; }
  uint64_t lo() const { return lo_; }
  uint64_t unix_millis() const { return hi_ >> 16; }
  uint16_t node() const { return static_cast<uint16_t>(hi_); }
  uint8_t shard() const { return static_cast<uint8_t>(lo_ >> 56); }
  uint64_t counter() const { return lo_ & kMaxCounter; }
  absl::Time Timestamp() const;

  // Members compare hi_ first, then lo_: exactly the bit order above.
  friend constexpr auto operator<=>(const MessageId&, const MessageId&) = default;

  template <typename H>
  friend H AbslHashValue(H h, const MessageId& id) {
    return H::combine(std::move(h), id.hi_, id.lo_);
  }

 private:
  uint64_t hi_ = 0;
  uint64_t lo_ = 0;
};

// Produces strictly increasing ids for one shard. If the wall clock stands
// still or steps back, the generator keeps its last millisecond and counts
// on; if the 56-bit counter of a millisecond runs out, it moves on to the
// next millisecond. Not thread-safe: each shard owns its generator.
class MessageIdGenerator {
 public:
  // `clock` must outlive the generator. `shard` must be in [0, 255]; only its
  // low 8 bits are used.
  MessageIdGenerator(const Clock* clock, int shard, uint16_t node);

  MessageIdGenerator(const MessageIdGenerator&) = delete;
  MessageIdGenerator& operator=(const MessageIdGenerator&) = delete;

  MessageId Next();

  // A random node value chosen once per process.
  static uint16_t ProcessNode();
  // The node for generator `stream` of this process: generators that share
  // a shard must use different streams, or two of them could hand out the
  // same id within one millisecond.
  static uint16_t StreamNode(uint16_t stream) {
    return static_cast<uint16_t>(ProcessNode() + stream);
  }

 private:
  const Clock* const clock_;
  const uint8_t shard_;
  const uint16_t node_;
  uint64_t last_millis_ = 0;
  uint64_t counter_ = 0;
  bool started_ = false;
};

}  // namespace sluice::common
