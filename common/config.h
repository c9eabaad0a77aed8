// config: the daemon's configuration, read from TOML.
//
// A built-in TOML document (DefaultConfigToml) is applied first, then the
// operator's file on top of it: a key present in the file replaces the
// default, a key absent keeps it. Every key is declared; an unknown key or
// table, a value of the wrong type or out of range is an InvalidArgument error
// naming the source, line, column and dotted key, e.g.
//   sluice.toml:3:1: unknown key 'listen.smpt'
// All errors found are reported, one per line. A missing or unreadable file
// is an error naming the path and the errno text. Call from any thread; the
// functions share no state.
//
// To add a setting: add the field here, its default to DefaultConfigToml() in
// config.cc and one line to the section's binder there.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/logging.h"

namespace sluice::common {

// A numeric IPv4 or IPv6 address and a port; host names are not accepted.
struct ListenAddress {
  std::string host;  // e.g. "127.0.0.1" or "::1" (no brackets)
  uint16_t port = 0;

  // "127.0.0.1:2525" or "[::1]:25".
  std::string ToString() const;

  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

// Parses "1.2.3.4:25" or "[::1]:25". The host is checked with inet_pton; the
// port must be decimal 0..65535 (0 asks the kernel for any free port).
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

// The fields carry no defaults of their own: DefaultConfigToml() is the one
// place defaults are written down.
struct ServerConfig {
  int shards = 0;  // [0, 256]; 0 means one shard per CPU, left for the caller to resolve
  std::string data_dir;
};

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
};

struct ListenConfig {
  ListenAddress relay;        // SMTP relay (port 25 traffic)
  ListenAddress submission;   // SMTP submission with STARTTLS
  ListenAddress submissions;  // SMTP submission over implicit TLS
  ListenAddress http;         // HTTP injection API and metrics
};

struct Config {
  ServerConfig server;
  LogConfig log;
  ListenConfig listen;
};

// The built-in defaults, as TOML.
absl::string_view DefaultConfigToml();

// Defaults overlaid with `toml_text`; `source_name` prefixes error positions.
absl::StatusOr<Config> LoadConfig(absl::string_view toml_text, absl::string_view source_name);

// LoadConfig on the contents of the file at `path`.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

}  // namespace sluice::common
