#include "smtp/client_wait.h"

namespace sluice::smtp {

std::string_view ClientWaitName(ClientWait wait) {
  switch (wait) {
    case ClientWait::kNone:
      return "nothing";
    case ClientWait::kGreeting:
      return "greeting";
    case ClientWait::kHelo:
      return "EHLO/HELO";
    case ClientWait::kStartTls:
      return "STARTTLS";
    case ClientWait::kRset:
      return "RSET";
    case ClientWait::kMail:
      return "MAIL FROM";
    case ClientWait::kRcpt:
      return "RCPT TO";
    case ClientWait::kDataInitiation:
      return "DATA";
    case ClientWait::kBdat:
      return "BDAT";
    case ClientWait::kDataTermination:
      return "end of data";
    case ClientWait::kQuit:
      return "QUIT";
  }
  return "?";
}

absl::Duration ClientWaitTimeout(ClientWait wait, const ClientTimeouts& timeouts) {
  switch (wait) {
    case ClientWait::kNone:
      return absl::InfiniteDuration();
    case ClientWait::kGreeting:
      return timeouts.greeting;
    case ClientWait::kHelo:
    case ClientWait::kStartTls:
    case ClientWait::kRset:
    case ClientWait::kQuit:
      return timeouts.command;
    case ClientWait::kMail:
      return timeouts.mail;
    case ClientWait::kRcpt:
      return timeouts.rcpt;
    case ClientWait::kDataInitiation:
      return timeouts.data_initiation;
    case ClientWait::kBdat:
      return timeouts.data_block;
    case ClientWait::kDataTermination:
      return timeouts.data_termination;
  }
  return absl::InfiniteDuration();
}

}  // namespace sluice::smtp
