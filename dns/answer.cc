#include "dns/answer.h"

namespace sluice::dns {

std::string TxtRecord::Joined() const {
  std::string out;
  for (const std::string& s : strings) out += s;
  return out;
}

}  // namespace sluice::dns
