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
  libhttp-parser-dev libsimdjson-dev libtomlplusplus-dev libidn2-dev libre2-dev libcsv-dev zlib1g-dev
  # test peers
  curl nghttp2-client nsd clang libclang-rt-14-dev openssl postfix prometheus bind9-dnsutils
  swaks libnet-ssleay-perl libauthen-sasl-perl python3-dkim opendkim python3-grpcio python3-protobuf
  chromium chromium-driver python3-selenium tmux python3-yaml
)

# Test peers from npm (mailauth, a DKIM verifier; @grpc/grpc-js and its
# proto-loader, a gRPC client; grpc-js-reflection-client, a reflection
# client), kept out of the checkout.
SLUICE_NPM_DIR="${HOME}/.cache/sluice-npm"
SLUICE_NPM_PACKAGES=(mailauth@4.13.3 @grpc/grpc-js@1.14.7 @grpc/proto-loader@0.8.1
  grpc-js-reflection-client@1.4.2)

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

# The test peers that come from npm, into $SLUICE_NPM_DIR. Node.js and npm
# come from Debian unless the machine already has them.
sluice_install_npm_tools() {
  if ! command -v npm >/dev/null 2>&1; then
    sluice_install_deps nodejs npm || return 1
  fi
  local pkg need=()
  for pkg in "${SLUICE_NPM_PACKAGES[@]}"; do
    [[ -f "$SLUICE_NPM_DIR/node_modules/${pkg%@*}/package.json" ]] &&
      grep -q "\"version\": \"${pkg##*@}\"" "$SLUICE_NPM_DIR/node_modules/${pkg%@*}/package.json" ||
      need+=("$pkg")
  done
  ((${#need[@]} == 0)) && return 0
  echo "sluice: installing ${need[*]} from npm into $SLUICE_NPM_DIR" >&2
  mkdir -p "$SLUICE_NPM_DIR"
  (cd "$SLUICE_NPM_DIR" && npm install --no-audit --no-fund --loglevel=error "${need[@]}" >&2)
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  sluice_install_deps "$@" && sluice_install_npm_tools
fi
