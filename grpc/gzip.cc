#include "grpc/gzip.h"

#include <zlib.h>

#include "absl/strings/str_cat.h"

namespace sluice::grpc {
namespace {

constexpr int kGzipWindow = 15 + 16;  // 15-bit window, gzip header and trailer

}  // namespace

std::string GzipCompress(std::string_view data) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindow, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

absl::StatusOr<std::string> GzipDecompress(std::string_view data, size_t max_bytes) {
  z_stream z{};
  if (inflateInit2(&z, kGzipWindow) != Z_OK) {
    return absl::ResourceExhaustedError("gzip: out of memory");
  }
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char chunk[16384];
  int result = Z_OK;
  while (result == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof(chunk);
    result = inflate(&z, Z_NO_FLUSH);
    const size_t produced = sizeof(chunk) - z.avail_out;
    if (out.size() + produced > max_bytes) {
      inflateEnd(&z);
      return absl::ResourceExhaustedError(
          absl::StrCat("gzip: inflates past the ", max_bytes, " bytes allowed"));
    }
    out.append(chunk, produced);
  }
  inflateEnd(&z);
  if (result != Z_STREAM_END) {
    return absl::InvalidArgumentError(result == Z_BUF_ERROR ? "gzip: the data is cut short"
                                                            : "gzip: not gzip data");
  }
  return out;
}

}  // namespace sluice::grpc
