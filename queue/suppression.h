// SuppressionList: the addresses sluice refuses to mail, and why.
//
// An entry belongs to a scope: a tenant, or "" for every tenant (the global
// scope). Mail of tenant T to an address is refused when T's scope or the
// global scope has a live entry for it; mail without a tenant checks the
// global scope. Addresses are kept in lower case, local part included, as
// bulk senders and mailbox providers treat them. An entry records where it
// came from (a hard bounce, a complaint, a one-click unsubscribe, an
// operator), a reason, when it was made and when it expires (never, by
// default); an expired entry refuses nothing and is swept away.
//
// An interface, so ingest, delivery and the admin API compile against
// neither RocksDB nor RocksDbSpool, which implements it in the spool's
// database (queue/rocksdb_spool.h). Every method may be called from a shard
// and never blocks; each answers once, on the calling shard (or, for a
// caller that is not a shard, on a spool thread), with kUnavailable when the
// spool is too busy or cannot write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::queue {

enum class SuppressionSource { kHardBounce, kComplaint, kUnsubscribe, kOperator };

// "hard-bounce", "complaint", "unsubscribe", "operator".
std::string_view SuppressionSourceName(SuppressionSource source);
std::optional<SuppressionSource> ParseSuppressionSource(std::string_view name);

struct SuppressionEntry {
  std::string scope;    // a tenant; "" for every tenant
  std::string address;  // lower case
  SuppressionSource source = SuppressionSource::kOperator;
  std::string reason;
  int64_t created_unix_ms = 0;
  int64_t expires_unix_ms = 0;  // 0: never

  bool Live(int64_t now_unix_ms) const {
    return expires_unix_ms == 0 || expires_unix_ms > now_unix_ms;
  }
  bool operator==(const SuppressionEntry&) const = default;
};

// `address` trimmed and in lower case; "" unless it is local@domain with
// both parts non-empty and no space or control character in it.
std::string NormalizeSuppressedAddress(std::string_view address);

// What an import did: entries written, and the lines it refused (the first
// few, each "line N: problem").
struct SuppressionImport {
  uint64_t imported = 0;
  uint64_t refused = 0;
  std::vector<std::string> errors;
};

class SuppressionList {
 public:
  // Named apart from Spool's and SpoolAdmin's, which RocksDbSpool also is.
  using SuppressDone = absl::AnyInvocable<void(absl::Status)>;
  using LookupDone =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<std::optional<SuppressionEntry>>>)>;
  using RemovedDone = absl::AnyInvocable<void(absl::StatusOr<uint64_t>)>;
  using EntriesDone = absl::AnyInvocable<void(absl::StatusOr<std::vector<SuppressionEntry>>)>;
  using TextDone = absl::AnyInvocable<void(absl::StatusOr<std::string>)>;
  using ImportDone = absl::AnyInvocable<void(absl::StatusOr<SuppressionImport>)>;

  virtual ~SuppressionList() = default;

  // False only when the list is certainly empty, so ingest can skip the
  // lookup. Any thread, without blocking.
  virtual bool MayHaveSuppressions() const = 0;

  // For each of `addresses` (normalized here), the live entry that refuses
  // it to `tenant`: the tenant's own, else the global one; nullopt if none.
  virtual void LookUpSuppressed(std::string tenant, std::vector<std::string> addresses,
                                LookupDone done) = 0;
  // Adds the entries, replacing any of the same scope and address; synced
  // to disk before `done` answers OK.
  virtual void Suppress(std::vector<SuppressionEntry> entries, SuppressDone done) = 0;
  // Removes `addresses` from `scope`; answers how many were there.
  virtual void Unsuppress(std::string scope, std::vector<std::string> addresses,
                          RemovedDone done) = 0;
  // Up to `limit` live entries of `scope` whose address starts with
  // `prefix`, in address order after `after` (the last address of the
  // previous page, or "").
  virtual void ListSuppressed(std::string scope, std::string prefix, std::string after,
                              size_t limit, EntriesDone done) = 0;
  // Adds the rows of a CSV text (queue/suppression_csv.h) to `scope`,
  // parsed and written off the shards in slices, so a large import never
  // holds up the spool's other writes for long.
  virtual void ImportSuppressions(std::string scope, std::string csv, ImportDone done) = 0;
  // Every live entry of `scope` as CSV.
  virtual void ExportSuppressions(std::string scope, TextDone done) = 0;
};

}  // namespace sluice::queue
