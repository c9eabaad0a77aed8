#include "smtp/client_pipeline.h"

#include <utility>

#include "smtp/client_body.h"

namespace sluice::smtp {

void ClientPipeline::Send(std::string_view line, Expect expect, size_t index) {
  output_.append(line);
  output_.append("\r\n");
  pending_.push_back({expect, index});
}

void ClientPipeline::WriteData(std::string_view data) {
  output_.append(data);
  has_data_ = true;
}

void ClientPipeline::WriteDotStuffed(std::string_view body) {
  AppendDotStuffed(body, &output_);
  has_data_ = true;
}

ClientPipeline::Pending ClientPipeline::Pop() {
  const Pending pending = pending_.front();
  pending_.pop_front();
  return pending;
}

ClientWait ClientPipeline::wait() const {
  if (pending_.empty()) return ClientWait::kNone;
  switch (pending_.front().expect) {
    case Expect::kGreeting:
      return ClientWait::kGreeting;
    case Expect::kEhlo:
    case Expect::kHelo:
      return ClientWait::kHelo;
    case Expect::kStartTls:
      return ClientWait::kStartTls;
    case Expect::kRset:
      return ClientWait::kRset;
    case Expect::kMail:
      return ClientWait::kMail;
    case Expect::kRcpt:
      return ClientWait::kRcpt;
    case Expect::kData:
      return ClientWait::kDataInitiation;
    case Expect::kBdat:
      return ClientWait::kBdat;
    case Expect::kDataEnd:
    case Expect::kBdatLast:
      return ClientWait::kDataTermination;
    case Expect::kQuit:
      return ClientWait::kQuit;
  }
  return ClientWait::kNone;
}

std::string ClientPipeline::TakeOutput() {
  has_data_ = false;
  return std::exchange(output_, std::string());
}

}  // namespace sluice::smtp
