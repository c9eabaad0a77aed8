// libFuzzer target: the DATA / BDAT body reader.
//
// Input: one flags octet (limits, framing, split step), then body octets.
// Checks, besides the sanitizers:
//  - split independence (all at once versus pieces of 1..16 octets);
//  - dot-stuffed framing ends exactly at the first <CRLF>.<CRLF> (counting
//    the CRLF of the DATA line), and nowhere else;
//  - an accepted body has only CRLF line ends and no NUL;
//  - re-stuffing an accepted body and reading it again gives the same body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/data_reader.h"

namespace {

using sluice::smtp::DataReader;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

struct Result {
  std::string body;
  DataReader::Error error;
  bool done;
  size_t consumed;
};

Result Read(DataReader::Framing framing, const DataReader::Limits& limits, std::string_view input,
            size_t step) {
  DataReader reader;
  Result result;
  reader.Start(framing, limits, &result.body);
  size_t pos = 0;
  while (pos < input.size() && !reader.done()) {
    const size_t take = std::min(step, input.size() - pos);
    const size_t used = reader.Consume(input.substr(pos, take));
    Check(used <= take);
    pos += used;
    if (used < take) {
      Check(reader.done());
      break;
    }
  }
  if (framing == DataReader::Framing::kChunked) reader.FinishChunks();
  result.error = reader.error();
  result.done = reader.done();
  result.consumed = pos;
  return result;
}

std::string Stuff(std::string_view body) {
  std::string out;
  bool line_start = true;
  for (char c : body) {
    if (line_start && c == '.') out.push_back('.');
    out.push_back(c);
    line_start = c == '\n';
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  DataReader::Limits limits;
  limits.normalize_bare_lf = (flags & 1) != 0;
  limits.max_line_length = (flags & 2) != 0 ? 16 : 1000;
  limits.max_size = (flags & 4) != 0 ? 64 : 0;
  const auto framing =
      (flags & 8) != 0 ? DataReader::Framing::kChunked : DataReader::Framing::kDotStuffed;
  const size_t step = (flags >> 4) + 1;

  const Result whole = Read(framing, limits, input, input.size() + 1);
  const Result split = Read(framing, limits, input, step);
  Check(whole.body == split.body && whole.error == split.error && whole.done == split.done &&
        whole.consumed == split.consumed);

  if (framing == DataReader::Framing::kDotStuffed) {
    const std::string framed = "\r\n" + std::string(input);
    const size_t end = framed.find("\r\n.\r\n");
    if (end == std::string::npos) {
      Check(!whole.done && whole.consumed == input.size());
    } else {
      Check(whole.done && whole.consumed == end + 3);
    }
  } else {
    Check(!whole.done && whole.consumed == input.size());
  }

  if (whole.error == DataReader::Error::kNone) {
    const std::string& body = whole.body;
    if (limits.max_size != 0) Check(body.size() <= limits.max_size);
    for (size_t i = 0; i < body.size(); ++i) {
      Check(body[i] != '\0');
      if (body[i] == '\n') Check(i > 0 && body[i - 1] == '\r');
      if (body[i] == '\r') Check(i + 1 < body.size() && body[i + 1] == '\n');
    }
    if (framing == DataReader::Framing::kDotStuffed && whole.done) {
      DataReader::Limits relaxed;
      relaxed.max_line_length = 0;
      const Result again = Read(DataReader::Framing::kDotStuffed, relaxed, Stuff(body) + ".\r\n",
                                body.size() * 2 + 4);
      Check(again.done && again.error == DataReader::Error::kNone && again.body == body);
    }
  }
  return 0;
}
