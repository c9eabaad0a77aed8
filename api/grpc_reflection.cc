#include "api/grpc_reflection.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "api/grpc_injection.h"
#include "api/proto/grpc/health/v1/health.pb.h"
#include "api/proto/grpc/reflection/v1/reflection.pb.h"
#include "api/proto/grpc/reflection/v1alpha/reflection.pb.h"
#include "api/proto/sluice/v1/admin.pb.h"
#include "api/proto/sluice/v1/injection.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/grpc_wire.h"

namespace sluice::api {
namespace {

namespace reflection = ::grpc::reflection::v1alpha;
namespace pb = ::google::protobuf;

constexpr size_t kMaxRequestBytes = 64 << 10;
constexpr size_t kMaxUnsentBytes = 256 << 10;

// The descriptors compiled into sluiced, by file and by symbol: built once,
// at the first reflection call, so later lookups take no lock.
struct Files {
  struct File {
    std::string serialized;  // FileDescriptorProto
    std::vector<std::string> dependencies;
  };
  absl::flat_hash_map<std::string, File> by_name;
  absl::flat_hash_map<std::string, std::string> file_of_symbol;

  void AddMessage(const pb::Descriptor* message, const std::string& file) {
    file_of_symbol[message->full_name()] = file;
    for (int i = 0; i < message->nested_type_count(); ++i)
      AddMessage(message->nested_type(i), file);
    for (int i = 0; i < message->enum_type_count(); ++i) {
      file_of_symbol[message->enum_type(i)->full_name()] = file;
    }
  }

  void AddFile(const pb::FileDescriptor* descriptor) {
    if (by_name.contains(descriptor->name())) return;
    pb::FileDescriptorProto proto;
    descriptor->CopyTo(&proto);
    File& file = by_name[descriptor->name()];
    file.serialized = proto.SerializeAsString();
    for (int i = 0; i < descriptor->dependency_count(); ++i) {
      file.dependencies.push_back(descriptor->dependency(i)->name());
    }
    const std::string& name = descriptor->name();
    for (int i = 0; i < descriptor->message_type_count(); ++i) {
      AddMessage(descriptor->message_type(i), name);
    }
    for (int i = 0; i < descriptor->enum_type_count(); ++i) {
      file_of_symbol[descriptor->enum_type(i)->full_name()] = name;
    }
    for (int i = 0; i < descriptor->service_count(); ++i) {
      const pb::ServiceDescriptor* service = descriptor->service(i);
      file_of_symbol[service->full_name()] = name;
      for (int m = 0; m < service->method_count(); ++m) {
        file_of_symbol[service->method(m)->full_name()] = name;
      }
    }
    for (int i = 0; i < descriptor->dependency_count(); ++i) AddFile(descriptor->dependency(i));
  }
};

const Files& CompiledFiles() {
  static const Files* const files = [] {
    auto* built = new Files;
    for (const pb::FileDescriptor* file :
         {sluice::v1::InjectRequest::descriptor()->file(), sluice::v1::Filter::descriptor()->file(),
          ::grpc::health::v1::HealthCheckRequest::descriptor()->file(),
          reflection::ServerReflectionRequest::descriptor()->file(),
          ::grpc::reflection::v1::ServerReflectionRequest::descriptor()->file()}) {
      built->AddFile(file);
    }
    return built;
  }();
  return *files;
}

}  // namespace

const char* const GrpcReflection::kServices[] = {
    "sluice.v1.Injection",
    "sluice.v1.Admin",
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
};

std::shared_ptr<GrpcReflection> GrpcReflection::Start(HttpStreamWriter writer) {
  std::shared_ptr<GrpcReflection> stream(new GrpcReflection(writer));
  stream->writer_.Start(200, "application/grpc");
  return stream;
}

GrpcReflection::GrpcReflection(HttpStreamWriter writer)
    : writer_(writer), reader_(kMaxRequestBytes) {}

void GrpcReflection::OnData(std::string_view bytes) {
  if (finished_ || !error_.ok()) {
    writer_.Consume(bytes.size());
    return;
  }
  held_ += bytes.size();
  std::vector<grpc::Message> messages;
  error_ = reader_.Feed(bytes, &messages);
  for (grpc::Message& message : messages) {
    if (message.compressed) {
      error_ = absl::UnimplementedError("compressed reflection requests are not supported");
      break;
    }
    waiting_.push_back(std::move(message.payload));
  }
  Drain();
}

void GrpcReflection::OnEnd() {
  ended_ = true;
  if (error_.ok()) error_ = reader_.Finish();
  Drain();
}

void GrpcReflection::OnCancel() {
  waiting_.clear();
  if (finished_) return;
  finished_ = true;
  writer_.Finish({});
}

void GrpcReflection::OnProgress() { Drain(); }

void GrpcReflection::OnStop() {
  if (finished_) return;
  finished_ = true;
  writer_.Finish(GrpcStatusResponse(absl::UnavailableError("sluiced is stopping")).trailers);
}

void GrpcReflection::Drain() {
  while (!finished_ && !waiting_.empty() && writer_.unsent_bytes() <= kMaxUnsentBytes) {
    writer_.Write(grpc::EncodeMessage(Answer(waiting_.front())));
    waiting_.pop_front();
  }
  if (held_ > 0 && (waiting_.empty() || !error_.ok())) writer_.Consume(std::exchange(held_, 0));
  MaybeFinish();
}

void GrpcReflection::MaybeFinish() {
  if (finished_ || !waiting_.empty()) return;
  if (error_.ok() && !ended_) return;
  finished_ = true;
  writer_.Finish(GrpcStatusResponse(error_).trailers);
}

std::string GrpcReflection::Answer(const std::string& payload) {
  reflection::ServerReflectionRequest request;
  reflection::ServerReflectionResponse response;
  auto error = [&response](absl::StatusCode code, std::string message) {
    response.mutable_error_response()->set_error_code(static_cast<int>(code));
    response.mutable_error_response()->set_error_message(std::move(message));
  };
  if (!request.ParseFromString(payload)) {
    error(absl::StatusCode::kInvalidArgument, "not a ServerReflectionRequest");
    return response.SerializeAsString();
  }
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  const Files& files = CompiledFiles();
  // The file and what it imports, less what this stream has been sent.
  auto send_file = [&](const std::string& name) {
    auto* out = response.mutable_file_descriptor_response();
    std::vector<std::string> pending = {name};
    while (!pending.empty()) {
      std::string next = std::move(pending.back());
      pending.pop_back();
      auto it = files.by_name.find(next);
      if (it == files.by_name.end() || !sent_files_.insert(next).second) continue;
      out->add_file_descriptor_proto(it->second.serialized);
      for (const std::string& dependency : it->second.dependencies) pending.push_back(dependency);
    }
    // Asked again: it is sent again, the dependencies not.
    if (out->file_descriptor_proto_size() == 0) {
      out->add_file_descriptor_proto(files.by_name.at(name).serialized);
    }
  };
  switch (request.message_request_case()) {
    case reflection::ServerReflectionRequest::kListServices:
      for (const char* service : kServices) {
        response.mutable_list_services_response()->add_service()->set_name(service);
      }
      break;
    case reflection::ServerReflectionRequest::kFileByFilename:
      if (!files.by_name.contains(request.file_by_filename())) {
        error(absl::StatusCode::kNotFound,
              absl::StrCat("no file named ", request.file_by_filename()));
      } else {
        send_file(request.file_by_filename());
      }
      break;
    case reflection::ServerReflectionRequest::kFileContainingSymbol: {
      auto it = files.file_of_symbol.find(request.file_containing_symbol());
      if (it == files.file_of_symbol.end()) {
        error(absl::StatusCode::kNotFound,
              absl::StrCat("no symbol ", request.file_containing_symbol()));
      } else {
        send_file(it->second);
      }
      break;
    }
    case reflection::ServerReflectionRequest::kFileContainingExtension:
      error(absl::StatusCode::kNotFound, "sluice's protos define no extensions");
      break;
    case reflection::ServerReflectionRequest::kAllExtensionNumbersOfType:
      if (!files.file_of_symbol.contains(request.all_extension_numbers_of_type())) {
        error(absl::StatusCode::kNotFound,
              absl::StrCat("no type ", request.all_extension_numbers_of_type()));
      } else {  // a known type, with no extensions
        response.mutable_all_extension_numbers_response()->set_base_type_name(
            request.all_extension_numbers_of_type());
      }
      break;
    case reflection::ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      error(absl::StatusCode::kInvalidArgument, "no request in the ServerReflectionRequest");
      break;
  }
  return response.SerializeAsString();
}

}  // namespace sluice::api
