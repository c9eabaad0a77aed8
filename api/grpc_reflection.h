// GrpcReflection: gRPC server reflection (grpc.reflection.v1alpha and
// grpc.reflection.v1 ServerReflectionInfo, api/proto/grpc/reflection), the
// handler of one such stream (api/http_stream.h), so grpcurl-style tools
// can list sluice's services and fetch their descriptors without the
// .proto files.
//
// Each request on the stream is answered in turn: list_services with the
// services served here; file_by_filename and file_containing_symbol with
// the file's descriptor and those of the files it imports that the stream
// has not been sent yet (from the descriptors compiled into sluiced);
// all_extension_numbers_of_type with none (sluice's protos define no
// extensions); an unknown name, or an extension, with an error_response
// (NOT_FOUND). The
// stream ends OK when the client ends it; a broken frame ends it with
// INTERNAL. Answers the client does not read hold back further requests
// (past 256 KiB waiting), so memory stays bounded.
//
// Used only on its shard.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "api/http_stream.h"
#include "grpc/message_reader.h"

namespace sluice::api {

inline constexpr std::string_view kGrpcReflectionV1AlphaPath =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
inline constexpr std::string_view kGrpcReflectionV1Path =
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

class GrpcReflection final : public HttpStreamHandler {
 public:
  // Starts the answer (200, application/grpc).
  static std::shared_ptr<GrpcReflection> Start(HttpStreamWriter writer);

  void OnData(std::string_view bytes) override;
  void OnEnd() override;
  void OnCancel() override;
  void OnProgress() override;
  void OnStop() override;

  // The fully qualified services sluiced serves.
  static const char* const kServices[];

 private:
  explicit GrpcReflection(HttpStreamWriter writer);
  // Answers waiting requests while the client reads the answers.
  void Drain();
  // The answer to one request (a serialized ServerReflectionResponse).
  std::string Answer(const std::string& request);
  void MaybeFinish();

  HttpStreamWriter writer_;
  grpc::MessageReader reader_;
  std::deque<std::string> waiting_;  // request payloads not answered yet
  size_t held_ = 0;                  // request bytes not consumed
  absl::flat_hash_set<std::string> sent_files_;
  bool ended_ = false;
  bool finished_ = false;
  absl::Status error_;
};

}  // namespace sluice::api
