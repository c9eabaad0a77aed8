#include "smtp/data_reader.h"

#include <algorithm>
#include <cstring>

namespace sluice::smtp {
namespace {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kCrs = kOnes * '\r';
constexpr uint64_t kLfs = kOnes * '\n';

// Non-zero when some octet of `word` is zero (the classic bit trick).
inline uint64_t HasZeroByte(uint64_t word) { return (word - kOnes) & ~word & (kOnes * 0x80); }

}  // namespace

void DataReader::Start(Framing framing, const Limits& limits, std::string* body) {
  framing_ = framing;
  limits_ = limits;
  body_ = body;
  state_ = State::kLineStartCrlf;
  error_ = Error::kNone;
  done_ = false;
  line_length_ = 0;
  size_ = 0;
}

std::string_view DataReader::ErrorName(Error error) {
  switch (error) {
    case Error::kNone:
      return "none";
    case Error::kBareLf:
      return "bare LF";
    case Error::kBareCr:
      return "bare CR";
    case Error::kNul:
      return "NUL octet";
    case Error::kLineTooLong:
      return "line too long";
    case Error::kTooBig:
      return "message too big";
  }
  return "unknown";
}

void DataReader::Fail(Error error) {
  if (error_ == Error::kNone) error_ = error;
}

void DataReader::Store(const char* data, size_t length) {
  if (error_ != Error::kNone || length == 0) return;
  // Past a limit, store exactly up to it, so that what was stored does not
  // depend on how the input was split (the body is discarded anyway).
  bool too_big = false;
  if (limits_.max_size != 0 && size_ + length > limits_.max_size) {
    length = static_cast<size_t>(limits_.max_size - size_);
    too_big = true;
  }
  size_ += length;
  body_->append(data, length);
  if (too_big) Fail(Error::kTooBig);
}

void DataReader::CountLine(size_t octets) {
  line_length_ += octets;
  if (limits_.max_line_length != 0 && line_length_ > limits_.max_line_length) {
    Fail(Error::kLineTooLong);
  }
}

void DataReader::EndLine(State next) {
  state_ = next;
  line_length_ = 0;
}

size_t DataReader::Consume(std::string_view input) {
  const char* const data = input.data();
  const size_t n = input.size();
  size_t i = 0;
  while (i < n && !done_) {
    switch (state_) {
      case State::kLineStartCrlf:
        if (framing_ == Framing::kDotStuffed && data[i] == '.') {
          CountLine(1);
          ++i;
          state_ = State::kDot;
        } else {
          state_ = State::kText;
        }
        break;
      case State::kLineStartBare:
        // Unstuff, but this line cannot end the data: the CRLF before the dot
        // was not sent.
        if (framing_ == Framing::kDotStuffed && data[i] == '.') {
          CountLine(1);
          ++i;
        }
        state_ = State::kText;
        break;
      case State::kDot:
        if (data[i] == '\r') {
          CountLine(1);
          ++i;
          state_ = State::kDotCr;
        } else {
          state_ = State::kText;  // the dot was stuffing: dropped
        }
        break;
      case State::kDotCr:
        if (data[i] == '\n') {
          ++i;
          done_ = true;
          line_length_ = 0;
        } else {
          Fail(Error::kBareCr);  // ".\r" then something other than LF
          state_ = State::kText;
        }
        break;
      case State::kCr:
        if (data[i] == '\n') {
          CountLine(1);
          ++i;
          Store("\r\n", 2);
          EndLine(State::kLineStartCrlf);
        } else {
          Fail(Error::kBareCr);
          state_ = State::kText;
        }
        break;
      case State::kText: {
        // The hot loop: find the run up to the next CR, LF or NUL, eight
        // octets at a time, then octet by octet.
        size_t j = i;
        while (j + 8 <= n) {
          uint64_t word;
          std::memcpy(&word, data + j, 8);
          if (HasZeroByte(word) | HasZeroByte(word ^ kCrs) | HasZeroByte(word ^ kLfs)) break;
          j += 8;
        }
        while (j < n) {
          const char c = data[j];
          if (c == '\r' || c == '\n' || c == '\0') break;
          ++j;
        }
        const size_t run = j - i;
        // The common case, a complete line within the limit: store the run
        // and its CRLF with one append.
        if (j + 1 < n && data[j] == '\r' && data[j + 1] == '\n' &&
            (limits_.max_line_length == 0 || line_length_ + run + 2 <= limits_.max_line_length)) {
          Store(data + i, run + 2);
          i = j + 2;
          EndLine(State::kLineStartCrlf);
          break;
        }
        if (limits_.max_line_length != 0 && line_length_ + run > limits_.max_line_length) {
          Store(data + i,
                limits_.max_line_length - std::min(line_length_, limits_.max_line_length));
        } else {
          Store(data + i, run);
        }
        CountLine(run);
        i = j;
        if (i == n) break;
        const char c = data[i++];
        CountLine(1);
        if (c == '\r') {
          state_ = State::kCr;
        } else if (c == '\n') {
          if (limits_.normalize_bare_lf) {
            Store("\r\n", 2);
          } else {
            Fail(Error::kBareLf);
          }
          EndLine(State::kLineStartBare);
        } else {
          Fail(Error::kNul);
        }
        break;
      }
    }
  }
  return i;
}

void DataReader::FinishChunks() {
  if (state_ == State::kCr) {
    Fail(Error::kBareCr);
  } else if (state_ == State::kText && line_length_ > 0) {
    Store("\r\n", 2);
  }
  state_ = State::kLineStartCrlf;
  line_length_ = 0;
}

}  // namespace sluice::smtp
