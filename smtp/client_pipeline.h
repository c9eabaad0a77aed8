// ClientPipeline: what a client session has written and what it is owed,
// in order (RFC 2920): the output not yet flushed, and for every command in
// it the reply the server owes, oldest first. Replies are matched to
// commands by position only, so the session pops one expectation per reply.
//
// sans-IO plain bookkeeping, owned by one ClientSession; no errors.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "smtp/client_wait.h"

namespace sluice::smtp {

class ClientPipeline {
 public:
  // The reply a command asks for.
  enum class Expect {
    kGreeting,
    kEhlo,
    kHelo,
    kStartTls,
    kRset,
    kMail,
    kRcpt,
    kData,
    kDataEnd,
    kBdat,
    kBdatLast,
    kQuit,
  };
  struct Pending {
    Expect expect;
    size_t index = 0;  // kRcpt: the recipient
  };

  // Writes `line` and CRLF; its reply is owed.
  void Send(std::string_view line, Expect expect, size_t index = 0);
  // A reply is owed that no command asked for (the greeting, the reply to
  // the end of data).
  void Await(Expect expect) { pending_.push_back({expect}); }
  // Writes `text` that asks for no reply.
  void Write(std::string_view text) { output_.append(text); }
  // Writes message data.
  void WriteData(std::string_view data);
  // Writes canonical `body` dot-stuffed, with the terminating ".\r\n".
  void WriteDotStuffed(std::string_view body);

  // A reply is owed.
  bool waiting() const { return !pending_.empty(); }
  // The oldest reply owed, no longer owed; only while waiting().
  Pending Pop();
  // Nothing is owed any more (the connection ends).
  void Forget() { pending_.clear(); }
  // What the oldest reply owed answers; kNone when none is.
  ClientWait wait() const;

  const std::string& output() const { return output_; }
  // output() holds message data.
  bool has_data() const { return has_data_; }
  std::string TakeOutput();

 private:
  std::string output_;
  bool has_data_ = false;
  std::deque<Pending> pending_;
};

}  // namespace sluice::smtp
