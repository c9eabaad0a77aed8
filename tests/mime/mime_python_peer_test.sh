#!/usr/bin/env bash
# Runs mime_python_peer_test.py with Debian's python3 (the email package is
# in the standard library). A missing python3 is a failure, not a skip.
set -euo pipefail
if ! command -v python3 >/dev/null; then
  echo "FAIL: python3 is required (Debian package python3)" >&2
  exit 1
fi
exec python3 "$TEST_SRCDIR/sluice/tests/mime/mime_python_peer_test.py" \
  "--tool=$TEST_SRCDIR/sluice/api/injection_tool"
