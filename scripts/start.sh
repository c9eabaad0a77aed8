#!/usr/bin/env bash
# Quick start: installs what is missing, builds sluiced and runs it in the
# foreground on its embedded defaults (loopback listeners, ./data for the
# spool, logs on stderr). Ctrl-C stops it cleanly. Extra arguments go to
# sluiced, e.g. `scripts/start.sh --config sluice.toml`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
sluice_install_deps
bazel build //server:sluiced
exec bazel-bin/server/sluiced "$@"
