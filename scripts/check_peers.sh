#!/usr/bin/env bash
# Checks that every peer the tests talk to is installed and can do what the
# tests need, and names the Debian package for each that cannot, one line
# each, before any test runs. A test must never pass or fail because of a
# package that only happens to be on a developer's machine: everything
# checked here is installed by scripts/deps.sh. Sourced by scripts/test.sh
# (sluice_check_peers); run alone, it checks and exits 0 or 1.
set -uo pipefail

sluice_check_peers() {
  local missing=0
  need() {  # need PACKAGE WHAT COMMAND...
    local package=$1 what=$2
    shift 2
    if ! "$@" >/dev/null 2>&1; then
      echo "sluice: $what: install the Debian package $package" >&2
      missing=1
    fi
  }
  # No pipes into grep -q: under pipefail the writer's SIGPIPE fails them.
  local swaks_support curl_version
  swaks_support=$(swaks --support 2>&1)
  curl_version=$(curl --version 2>&1)
  swaks_can() { grep -qx "=== $1 supported" <<<"$swaks_support"; }
  # Debian's python3, the one the tests run (tools/testbed/run_python_test.sh).
  python_has() { /usr/bin/python3 -c "import $1"; }
  fuzzer_runtime() { [[ $(clang -print-file-name=libclang_rt.fuzzer-x86_64.a) == /* ]]; }

  need swaks "swaks is missing" command -v swaks
  need libnet-ssleay-perl "swaks cannot do TLS (Net::SSLeay)" swaks_can "TLS"
  need libauthen-sasl-perl "swaks cannot do AUTH" swaks_can "Basic AUTH"
  need python3 "python3 is missing" command -v python3
  need libpython3-stdlib "python3 lacks smtplib, email, asyncio or ctypes" \
    python_has "smtplib, email.policy, asyncio, ctypes, http.client, xml.etree.ElementTree"
  need libpython3-stdlib "python3's ssl module is missing" python_has ssl
  need nsd "nsd (the tests' DNS server) is missing" test -x /usr/sbin/nsd
  need postfix "Postfix is missing" test -x /usr/sbin/postfix
  need postfix "Postfix's smtp-source is missing" test -x /usr/sbin/smtp-source
  need postfix "Postfix's smtp-sink is missing" test -x /usr/sbin/smtp-sink
  need prometheus "promtool is missing" command -v promtool
  need prometheus "prometheus (the server) is missing" test -x /usr/bin/prometheus
  need python3-yaml "python3 lacks yaml (to read the alert rules)" python_has yaml
  need openssl "openssl (s_client, s_server) is missing" command -v openssl
  need nghttp2-client "nghttp is missing" command -v nghttp
  need nghttp2-client "h2load is missing" command -v h2load
  need curl "curl is missing" command -v curl
  need curl "curl cannot speak HTTP/2" grep -qw HTTP2 <<<"$curl_version"
  need bind9-dnsutils "dig is missing" command -v dig
  need python3-dkim "python3 lacks dkim (dkimpy, a DKIM verifier)" python_has dkim
  need opendkim "opendkim (a DKIM verifier) is missing" test -x /usr/sbin/opendkim
  need "mailauth from npm (scripts/deps.sh installs it)" "mailauth (a DKIM verifier) is missing" \
    test -x "${HOME}/.cache/sluice-npm/node_modules/.bin/mailauth"
  need "@grpc/grpc-js, @grpc/proto-loader and grpc-js-reflection-client from npm (scripts/deps.sh installs them)" \
    "the Node.js gRPC client is missing" \
    test -f "${HOME}/.cache/sluice-npm/node_modules/@grpc/grpc-js/package.json" -a \
    -f "${HOME}/.cache/sluice-npm/node_modules/@grpc/proto-loader/package.json" -a \
    -f "${HOME}/.cache/sluice-npm/node_modules/grpc-js-reflection-client/package.json"
  need chromium "chromium (the dashboard tests' browser) is missing" test -x /usr/bin/chromium
  need chromium-driver "chromedriver is missing" test -x /usr/bin/chromedriver
  need python3-selenium "python3 lacks selenium (drives the browser)" python_has selenium.webdriver
  need tmux "tmux (drives sluicectl top) is missing" command -v tmux
  need clang "clang (for the fuzzers) is missing" command -v clang
  need libclang-rt-14-dev "clang's libFuzzer runtime is missing" fuzzer_runtime
  unset -f need swaks_can python_has fuzzer_runtime
  return $missing
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  sluice_check_peers
fi
