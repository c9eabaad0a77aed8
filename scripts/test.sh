#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test: once in
# the default (optimised) build and once under AddressSanitizer and
# UndefinedBehaviorSanitizer. Ends with one summary line counting the
# individual test cases of both runs.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
sluice_install_deps || exit 1
sluice_install_npm_tools || exit 1
# Every test peer can do what the tests ask of it, or a line names the package.
source scripts/check_peers.sh
sluice_check_peers || exit 1

mapfile -t targets < <(bazel query 'tests(//...)' --output=label 2>/dev/null)
summaries=()
status=0
for config in default asan; do
  flags=()
  [[ $config != default ]] && flags=(--config="$config")
  echo "=== bazel test ${flags[*]:-} //..." >&2
  bazel test "${flags[@]}" //... || status=1
  summaries+=("$(python3 scripts/test_summary.py "$config" "$(bazel info "${flags[@]}" bazel-testlogs)" "${targets[@]}")")
done
printf '%s\n' "${summaries[@]}"
# The last line is the combined count: "tests: N passed, N failed".
python3 scripts/test_summary.py --combine "${summaries[@]}"
exit $status
