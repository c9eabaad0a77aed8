// Running real peers (curl, swaks, nghttp, ...) from a test: the command's
// exit code and everything it wrote, and files for it to read.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace sluice::testing {

struct CommandResult {
  int exit_code = -1;  // -1: it could not be run or did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs `command` with /bin/sh and waits for it.
inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Writes `contents` to `name` in the test's temporary folder; returns the
// path.
inline std::string WriteTempFile(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

}  // namespace sluice::testing
