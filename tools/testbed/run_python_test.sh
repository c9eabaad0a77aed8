#!/usr/bin/env bash
# Runs a Python unittest file from the runfiles with Debian's python3,
# through run_unittest.py, which reports every test case to Bazel's JUnit
# XML. A missing python3 is a failure, not a skip.
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE:-sluice}"
python="/usr/bin/python3"
if [[ ! -x "$python" ]]; then
  echo "FAIL: $python is required (Debian package python3)" >&2
  exit 1
fi
exec "$python" "$root/tools/testbed/run_unittest.py" "$root/$1" "$root"
