// Subprocess: a peer program for interop tests (openssl s_client/s_server),
// with its stdin on a pipe and its stdout+stderr merged on another. Every
// wait is bounded; the destructor kills a process still running.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sluice::tls::testing {

class Subprocess {
 public:
  // Fails (with a clear message) when argv[0] does not exist.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv);
  ~Subprocess();

  absl::Status Write(const std::string& bytes);
  void CloseStdin();
  // Reads output until it contains `needle` at or after offset `from`
  // (true) or EOF/timeout (false).
  bool ReadUntil(const std::string& needle, absl::Duration timeout = absl::Seconds(20),
                 size_t from = 0);
  // Waits for exit, reading output meanwhile; returns the exit code, or an
  // error on timeout (the process is then killed).
  absl::StatusOr<int> Wait(absl::Duration timeout = absl::Seconds(20));
  const std::string& output() const { return output_; }

 private:
  Subprocess() = default;
  // Reads what is available within `timeout`; false at EOF.
  bool ReadSome(absl::Duration timeout);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  bool eof_ = false;
  std::string output_;
};

// The openssl command-line tool (Debian package "openssl").
inline constexpr char kOpenssl[] = "/usr/bin/openssl";

}  // namespace sluice::tls::testing
