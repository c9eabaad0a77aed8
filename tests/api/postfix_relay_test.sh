#!/usr/bin/env bash
# Runs postfix_relay_test.py with the sluiced binary and tools/ from the
# test's runfiles.
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE:-sluice}"
exec python3 "$root/tests/api/postfix_relay_test.py" "$root/server/sluiced" "$root/tools"
