// RecordingStreamSink: an HttpStreamSink for handler tests that takes the
// answer apart into messages of type `Response` and records the status,
// the bytes consumed and (unless `client_reads`) the bytes a client that
// does not read would leave unsent.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_stream.h"
#include "grpc/grpc_wire.h"
#include "grpc/message_reader.h"
#include "gtest/gtest.h"

namespace sluice::api::testing {

template <typename Response>
class RecordingStreamSink final : public HttpStreamSink {
 public:
  void StartStream(uint64_t, int status, std::string_view content_type,
                   const HttpHeaders&) override {
    started_status = status;
    content = std::string(content_type);
  }
  void WriteStream(uint64_t, std::string_view bytes) override {
    std::vector<grpc::Message> messages;
    ASSERT_TRUE(reader.Feed(bytes, &messages).ok());
    for (const grpc::Message& message : messages) {
      Response response;
      ASSERT_TRUE(response.ParseFromString(message.payload));
      answers.push_back(std::move(response));
    }
    if (!client_reads) unsent += bytes.size();
  }
  void FinishStream(uint64_t, const HttpHeaders& trailers) override {
    ++finishes;
    for (const auto& [name, value] : trailers) {
      if (name == "grpc-status") status = std::stoi(value);
      if (name == "grpc-message") message = grpc::PercentDecode(value);
    }
  }
  void ConsumeStream(uint64_t, size_t bytes) override { consumed += bytes; }
  size_t UnsentStreamBytes(uint64_t) const override { return unsent; }

  int started_status = 0;
  std::string content;
  grpc::MessageReader reader{16 << 20};
  std::vector<Response> answers;
  int finishes = 0;
  int status = -1;  // grpc-status of the trailers; -1 before they came
  std::string message;
  size_t consumed = 0;
  bool client_reads = true;
  size_t unsent = 0;
};

}  // namespace sluice::api::testing
