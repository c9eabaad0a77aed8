// MessageReader: a stream of length-prefixed gRPC messages (grpc/grpc_wire.h)
// taken apart as its bytes arrive, in any split. Sans-IO; one stream.
//
// A message over `max_message_bytes` is refused as soon as its header
// arrives (RESOURCE_EXHAUSTED, as gRPC servers answer), before its bytes
// are buffered; after an error the reader takes nothing more.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace sluice::grpc {

struct Message {
  bool compressed = false;
  std::string payload;
};

class MessageReader {
 public:
  explicit MessageReader(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Appends each message completed by `bytes` to `messages`.
  absl::Status Feed(std::string_view bytes, std::vector<Message>* messages);
  // At the end of the stream: INTERNAL when a message was cut short.
  absl::Status Finish() const;
  // Bytes of the message in progress held so far.
  size_t buffered() const { return buffer_.size(); }

 private:
  const size_t max_message_bytes_;
  std::string buffer_;  // the message in progress, header included
  size_t wanted_ = 0;   // its payload length, once the header is complete
  bool have_header_ = false;
  absl::Status error_;
};

}  // namespace sluice::grpc
