#include "smtp/body_receiver.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace sluice::smtp {
namespace {

BodyReceiver::Refusal RefusalFor(DataReader::Error error, const DataReader::Limits& limits) {
  switch (error) {
    case DataReader::Error::kBareLf:
      return {550, "5.5.2", "Error: bare LF in message; lines must end with CRLF; message refused"};
    case DataReader::Error::kBareCr:
      return {550, "5.5.2", "Error: bare CR in message; lines must end with CRLF; message refused"};
    case DataReader::Error::kNul:
      return {550, "5.6.0", "Error: NUL octet in message; message refused"};
    case DataReader::Error::kLineTooLong:
      return {550, "5.6.0",
              absl::StrCat("Error: message line longer than ", limits.max_line_length,
                           " octets; message refused")};
    case DataReader::Error::kTooBig:
      return {552, "5.3.4", "Error: message size exceeds fixed maximum message size"};
    case DataReader::Error::kNone:
      break;
  }
  return {451, "4.3.0", "Error: internal error"};
}

}  // namespace

void BodyReceiver::Start(DataReader::Framing framing, std::string received_header) {
  body_ = std::move(received_header);
  if (framing == DataReader::Framing::kChunked) chunking_ = true;
  reader_.Start(framing, limits_, &body_);
}

void BodyReceiver::StartChunk(uint64_t size, bool last, bool discard) {
  chunk_remaining_ = size;
  chunk_last_ = last;
  chunk_discard_ = discard;
}

size_t BodyReceiver::ConsumeChunk(std::string_view input) {
  const size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_remaining_, input.size()));
  if (!chunk_discard_) reader_.Consume(input.substr(0, take));
  chunk_remaining_ -= take;
  return take;
}

const std::optional<BodyReceiver::Refusal>& BodyReceiver::EndChunk() {
  if (!chunk_refusal_.has_value()) {
    if (reader_.error() == DataReader::Error::kNone && chunk_last_) reader_.FinishChunks();
    if (reader_.error() != DataReader::Error::kNone) {
      chunk_refusal_ = RefusalFor(reader_.error(), limits_);
    }
  }
  return chunk_refusal_;
}

std::optional<BodyReceiver::Refusal> BodyReceiver::refusal() const {
  if (reader_.error() == DataReader::Error::kNone) return std::nullopt;
  return RefusalFor(reader_.error(), limits_);
}

std::string BodyReceiver::TakeBody() { return std::exchange(body_, std::string()); }

void BodyReceiver::Reset() {
  body_.clear();
  chunking_ = false;
  chunk_remaining_ = 0;
  chunk_last_ = false;
  chunk_discard_ = false;
  chunk_refusal_.reset();
}

}  // namespace sluice::smtp
