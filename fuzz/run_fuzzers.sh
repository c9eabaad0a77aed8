#!/bin/bash
# Builds the libFuzzer targets (SMTP command and DATA, bounce reports, the
# suppression list's CSV, gRPC framing and gzip) with clang++ (not Bazel)
# and runs each for
# a bounded time. Exits non-zero if a target fails to build or finds a crash,
# a leak, a sanitizer report or a broken invariant (the targets trap).
#
#   fuzz/run_fuzzers.sh [SECONDS_PER_TARGET]     (default 60)
#
# Needs Debian's clang and libclang-rt-14-dev (libFuzzer and the sanitizer
# runtimes), libabsl-dev, libre2-dev, libcsv-dev and zlib1g-dev. Under `bazel test //fuzz:fuzz_test` the sources
# come from the test's runfiles; run directly, from the script's checkout.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [seconds-per-target]" >&2
  exit 2
fi

if [ -n "${TEST_SRCDIR:-}" ] && [ -d "${TEST_SRCDIR}/${TEST_WORKSPACE:-sluice}/smtp" ]; then
  root="${TEST_SRCDIR}/${TEST_WORKSPACE:-sluice}"
else
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fi

cxx="${CXX_FUZZ:-clang++}"
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "FAIL: $cxx not found; install it: apt-get install clang libclang-rt-14-dev" >&2
  exit 1
fi

work="${TEST_TMPDIR:-$(mktemp -d)}/smtp_fuzz"
artifacts="${TEST_UNDECLARED_OUTPUTS_DIR:-$work/artifacts}"
mkdir -p "$work/obj" "$artifacts"

flags=(-std=c++20 -O1 -g -fno-exceptions -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -Wall -Wextra -Werror -I"$root")
absl_libs=(-labsl_status -labsl_statusor -labsl_cord -labsl_cord_internal
  -labsl_cordz_info -labsl_cordz_functions -labsl_cordz_handle
  -labsl_str_format_internal -labsl_strings -labsl_strings_internal -labsl_int128
  -labsl_base -labsl_raw_logging_internal -labsl_spinlock_wait -labsl_throw_delegate)

# The library sources of each target (libFuzzer's coverage instrumentation
# comes with -fsanitize=fuzzer on each object), each compiled once.
smtp_sources="smtp/address smtp/auth_exchange smtp/body_receiver smtp/command
  smtp/command_arguments smtp/data_reader smtp/ehlo_reply smtp/reply smtp/server_session
  smtp/xtext"
declare -A sources=(
  [smtp_command_fuzzer]="$smtp_sources"
  [smtp_data_fuzzer]="$smtp_sources"
  [bounce_report_fuzzer]="mime/mime_entity mime/base64 mime/quoted_printable mail/bounce_report"
  [suppression_csv_fuzzer]="queue/suppression queue/suppression_csv"
  [grpc_framing_fuzzer]="grpc/grpc_wire grpc/message_reader grpc/gzip"
)
declare -A libs=([bounce_report_fuzzer]="-lre2"
  [suppression_csv_fuzzer]="-lcsv -labsl_time -labsl_time_zone"
  [grpc_framing_fuzzer]="-lz -labsl_time -labsl_time_zone")
declare -A seeds=([smtp_command_fuzzer]=command [smtp_data_fuzzer]=data
  [bounce_report_fuzzer]=bounce [suppression_csv_fuzzer]=csv [grpc_framing_fuzzer]=grpc)
declare -A max_len=([smtp_command_fuzzer]=4096 [smtp_data_fuzzer]=4096
  [bounce_report_fuzzer]=16384 [suppression_csv_fuzzer]=4096 [grpc_framing_fuzzer]=16384)

object() {
  local obj="$work/obj/${1//\//_}.o"
  [ -f "$obj" ] || "$cxx" "${flags[@]}" -c "$root/$1.cc" -o "$obj"
  echo "$obj"
}

status=0
for target in smtp_command_fuzzer smtp_data_fuzzer bounce_report_fuzzer suppression_csv_fuzzer \
  grpc_framing_fuzzer; do
  objects=()
  for src in ${sources[$target]}; do objects+=("$(object "$src")"); done
  # shellcheck disable=SC2086  # libs is a list of flags
  "$cxx" "${flags[@]}" "$root/fuzz/$target.cc" "${objects[@]}" ${libs[$target]:-} \
    "${absl_libs[@]}" -o "$work/$target"
  kind="${seeds[$target]}"
  corpus="$work/corpus_$kind"
  mkdir -p "$corpus"
  echo "=== $target: ${seconds}s"
  if ! ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" UBSAN_OPTIONS="print_stacktrace=1" \
    "$work/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len="${max_len[$target]}" -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
    "$corpus" "$root/fuzz/seeds/$kind" >"$work/$target.log" 2>&1; then
    echo "FAIL: $target found a problem; last lines of its log:" >&2
    tail -n 60 "$work/$target.log" >&2
    ls -l "$artifacts" >&2 || true
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$work/$target.log" | tail -n 2
    echo "PASS: $target"
  fi
done
exit "$status"
