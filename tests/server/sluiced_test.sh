#!/usr/bin/env bash
# sluiced as an operator runs it: starts on a configuration file, answers
# /healthz to curl, reloads on SIGHUP (keeping the running configuration
# when the new file is broken), refuses a bad file at start with the line
# and key, and exits 0 on SIGTERM and SIGINT.
#
# Waits are on sluiced's own log lines, read from a pipe with a deadline;
# nothing sleeps.
set -uo pipefail

SLUICED="$TEST_SRCDIR/sluice/server/sluiced"
PASSWD="$TEST_SRCDIR/sluice/tls/sluice-passwd"
WORK="${TEST_TMPDIR:-$(mktemp -d)}"
# User "app", password "secret"; few iterations, so AUTH is quick.
APP_HASH=$(printf secret | "$PASSWD" --scheme=pbkdf2-sha256 --pbkdf2_iterations=1000)
failures=0
checks=0
cases=""  # JUnit <testcase> elements, one per check

check() {  # check NAME COMMAND...
  local name=$1
  shift
  checks=$((checks + 1))
  if "$@"; then
    echo "PASS $name"
    cases+="<testcase name=\"$name\"/>"
  else
    echo "FAIL $name"
    cases+="<testcase name=\"$name\"><failure message=\"failed\"/></testcase>"
    failures=$((failures + 1))
  fi
}

write_config() {  # write_config FILE LEVEL
  cat >"$1" <<TOML
[server]
shards = 2
data_dir = "$WORK/data"

[log]
level = "$2"

[listen]
http = "127.0.0.1:0"
https = "127.0.0.1:0"
relay = "127.0.0.1:0"
submission = "127.0.0.1:0"
submissions = "127.0.0.1:0"

# Delivery runs, but its DNS goes to a loopback port nobody answers, so no
# lookup leaves the machine (the test's mail just waits).
[dns]
servers = ["127.0.0.1:9"]

[[users]]
name = "app"
password_hash = "$APP_HASH"
TOML
}

# Reads sluiced's log (fd 3) until a line matches, for at most 30 s.
# Leaves the line in $LINE.
wait_for_log() {
  local pattern=$1
  while IFS= read -r -t 30 -u 3 LINE; do
    echo "  log: $LINE"
    [[ $LINE == *$pattern* ]] && return 0
  done
  echo "  no log line matching '$pattern'"
  return 1
}

start_sluiced() {  # start_sluiced ARGS...: sets PID, PORT
  exec 3< <(exec "$SLUICED" "$@" 2>&1)
  PID=$!
  wait_for_log "sluiced started" || return 1
  PORT=$(sed -n 's/.* http=127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$LINE")
  HTTPS=$(sed -n 's/.* https=127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$LINE")
  RELAY=$(sed -n 's/.* relay=127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$LINE")
  SUBMISSION=$(sed -n 's/.* submission=127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$LINE")
  SUBMISSIONS=$(sed -n 's/.* submissions=127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$LINE")
  [[ -n $PORT && -n $HTTPS && -n $RELAY && -n $SUBMISSION && -n $SUBMISSIONS ]]
}

http_status() {  # http_status METHOD PATH -> prints the status code
  curl -s -o /dev/null -w '%{http_code}' -X "$1" "http://127.0.0.1:$PORT$2"
}

promtool_check() {  # promtool_check TEXT: promtool (Debian prometheus) lints it
  command -v promtool >/dev/null || { echo "  promtool not found: install prometheus"; return 1; }
  promtool check metrics <<<"$1"
}

# AUTH PLAIN from SOURCE without STARTTLS, sent whether or not EHLO offered
# it (as an attacker would); prints "offered CODE" or "not-offered CODE".
plaintext_auth() {  # plaintext_auth PORT SOURCE
  python3 - "$1" "$2" <<'PY'
import base64, smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), source_address=(sys.argv[2], 0), timeout=30) as s:
    s.ehlo("peer.example")
    offered = "offered" if s.has_extn("auth") else "not-offered"
    code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0app\0secret").decode())
    print(offered, code)
PY
}

swaks_auth() {  # swaks_auth PORT SOURCE [SWAKS ARGS...]: swaks's transcript
  local port=$1 source=$2
  shift 2
  swaks --server "127.0.0.1:$port" --local-interface "$source" --auth PLAIN --auth-user app \
    --auth-password secret --quit-after AUTH "$@" 2>&1
}

expect_eq() { [[ $1 == "$2" ]] || { echo "  expected '$2', got '$1'"; return 1; }; }

# --- a running daemon ---------------------------------------------------
write_config "$WORK/sluice.toml" info
check "starts on a config file with an ephemeral port" start_sluiced --config "$WORK/sluice.toml"
check "creates the data folder" test -d "$WORK/data"
check "GET /healthz is 200 ok" expect_eq "$(curl -s "http://127.0.0.1:$PORT/healthz")" "ok"
check "unknown path is 404" expect_eq "$(http_status GET /nope?q=1)" 404
check "and the log names the listener, client, request and reason" wait_for_log \
  'msg="http refused" listener=http client=127.0.0.1 method=GET path=/nope status=404 reason="no such resource: /nope"'
check "POST /healthz is 405" expect_eq "$(http_status POST /healthz)" 405
check "keep-alive: two requests on one connection" expect_eq \
  "$(curl -s "http://127.0.0.1:$PORT/healthz" "http://127.0.0.1:$PORT/healthz" \
      -w '%{num_connects}\n' | tr -d '\n')" "ok1ok0"

printf 'server = [broken' >"$WORK/sluice.toml"
kill -HUP "$PID"
check "a broken file on SIGHUP is reported" wait_for_log "configuration reload failed"
check "and the daemon keeps serving" expect_eq "$(http_status GET /healthz)" 200

check "the relay listener takes a message (swaks)" \
  swaks --server "127.0.0.1:$RELAY" --from a@example.org --to b@example.com --silent 2
for source in 127.0.0.1 127.0.0.2; do
  check "defaults: submission refuses AUTH without TLS from $source (smtplib)" expect_eq \
    "$(plaintext_auth "$SUBMISSION" "$source")" "not-offered 538"
  check "defaults: relay refuses AUTH without TLS from $source (smtplib)" expect_eq \
    "$(plaintext_auth "$RELAY" "$source")" "not-offered 538"
  check "defaults: swaks finds no AUTH before STARTTLS from $source" expect_eq \
    "$(swaks_auth "$SUBMISSION" "$source" | grep -c 'Host did not advertise authentication')" 1
done
check "defaults: after STARTTLS the same AUTH succeeds (swaks)" expect_eq \
  "$(swaks_auth "$SUBMISSION" 127.0.0.1 -tls | grep -c '<~  235 2.7.0')" 1
METRICS=$(curl -s "http://127.0.0.1:$PORT/metrics")
check "GET /metrics counts the accepted message" expect_eq \
  "$(grep -c '^sluice_smtp_messages_accepted_total{listener="relay"} 1$' <<<"$METRICS")" 1
check "and the spool commit behind it" expect_eq \
  "$(grep -c '^sluice_spool_commits_total [1-9]' <<<"$METRICS")" 1
check "promtool accepts the exposition format" promtool_check "$METRICS"
check "the relay message is received, tenant bounded to other until it has volume" expect_eq \
  "$(grep -c '^sluice_messages_received_total{listener="relay",tenant="other"} 1$' <<<"$METRICS")" 1
check "every family is exposed: by site, by tenant, DNS, loop lag, TLS sessions" expect_eq \
  "$(grep -cE '^# TYPE (sluice_delivery_site_recipients_total counter|sluice_delivery_tenant_recipients_total counter|sluice_dns_queries_total counter|sluice_dns_cache_lookups_total counter|sluice_reactor_loop_lag_seconds histogram|sluice_smtp_tls_sessions_total counter)$' <<<"$METRICS")" 6
check "submissions speaks TLS with a self-signed certificate" \
  test -s "$WORK/data/tls/selfsigned.crt"
check "and openssl sees the greeting inside TLS" expect_eq \
  "$(echo quit | timeout 20 openssl s_client -connect "127.0.0.1:$SUBMISSIONS" -crlf -quiet \
      2>/dev/null | head -1 | cut -c1-4)" "220 "
check "and counts the TLS session on submissions" expect_eq \
  "$(curl -s "http://127.0.0.1:$PORT/metrics" |
      grep -c '^sluice_smtp_tls_sessions_total{listener="submissions"} 1$')" 1

write_config "$WORK/sluice.toml" debug
kill -HUP "$PID"
check "SIGHUP reloads the TLS certificate" wait_for_log "tls certificate reloaded"
check "a valid file on SIGHUP is applied" wait_for_log "configuration reloaded"

# API keys follow the file: from here on only the key's token gets in.
TOKEN=reload-test-token
write_config "$WORK/sluice.toml" info
cat >>"$WORK/sluice.toml" <<TOML

[[api_keys]]
name = "ops"
token_sha256 = "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)"
scopes = ["read"]
TOML
check "before a reload, loopback needs no key" expect_eq "$(http_status GET /api/v1/queues)" 200
kill -HUP "$PID"
check "SIGHUP reloads the api keys" wait_for_log "api keys reloaded"
check "then a call without the token is 401" expect_eq "$(http_status GET /api/v1/queues)" 401
check "and the new key's token is let in" expect_eq "$(curl -s -o /dev/null -w '%{http_code}' \
  -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/queues")" 200
check "on the HTTPS listener too, over h2" expect_eq "$(curl -sk -o /dev/null \
  -w '%{http_code} %{http_version}' --http2 -H "Authorization: Bearer $TOKEN" \
  "https://127.0.0.1:$HTTPS/api/v1/queues")" "200 2"

# A new certificate on SIGHUP: the HTTPS listener serves it to new
# connections (openssl s_client shows which one it got).
leaf_sha256() {  # leaf_sha256 < PEM: lowercase hex SHA-256 of the DER form
  openssl x509 -outform DER | sha256sum | cut -d' ' -f1
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=reloaded.sluice.test -keyout "$WORK/new.key" -out "$WORK/new.crt" 2>/dev/null
cat >>"$WORK/sluice.toml" <<TOML

[tls]
certificate = "$WORK/new.crt"
private_key = "$WORK/new.key"
TOML
NEW_SHA=$(leaf_sha256 <"$WORK/new.crt")
kill -HUP "$PID"
check "SIGHUP loads the new certificate" wait_for_log "tls certificate reloaded"
check "the log names it" expect_eq "$(sed -n 's/.* sha256=\([0-9a-f]*\).*/\1/p' <<<"$LINE")" "$NEW_SHA"
check "and the HTTPS listener serves it" expect_eq "$(timeout 20 openssl s_client \
  -connect "127.0.0.1:$HTTPS" -alpn h2 </dev/null 2>/dev/null | leaf_sha256)" "$NEW_SHA"

kill -TERM "$PID"
check "SIGTERM logs the stop" wait_for_log "sluiced stopped"
wait "$PID"
check "SIGTERM exits 0" expect_eq "$?" 0
exec 3<&-

# --- Ctrl-C ---------------------------------------------------------------
write_config "$WORK/sluice.toml" info
check "starts again" start_sluiced --config "$WORK/sluice.toml" --shards 1
kill -INT "$PID"
check "SIGINT logs the stop" wait_for_log "sluiced stopped"
wait "$PID"
check "SIGINT exits 0" expect_eq "$?" 0
exec 3<&-

# --- refused configurations -----------------------------------------------
printf '[server]\nshards = 2\n[listen]\nsmpt = "127.0.0.1:25"\n' >"$WORK/bad.toml"
out=$("$SLUICED" --config "$WORK/bad.toml" 2>&1)
code=$?
check "an unknown key at start exits 1" expect_eq "$code" 1
check "and names the file, line and key" expect_eq \
  "$(grep -c "bad.toml:4:1: unknown key 'listen.smpt'" <<<"$out")" 1
out=$("$SLUICED" --config "$WORK/missing.toml" 2>&1)
check "a missing file exits 1 naming it" expect_eq "$?$(grep -c missing.toml <<<"$out")" 11

# --- --check_config ----------------------------------------------------------
write_config "$WORK/good.toml" info
sed -i "s|$WORK/data|$WORK/checked-data|" "$WORK/good.toml"
out=$("$SLUICED" --check_config --config "$WORK/good.toml" 2>/dev/null)
check "--check_config on a good file exits 0 saying so" expect_eq "$?:$out" "0:configuration OK"
check "and starts nothing: no data folder made" test ! -d "$WORK/checked-data"
out=$("$SLUICED" --check_config --config "$WORK/bad.toml" 2>&1)
check "--check_config on a bad file exits 1 naming the key" expect_eq \
  "$?:$(grep -c "unknown key 'listen.smpt'" <<<"$out")" "1:1"
write_config "$WORK/badkey.toml" info
printf '\n[tls]\ncertificate = "%s"\nprivate_key = "%s"\n' "$WORK/gone.crt" "$WORK/gone.key" \
  >>"$WORK/badkey.toml"
out=$("$SLUICED" --check_config --config "$WORK/badkey.toml" 2>&1)
check "--check_config reads the files it names (a missing certificate)" expect_eq \
  "$?:$(grep -c "gone.crt" <<<"$out")" "1:1"

echo "$((checks - failures)) passed, $failures failed"
if [[ -n ${XML_OUTPUT_FILE:-} ]]; then
  printf '<?xml version="1.0"?><testsuites><testsuite name="sluiced_test" tests="%d" failures="%d">%s</testsuite></testsuites>\n' \
    "$checks" "$failures" "$cases" >"$XML_OUTPUT_FILE"
fi
((failures == 0))
