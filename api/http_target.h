// HttpTarget: a request target ("/api/v1/queues?domain=example.com") split
// into its path and its percent-decoded query parameters. Sans-IO; any
// thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::api {

struct HttpTarget {
  std::string path;                                         // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> params;  // in order, decoded

  // InvalidArgument for a target that is not origin-form ("/...") or has a
  // bad percent escape.
  static absl::StatusOr<HttpTarget> Parse(std::string_view target);

  // The first parameter named `name`, or nullptr.
  const std::string* Param(std::string_view name) const;
};

}  // namespace sluice::api
