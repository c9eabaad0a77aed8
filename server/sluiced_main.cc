// sluiced: the sluice daemon.
//
// Parses the flags, loads the configuration (the embedded defaults, or a
// file layered over them), starts a server::Daemon and then waits for
// signals on the main thread, which is not a shard and may block: SIGTERM or
// SIGINT drain and stop (exit 0); SIGHUP reloads the configuration file.
// Errors in the configuration or in starting are reported and exit 1.
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "server/daemon.h"
#include "server/daemon_options.h"

ABSL_FLAG(std::string, config, "",
          "TOML configuration file, layered over the embedded defaults "
          "(sluiced --print_default_config shows them)");
ABSL_FLAG(std::string, data_dir, "", "spool folder; overrides server.data_dir");
ABSL_FLAG(int, shards, -1, "shard threads; overrides server.shards (0: one per CPU)");
ABSL_FLAG(bool, print_default_config, false, "print the embedded default configuration and exit");
ABSL_FLAG(bool, check_config, false,
          "check the configuration (and the key, rule and certificate files it names), print "
          "\"configuration OK\" and exit 0, or the first error and exit 1; starts nothing");

namespace sluice {
namespace {

absl::StatusOr<common::Config> LoadConfiguration() {
  const std::string path = absl::GetFlag(FLAGS_config);
  SLUICE_ASSIGN_OR_RETURN(common::Config config, path.empty() ? common::LoadConfig("", "defaults")
                                                              : common::LoadConfigFile(path));
  if (const std::string dir = absl::GetFlag(FLAGS_data_dir); !dir.empty()) {
    config.server.data_dir = dir;
  }
  if (const int shards = absl::GetFlag(FLAGS_shards); shards >= 0) config.server.shards = shards;
  return config;
}

sigset_t ControlSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  return signals;
}

// Until SIGTERM or SIGINT: SIGHUP reloads.
void ServeSignals(server::Daemon& daemon) {
  const sigset_t signals = ControlSignals();
  while (true) {
    siginfo_t info;
    if (sigwaitinfo(&signals, &info) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (info.si_signo != SIGHUP) {
      SLUICE_LOG(kInfo, "stopping").Field("signal", strsignal(info.si_signo));
      return;
    }
    absl::StatusOr<common::Config> reloaded = LoadConfiguration();
    if (!reloaded.ok()) {
      SLUICE_LOG(kError, "configuration reload failed; keeping the running configuration")
          .Field("error", reloaded.status());
      continue;
    }
    daemon.Reload(*std::move(reloaded));
  }
}

int Run() {
  absl::StatusOr<common::Config> config = LoadConfiguration();
  if (!config.ok()) {
    fprintf(stderr, "sluiced: %s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  if (absl::GetFlag(FLAGS_check_config)) {
    if (absl::Status status = server::CheckConfig(*config); !status.ok()) {
      fprintf(stderr, "sluiced: %s\n", std::string(status.message()).c_str());
      return 1;
    }
    printf("configuration OK\n");
    return 0;
  }
  common::SetLogLevel(config->log.level);
  common::StartAsyncLogging();
  absl::StatusOr<std::unique_ptr<server::Daemon>> daemon =
      server::Daemon::Start(*std::move(config));
  if (!daemon.ok()) {
    SLUICE_LOG(kError, "sluiced did not start").Field("error", daemon.status());
    common::StopAsyncLogging();
    return 1;
  }
  ServeSignals(**daemon);
  (*daemon)->Stop();
  SLUICE_LOG(kInfo, "sluiced stopped");
  common::StopAsyncLogging();
  return 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("sluiced: the sluice mail engine. Flags override the config file.");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_print_default_config)) {
    const absl::string_view defaults = sluice::common::DefaultConfigToml();
    fwrite(defaults.data(), 1, defaults.size(), stdout);
    return 0;
  }
  // Every thread inherits this mask, so the signals reach only the main
  // thread's sigwaitinfo and never interrupt a shard.
  const sigset_t signals = sluice::ControlSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return sluice::Run();
}
