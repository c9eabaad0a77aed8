#include "grpc/message_reader.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "grpc/grpc_wire.h"

namespace sluice::grpc {

absl::Status MessageReader::Feed(std::string_view bytes, std::vector<Message>* messages) {
  if (!error_.ok()) return error_;
  while (!bytes.empty()) {
    if (!have_header_) {
      const size_t take = std::min(kMessageHeaderBytes - buffer_.size(), bytes.size());
      buffer_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (buffer_.size() < kMessageHeaderBytes) break;
      const auto flags = static_cast<uint8_t>(buffer_[0]);
      if (flags > 1) {
        error_ = absl::InternalError(absl::StrCat("grpc: message flags ", flags, " unknown"));
        return error_;
      }
      wanted_ = 0;
      for (int i = 1; i < 5; ++i) wanted_ = (wanted_ << 8) | static_cast<uint8_t>(buffer_[i]);
      if (wanted_ > max_message_bytes_) {
        error_ = absl::ResourceExhaustedError(absl::StrCat("grpc: message of ", wanted_,
                                                           " bytes, more than the ",
                                                           max_message_bytes_, " allowed"));
        return error_;
      }
      have_header_ = true;
      buffer_.reserve(kMessageHeaderBytes + wanted_);
    }
    const size_t have = buffer_.size() - kMessageHeaderBytes;
    const size_t take = std::min(wanted_ - have, bytes.size());
    buffer_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (buffer_.size() - kMessageHeaderBytes < wanted_) break;
    Message& message = messages->emplace_back();
    message.compressed = buffer_[0] == 1;
    message.payload = buffer_.substr(kMessageHeaderBytes);
    buffer_.clear();
    have_header_ = false;
  }
  return absl::OkStatus();
}

absl::Status MessageReader::Finish() const {
  if (!error_.ok()) return error_;
  if (!buffer_.empty()) {
    return absl::InternalError(
        absl::StrCat("grpc: the stream ended inside a message (", buffer_.size(), " bytes of it)"));
  }
  return absl::OkStatus();
}

}  // namespace sluice::grpc
