#include "dns/mx_rollup.h"

#include <algorithm>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sluice::dns {

void OrderMxRecords(std::vector<MxRecord>& records, absl::BitGenRef gen) {
  // Keep each host once, at its best preference. MX sets are small: a
  // linear scan beats hashing (this runs on every lookup, cache hits too).
  size_t kept = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    size_t j = 0;
    while (j < kept && records[j].host != records[i].host) ++j;
    if (j < kept) {
      records[j].preference = std::min(records[j].preference, records[i].preference);
    } else if (j != i) {
      records[kept++] = std::move(records[i]);
    } else {
      ++kept;
    }
  }
  records.resize(kept);
  std::shuffle(records.begin(), records.end(), gen);
  std::stable_sort(records.begin(), records.end(), [](const MxRecord& a, const MxRecord& b) {
    return a.preference < b.preference;
  });
}

bool IsNullMx(absl::Span<const MxRecord> records) {
  if (records.empty()) return false;
  for (const MxRecord& record : records) {
    if (!record.host.empty()) return false;
  }
  return true;
}

std::string SiteKeyForMx(absl::Span<const MxRecord> records) {
  std::vector<std::string> hosts;
  hosts.reserve(records.size());
  for (const MxRecord& record : records) hosts.push_back(record.host);
  std::sort(hosts.begin(), hosts.end());
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  return absl::StrCat("mx:", absl::StrJoin(hosts, ","));
}

std::string SiteKeyForHosts(std::string_view prefix, absl::Span<const HostPort> hosts) {
  std::vector<std::string> parts;
  parts.reserve(hosts.size());
  for (const HostPort& host : hosts) parts.push_back(host.ToString());
  std::sort(parts.begin(), parts.end());
  return absl::StrCat(absl::string_view(prefix.data(), prefix.size()), ":",
                      absl::StrJoin(parts, ","));
}

}  // namespace sluice::dns
