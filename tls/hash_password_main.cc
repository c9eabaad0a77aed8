// sluice-passwd: prints the hash of a password read from standard input, for
// the SMTP AUTH user table.
//
//   echo -n 'secret' | sluice-passwd                 # scrypt
//   sluice-passwd --scheme=pbkdf2-sha256 < pwfile
//
// Reads the first line (without its line ending). On a terminal it prompts
// on stderr and does not echo what is typed.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tls/password_hash.h"

ABSL_FLAG(std::string, scheme, "scrypt", "scrypt or pbkdf2-sha256");
ABSL_FLAG(uint32_t, pbkdf2_iterations, 600000, "PBKDF2 iterations");
ABSL_FLAG(int32_t, scrypt_ln, 15, "scrypt cost: N = 2^ln");

namespace {

// Reads one line from stdin; with echo off when stdin is a terminal.
bool ReadPassword(std::string* out) {
  const bool tty = isatty(STDIN_FILENO) != 0;
  termios saved{};
  if (tty) {
    std::fputs("Password: ", stderr);
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  const bool ok = static_cast<bool>(std::getline(std::cin, *out)) || !out->empty();
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::fputs("\n", stderr);
  }
  if (!out->empty() && out->back() == '\r') out->pop_back();
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Reads a password from stdin and prints its hash for the SMTP AUTH user table.");
  absl::ParseCommandLine(argc, argv);
  sluice::tls::PasswordHashOptions options;
  const std::string scheme = absl::GetFlag(FLAGS_scheme);
  if (scheme == "scrypt") {
    options.scheme = sluice::tls::PasswordScheme::kScrypt;
  } else if (scheme == "pbkdf2-sha256") {
    options.scheme = sluice::tls::PasswordScheme::kPbkdf2Sha256;
  } else {
    std::cerr << "sluice-passwd: unknown --scheme '" << scheme
              << "' (expected scrypt or pbkdf2-sha256)\n";
    return 2;
  }
  options.pbkdf2_iterations = absl::GetFlag(FLAGS_pbkdf2_iterations);
  options.scrypt_log2_n = absl::GetFlag(FLAGS_scrypt_ln);
  std::string password;
  if (!ReadPassword(&password) || password.empty()) {
    std::cerr << "sluice-passwd: no password on standard input\n";
    return 1;
  }
  absl::StatusOr<std::string> hash = sluice::tls::HashPassword(password, options);
  if (!hash.ok()) {
    std::cerr << "sluice-passwd: " << hash.status() << "\n";
    return 1;
  }
  std::cout << *hash << "\n";
  return 0;
}
