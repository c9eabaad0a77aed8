// TableBinder: binds the keys of a TOML table to explicitly declared fields;
// common/config.cc declares its schema with it.
//
// Bind() parses a document and hands its root table to a function that
// declares the keys. Each call declares a key and, if the table has it, checks
// and stores its value; once a table's keys are declared, every key nobody
// declared is refused, so a typo is an error instead of a silently ignored
// setting. An error does not stop the binding: Bind() returns all of them as
// one InvalidArgument status, one per line in file order, each naming the
// source, line, column and dotted key (a document that does not parse gets
// the parser's one error, with its position). Binders exist only inside the Bind()
// call that made them; Bind() may be called from any thread.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace sluice::common {

class TableBinder {
 public:
  // Parses `text` (named `source` in error positions), lets `bind` declare the
  // keys of the document root, then refuses the keys it did not declare.
  static absl::Status Bind(absl::string_view text, absl::string_view source,
                           absl::FunctionRef<void(TableBinder&)> bind);

  void Int(absl::string_view key, int64_t min, int64_t max, int* out);
  void Int64(absl::string_view key, int64_t min, int64_t max, int64_t* out);
  void Bool(absl::string_view key, bool* out);

  // A duration written like "30s", "5m" or "1h30m"; must be positive.
  void Duration(absl::string_view key, absl::Duration* out);

  // An array of strings, each checked by `check` (may be null).
  void StringList(absl::string_view key, std::vector<std::string>* out,
                  absl::Status (*check)(absl::string_view) = nullptr);

  // An array of integers, each within [min, max].
  void IntList(absl::string_view key, int64_t min, int64_t max, std::vector<int>* out);

  // An array of tables ([[key]]): `bind` declares the keys of each.
  void TableArray(absl::string_view key, absl::FunctionRef<void(TableBinder&, size_t)> bind);

  void Double(absl::string_view key, double min, double max, double* out);

  // A string that must be one of `allowed`.
  void Choice(absl::string_view key, std::initializer_list<absl::string_view> allowed,
              std::string* out);

  void String(absl::string_view key, std::string* out);

  // A string turned into a T by `parse`, whose error message is reported
  // after the key's name.
  template <typename T>
  void Parsed(absl::string_view key, T* out, absl::StatusOr<T> (*parse)(absl::string_view)) {
    ParsedString(key, [&](absl::string_view text) -> absl::Status {
      SLUICE_ASSIGN_OR_RETURN(*out, parse(text));
      return absl::OkStatus();
    });
  }

  // A string that `check` accepts.
  void Checked(absl::string_view key, std::string* out, absl::Status (*check)(absl::string_view));

  // An error about the table as a whole, such as a missing key.
  void Error(absl::string_view text);

  // A sub-table: `bind` declares its keys, then unknown ones are refused.
  void Table(absl::string_view key, absl::FunctionRef<void(TableBinder&)> bind);

  bool Has(absl::string_view key) const;

 private:
  // The errors of one Bind() call, from every binder it makes.
  class ErrorList;

  // `path` is the dotted name of `table` ("" for the document root).
  TableBinder(const toml::table& table, std::string path, ErrorList* errors);

  // Reports every key of the table that no call above declared.
  void Finish();

  const toml::node* Declare(absl::string_view key);

  // An integer in [min, max], stored as T (whose range holds [min, max]).
  template <typename T>
  void Integer(absl::string_view key, int64_t min, int64_t max, T* out);

  void ParsedString(absl::string_view key, absl::FunctionRef<absl::Status(absl::string_view)> set);
  void TypeError(const toml::node& node, absl::string_view key, absl::string_view wanted);
  std::string KeyPath(absl::string_view key) const;

  const toml::table& table_;
  const std::string path_;
  ErrorList* const errors_;
  absl::flat_hash_set<std::string> declared_;
};

}  // namespace sluice::common
