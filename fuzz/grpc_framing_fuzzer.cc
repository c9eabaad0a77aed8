// libFuzzer target: gRPC message framing (grpc/message_reader.h) and gzip
// (grpc/gzip.h) on arbitrary bytes. Checks, besides the sanitizers:
//  - how the bytes are split does not matter: fed whole or in slices whose
//    sizes the input itself chooses, the same messages and error come out;
//  - a message never exceeds the limit, and framing what was read again
//    gives back the bytes that were consumed;
//  - gzip never inflates past its bound, and what it inflates re-inflates
//    to the same after compressing it again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "grpc/grpc_wire.h"
#include "grpc/gzip.h"
#include "grpc/message_reader.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

constexpr size_t kLimit = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  sluice::grpc::MessageReader whole(kLimit);
  std::vector<sluice::grpc::Message> all;
  const absl::Status whole_status = whole.Feed(input, &all);

  sluice::grpc::MessageReader sliced(kLimit);
  std::vector<sluice::grpc::Message> pieces;
  absl::Status sliced_status;
  for (size_t at = 0, i = 0; at < input.size() && sliced_status.ok(); ++i) {
    const size_t step = 1 + static_cast<uint8_t>(input[i % input.size()]) % 17;
    sliced_status = sliced.Feed(std::string_view(input).substr(at, step), &pieces);
    at += step;
  }
  Check(whole_status.code() == sliced_status.code());
  Check(all.size() == pieces.size());
  std::string framed;
  for (size_t i = 0; i < all.size(); ++i) {
    Check(all[i].payload == pieces[i].payload && all[i].compressed == pieces[i].compressed);
    Check(all[i].payload.size() <= kLimit);
    sluice::grpc::AppendMessage(all[i].payload, all[i].compressed, &framed);
  }
  Check(input.compare(0, framed.size(), framed) == 0);

  absl::StatusOr<std::string> inflated = sluice::grpc::GzipDecompress(input, kLimit);
  if (inflated.ok()) {
    Check(inflated->size() <= kLimit);
    absl::StatusOr<std::string> again =
        sluice::grpc::GzipDecompress(sluice::grpc::GzipCompress(*inflated), kLimit);
    Check(again.ok() && *again == *inflated);
  }
  return 0;
}
