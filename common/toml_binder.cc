#include "common/toml_binder.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sluice::common {
namespace {

// One error found while binding, kept with its position so all of them can
// be reported in file order.
struct ConfigError {
  int line = 0;
  int column = 0;
  std::string text;
};

absl::string_view TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
  }
  return "unknown";
}

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

class TableBinder::ErrorList {
 public:
  explicit ErrorList(absl::string_view source) : source_(source) {}

  void Add(const toml::source_position& where, std::string text) {
    errors_.push_back({static_cast<int>(where.line), static_cast<int>(where.column),
                       absl::StrCat(source_, ":", where.line, ":", where.column, ": ", text)});
  }

  absl::Status ToStatus() {
    if (errors_.empty()) return absl::OkStatus();
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const ConfigError& a, const ConfigError& b) {
                       return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                     });
    return absl::InvalidArgumentError(absl::StrJoin(
        errors_, "\n", [](std::string* out, const ConfigError& e) { out->append(e.text); }));
  }

 private:
  std::string source_;
  std::vector<ConfigError> errors_;
};

absl::Status TableBinder::Bind(absl::string_view text, absl::string_view source,
                               absl::FunctionRef<void(TableBinder&)> bind) {
  toml::parse_result result =
      toml::parse(std::string_view(text.data(), text.size()), std::string(source));
  if (!result) {
    const toml::parse_error& error = result.error();
    return absl::InvalidArgumentError(absl::StrCat(source, ":", error.source().begin.line, ":",
                                                   error.source().begin.column, ": ",
                                                   View(error.description())));
  }
  ErrorList errors(source);
  TableBinder root(result.table(), "", &errors);
  bind(root);
  root.Finish();
  return errors.ToStatus();
}

TableBinder::TableBinder(const toml::table& table, std::string path, ErrorList* errors)
    : table_(table), path_(std::move(path)), errors_(errors) {}

template <typename T>
void TableBinder::Integer(absl::string_view key, int64_t min, int64_t max, T* out) {
  const toml::node* node = Declare(key);
  if (node == nullptr) return;
  const toml::value<int64_t>* value = node->as_integer();
  if (value == nullptr) {
    TypeError(*node, key, "an integer");
    return;
  }
  if (value->get() < min || value->get() > max) {
    errors_->Add(node->source().begin,
                 absl::StrCat("key '", KeyPath(key), "' must be between ", min, " and ", max));
    return;
  }
  *out = static_cast<T>(value->get());
}

void TableBinder::Int(absl::string_view key, int64_t min, int64_t max, int* out) {
  Integer(key, min, max, out);
}

void TableBinder::Int64(absl::string_view key, int64_t min, int64_t max, int64_t* out) {
  Integer(key, min, max, out);
}

void TableBinder::Bool(absl::string_view key, bool* out) {
  const toml::node* node = Declare(key);
  if (node == nullptr) return;
  const toml::value<bool>* value = node->as_boolean();
  if (value == nullptr) {
    TypeError(*node, key, "true or false");
    return;
  }
  *out = value->get();
}

void TableBinder::Duration(absl::string_view key, absl::Duration* out) {
  ParsedString(key, [&](absl::string_view text) -> absl::Status {
    absl::Duration duration;
    if (!absl::ParseDuration(text, &duration) || duration <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' is not a positive duration like \"30s\" or \"5m\""));
    }
    *out = duration;
    return absl::OkStatus();
  });
}

void TableBinder::StringList(absl::string_view key, std::vector<std::string>* out,
                             absl::Status (*check)(absl::string_view)) {
  const toml::node* node = Declare(key);
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    TypeError(*node, key, "an array of strings");
    return;
  }
  std::vector<std::string> values;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const toml::value<std::string>* value = element.as_string();
    const std::string where = absl::StrCat(KeyPath(key), "[", i, "]");
    if (value == nullptr) {
      errors_->Add(element.source().begin, absl::StrCat("key '", where, "' must be a string, got ",
                                                        TypeName(element.type())));
      continue;
    }
    if (check != nullptr) {
      if (absl::Status status = check(value->get()); !status.ok()) {
        errors_->Add(element.source().begin, absl::StrCat("key '", where, "': ", status.message()));
        continue;
      }
    }
    values.push_back(value->get());
  }
  *out = std::move(values);
}

void TableBinder::IntList(absl::string_view key, int64_t min, int64_t max, std::vector<int>* out) {
  const toml::node* node = Declare(key);
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    TypeError(*node, key, "an array of integers");
    return;
  }
  std::vector<int> values;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const toml::value<int64_t>* value = element.as_integer();
    const std::string where = absl::StrCat(KeyPath(key), "[", i, "]");
    if (value == nullptr || value->get() < min || value->get() > max) {
      errors_->Add(element.source().begin,
                   absl::StrCat("key '", where, "' must be an integer in [", min, ", ", max, "]"));
      continue;
    }
    values.push_back(static_cast<int>(value->get()));
  }
  *out = std::move(values);
}

void TableBinder::TableArray(absl::string_view key,
                             absl::FunctionRef<void(TableBinder&, size_t)> bind) {
  const toml::node* node = Declare(key);
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    TypeError(*node, key, "an array of tables ([[" + std::string(key) + "]])");
    return;
  }
  for (size_t i = 0; i < array->size(); ++i) {
    TableBinder child(*array->get(i)->as_table(), absl::StrCat(KeyPath(key), "[", i, "]"), errors_);
    bind(child, i);
    child.Finish();
  }
}

void TableBinder::Double(absl::string_view key, double min, double max, double* out) {
  const toml::node* node = Declare(key);
  if (node == nullptr) return;
  std::optional<double> value = node->value<double>();
  if (!value.has_value() || !(node->is_floating_point() || node->is_integer())) {
    TypeError(*node, key, "a number");
    return;
  }
  if (*value < min || *value > max) {
    errors_->Add(node->source().begin,
                 absl::StrCat("key '", KeyPath(key), "' must be between ", min, " and ", max));
    return;
  }
  *out = *value;
}

void TableBinder::Choice(absl::string_view key, std::initializer_list<absl::string_view> allowed,
                         std::string* out) {
  ParsedString(key, [&](absl::string_view text) -> absl::Status {
    for (absl::string_view option : allowed) {
      if (text == option) {
        *out = std::string(text);
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not one of ", absl::StrJoin(allowed, ", ")));
  });
}

void TableBinder::String(absl::string_view key, std::string* out) {
  const toml::node* node = Declare(key);
  if (node == nullptr) return;
  const toml::value<std::string>* value = node->as_string();
  if (value == nullptr) {
    TypeError(*node, key, "a string");
    return;
  }
  *out = value->get();
}

void TableBinder::Checked(absl::string_view key, std::string* out,
                          absl::Status (*check)(absl::string_view)) {
  ParsedString(key, [&](absl::string_view text) -> absl::Status {
    SLUICE_RETURN_IF_ERROR(check(text));
    *out = std::string(text);
    return absl::OkStatus();
  });
}

void TableBinder::Error(absl::string_view text) {
  errors_->Add(table_.source().begin, absl::StrCat("table '", path_, "' ", text));
}

void TableBinder::Table(absl::string_view key, absl::FunctionRef<void(TableBinder&)> bind) {
  const toml::node* node = Declare(key);
  if (node == nullptr) return;
  const toml::table* table = node->as_table();
  if (table == nullptr) {
    TypeError(*node, key, "a table");
    return;
  }
  TableBinder child(*table, KeyPath(key), errors_);
  bind(child);
  child.Finish();
}

bool TableBinder::Has(absl::string_view key) const {
  return table_.contains(std::string_view(key.data(), key.size()));
}

void TableBinder::Finish() {
  for (const auto& [key, node] : table_) {
    const absl::string_view name = View(key.str());
    if (declared_.contains(name)) continue;
    errors_->Add(key.source().begin, absl::StrCat("unknown ", node.is_table() ? "table" : "key",
                                                  " '", KeyPath(name), "'"));
  }
}

const toml::node* TableBinder::Declare(absl::string_view key) {
  declared_.insert(std::string(key));
  return table_.get(std::string_view(key.data(), key.size()));
}

void TableBinder::ParsedString(absl::string_view key,
                               absl::FunctionRef<absl::Status(absl::string_view)> set) {
  const toml::node* node = Declare(key);
  if (node == nullptr) return;
  const toml::value<std::string>* value = node->as_string();
  if (value == nullptr) {
    TypeError(*node, key, "a string");
    return;
  }
  const absl::Status status = set(value->get());
  if (!status.ok()) {
    errors_->Add(node->source().begin,
                 absl::StrCat("key '", KeyPath(key), "': ", status.message()));
  }
}

void TableBinder::TypeError(const toml::node& node, absl::string_view key,
                            absl::string_view wanted) {
  errors_->Add(node.source().begin, absl::StrCat("key '", KeyPath(key), "' must be ", wanted,
                                                 ", got ", TypeName(node.type())));
}

std::string TableBinder::KeyPath(absl::string_view key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
}

}  // namespace sluice::common
