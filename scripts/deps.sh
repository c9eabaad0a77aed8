#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build and test, and nothing
# else. Idempotent: when everything is present it changes nothing and runs
# no apt-get update. Sourced by scripts/start.sh and scripts/test.sh.
set -euo pipefail

SLUICE_PACKAGES=(
  # toolchain
  bazel-bootstrap g++ python3 ca-certificates
  # libraries (see third_party/BUILD.bazel)
  liburing-dev libc-ares-dev librocksdb-dev libabsl-dev libgtest-dev libgmock-dev
  libbenchmark-dev android-libboringssl-dev libnghttp2-dev libprotobuf-dev protobuf-compiler
  libhttp-parser-dev libsimdjson-dev libtomlplusplus-dev libidn2-dev
  # test peers
  curl nghttp2-client nsd clang libclang-rt-14-dev openssl postfix prometheus bind9-dnsutils
  swaks libnet-ssleay-perl libauthen-sasl-perl
)

sluice_install_deps() {
  local missing=()
  local pkg
  for pkg in "${SLUICE_PACKAGES[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  echo "sluice: installing ${missing[*]}" >&2
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  # Postfix is a test peer (smtp-source, smtp-sink, its smtpd for the
  # benchmarks), not the machine's MTA: install it unconfigured and stopped.
  if [[ " ${missing[*]} " == *" postfix "* ]]; then
    echo "postfix postfix/main_mailer_type select No configuration" |
      "${sudo[@]}" debconf-set-selections
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  sluice_install_deps "$@"
fi
