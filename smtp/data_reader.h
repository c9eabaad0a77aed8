// DataReader: reads a message body off the wire, for DATA (dot-stuffed,
// RFC 5321 4.1.1.4 and 4.5.2) and for BDAT chunks (RFC 3030), sans-IO.
//
// Smuggling-proof by construction: in dot-stuffed framing the body ends only
// at <CRLF>.<CRLF> (or ".<CRLF>" as the very first line); "\n.\n",
// "\n.\r\n", "\r.\r", "\r\n.\r" and the like are content. Bare LF, bare CR
// and NUL octets are recorded as an error; the reader then keeps reading to
// the real end of the data, but stops storing, so the caller can refuse the
// message with one reply after the data ends. With `normalize_bare_lf` (for
// trusted networks) a bare LF is stored as CRLF instead; it still never ends
// the data, nor does a "." line that follows it.
//
// The stored body is unstuffed and has CRLF line endings. Line lengths count
// the octets as sent, CRLF included; the size limit counts stored octets.
// The reader is split-independent: any partition of the input into Consume()
// calls gives the same body, error and end position.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::smtp {

class DataReader {
 public:
  enum class Framing { kDotStuffed, kChunked };
  enum class Error { kNone, kBareLf, kBareCr, kNul, kLineTooLong, kTooBig };

  struct Limits {
    size_t max_line_length = 1000;  // octets including CRLF; 0 = unlimited
    uint64_t max_size = 0;          // stored octets; 0 = unlimited
    bool normalize_bare_lf = false;
  };

  DataReader() = default;

  // Starts a body; stored octets are appended to `*body` (which may already
  // hold, e.g., a Received header; it does not count towards max_size).
  void Start(Framing framing, const Limits& limits, std::string* body);

  // Consumes a prefix of `input` and returns its length: all of it, or, in
  // dot-stuffed framing, up to and including the end-of-data line.
  size_t Consume(std::string_view input);

  // Chunked framing: the last chunk has been read. A trailing bare CR is an
  // error; an unterminated last line gets its CRLF.
  void FinishChunks();

  // Dot-stuffed framing: the end-of-data line has been consumed.
  bool done() const { return done_; }
  // The first error seen, if any.
  Error error() const { return error_; }
  // Octets stored so far (unstuffed).
  uint64_t size() const { return size_; }

  static std::string_view ErrorName(Error error);

 private:
  enum class State {
    kLineStartCrlf,  // after CRLF, or at the start: a "." here may end the data
    kLineStartBare,  // after a bare LF: a "." here is unstuffed but never ends
    kText,
    kCr,     // CR seen in a line
    kDot,    // "." at kLineStartCrlf
    kDotCr,  // "." CR at kLineStartCrlf
  };

  void Store(const char* data, size_t length);
  void Fail(Error error);
  void EndLine(State next);
  void CountLine(size_t octets);

  Framing framing_ = Framing::kDotStuffed;
  Limits limits_;
  std::string* body_ = nullptr;
  State state_ = State::kLineStartCrlf;
  Error error_ = Error::kNone;
  bool done_ = false;
  size_t line_length_ = 0;
  uint64_t size_ = 0;
};

}  // namespace sluice::smtp
