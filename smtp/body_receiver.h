// BodyReceiver: the body of the message in transaction, as the server
// session receives it by DATA (dot-stuffed) or by a sequence of BDAT chunks
// (RFC 3030), sans-IO.
//
// The body is the Received header the session starts it with, then what
// DataReader unstuffs. For BDAT the receiver also counts what is left of the
// chunk being read and keeps the refusal of the first chunk that failed: the
// rest of the sequence is discarded and gets the same reply, and its LAST
// chunk ends the transaction. A body DataReader refuses (bare LF or CR, NUL,
// a long line, too big) becomes a Refusal, the reply to send; never a crash.
// Owned by one server session.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/data_reader.h"

namespace sluice::smtp {

class BodyReceiver {
 public:
  struct Refusal {
    int code;
    std::string_view enhanced;
    std::string text;
  };

  explicit BodyReceiver(const DataReader::Limits& limits) : limits_(limits) {}
  // The reader stores into body_: neither copied nor moved.
  BodyReceiver(const BodyReceiver&) = delete;
  BodyReceiver& operator=(const BodyReceiver&) = delete;

  // Starts the body with `received_header`: at DATA, or at the first BDAT
  // chunk that is stored (chunking() from then on).
  void Start(DataReader::Framing framing, std::string received_header);

  // DATA: consumes a prefix of `input`, up to the end of the data.
  size_t ConsumeData(std::string_view input) { return reader_.Consume(input); }
  bool data_done() const { return reader_.done(); }

  // BDAT: the next `size` octets are a chunk, stored unless `discard`.
  void StartChunk(uint64_t size, bool last, bool discard);
  // Consumes a prefix of `input`, up to the end of the chunk.
  size_t ConsumeChunk(std::string_view input);
  bool chunk_done() const { return chunk_remaining_ == 0; }
  bool last_chunk() const { return chunk_last_; }
  // A chunk sequence is under way: DATA may not follow, nor RCPT.
  bool chunking() const { return chunking_; }
  // A chunk of the sequence was refused; the rest are discarded.
  bool failed() const { return chunk_refusal_.has_value(); }
  // At the end of a chunk the session accepts: the refusal that sticks to
  // the sequence from this chunk on, if there is one.
  const std::optional<Refusal>& EndChunk();

  // Octets of body stored (unstuffed, the Received header not counted).
  uint64_t size() const { return reader_.size(); }
  // At the end of the body: why it is refused, if it is.
  std::optional<Refusal> refusal() const;
  // The Received header and the body, moved out.
  std::string TakeBody();
  // Forgets the body and the chunk sequence (RSET, end of the transaction).
  void Reset();

 private:
  const DataReader::Limits limits_;
  DataReader reader_;
  std::string body_;
  bool chunking_ = false;
  uint64_t chunk_remaining_ = 0;
  bool chunk_last_ = false;
  bool chunk_discard_ = false;
  std::optional<Refusal> chunk_refusal_;
};

}  // namespace sluice::smtp
