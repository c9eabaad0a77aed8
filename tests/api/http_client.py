"""Drives sluice's HTTP API with Python's http.client and raw sockets.

Usage: http_client.py SCENARIO PORT [ARGS...]. Each scenario asserts what
it is named after and exits non-zero with a message naming the failed
check; on success it prints "ok" (and sometimes data for the caller).
Tokens are the ones the C++ test configures (see http_server_test.cc).
"""

import http.client
import json
import socket
import sys
import time

INJECT = "inject-token"
READ = "read-token"
ADMIN = "admin-token"
LIMITED = "limited-token"


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def request(port, method, path, body=None, token=INJECT, headers=None, conn=None):
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    all_headers = {"Content-Type": "application/json"}
    if token:
        all_headers["Authorization"] = "Bearer " + token
    all_headers.update(headers or {})
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    conn.request(method, path, body=data, headers=all_headers)
    response = conn.getresponse()
    payload = response.read()
    if own:
        conn.close()
    return response, payload


def simple_message(recipients, **extra):
    body = {
        "from": "Sender <sender@example.org>",
        "subject": "Hello {{name}}",
        "text": "Dear {{name}},\nwelcome.\n",
        "recipients": recipients,
    }
    body.update(extra)
    return body


def scenario_validation(port):
    # (body, expected field)
    cases = [
        (b"this is not json", "body"),
        ({"from": "a@example.org", "text": "x"}, "recipients"),
        (simple_message("nope"), "recipients"),
        (simple_message([{"email": "a@example.com"}], subject=7), "subject"),
        (simple_message([{"email": "a@example.com"}], colour="red"), "colour"),
        (simple_message([{"email": "a@example.com", "substitutions": []}]),
         "recipients[0].substitutions"),
        (simple_message([{"email": 5}]), "recipients[0].email"),
        (simple_message([{"email": "a@example.com"}],
                        attachments=[{"filename": "a.txt", "content": "!!!"}]),
         "attachments[0].content"),
        (simple_message([{"email": "a@example.com"}], headers={"Subject": "x"}),
         "headers.Subject"),
        (simple_message([{"email": "not an address"}]), "recipients"),
        ({"recipients": [{"email": "a@example.com"}], "text": "x"}, "from"),
        (simple_message([{"email": "a@example.com"}], text="{{unterminated"), "text"),
    ]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for body, field in cases:
        response, payload = request(port, "POST", "/api/v1/messages", body, conn=conn)
        check(response.status == 400, "%r: status %d, want 400: %r" % (body, response.status, payload))
        check(response.getheader("Content-Type") == "application/json",
              "error content type %r" % response.getheader("Content-Type"))
        error = json.loads(payload)["error"]
        check(error["field"] == field,
              "%r: field %r, want %r (%s)" % (body, error["field"], field, error["message"]))
        check(error["message"], "empty error message")
    # The connection survived every 400 (they are answers, not protocol errors).
    # One bad recipient among good ones: accepted and rejected side by side.
    response, payload = request(port, "POST", "/api/v1/messages", simple_message(
        [{"email": "good@example.com", "substitutions": {"name": "G"}},
         {"email": "bad@@example.com"},
         {"email": "good@example.com"}]), conn=conn)
    check(response.status == 200, "mixed: status %d %r" % (response.status, payload))
    answer = json.loads(payload)
    check([a["index"] for a in answer["accepted"]] == [0], "mixed accepted: %r" % answer)
    check([r["index"] for r in answer["rejected"]] == [1, 2], "mixed rejected: %r" % answer)
    for rejected in answer["rejected"]:
        check(rejected["reason"].startswith("recipients[%d].email" % rejected["index"]),
              "reason %r" % rejected["reason"])
    # Wrong method and unknown path.
    response, payload = request(port, "PUT", "/api/v1/messages", b"{}", conn=conn)
    check(response.status == 405 and "POST" in response.getheader("Allow"),
          "PUT: %d %r" % (response.status, response.getheader("Allow")))
    response, payload = request(port, "GET", "/api/v1/nothing", conn=conn)
    check(response.status == 404, "unknown path: %d" % response.status)
    conn.close()
    print("ok")


def scenario_auth(port):
    body = simple_message([{"email": "a@example.com"}])
    response, payload = request(port, "POST", "/api/v1/messages", body, token=None)
    check(response.status == 401, "no token: %d" % response.status)
    check((response.getheader("WWW-Authenticate") or "").startswith("Bearer"),
          "no WWW-Authenticate: Bearer header")
    response, payload = request(port, "POST", "/api/v1/messages", body, token="wrong")
    check(response.status == 401, "unknown token: %d" % response.status)
    response, payload = request(port, "POST", "/api/v1/messages", body,
                                headers={"Authorization": "Basic dXNlcjpwYXNz"}, token=None)
    check(response.status == 401, "basic auth: %d" % response.status)
    response, payload = request(port, "POST", "/api/v1/messages", body, token=READ)
    check(response.status == 403, "read key injecting: %d" % response.status)
    check("inject" in json.loads(payload)["error"]["message"], "403 names the scope: %r" % payload)
    response, payload = request(port, "GET", "/api/v1/queues", token=INJECT)
    check(response.status == 403, "inject key reading queues: %d" % response.status)
    response, payload = request(port, "POST", "/api/v1/retry?domain=x.example", token=READ)
    check(response.status == 403, "read key retrying: %d" % response.status)
    response, payload = request(port, "GET", "/api/v1/queues", token=ADMIN)
    check(response.status == 200, "admin key reading queues: %d %r" % (response.status, payload))
    response, payload = request(port, "GET", "/api/v1/queues", token=READ)
    check(response.status == 200, "read key reading queues: %d" % response.status)
    # The limited key: burst 2, then 429 with Retry-After.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    statuses = []
    retry_after = None
    for _ in range(4):
        response, payload = request(port, "GET", "/api/v1/queues", token=LIMITED, conn=conn)
        statuses.append(response.status)
        if response.status == 429:
            retry_after = response.getheader("Retry-After")
    conn.close()
    check(statuses[:2] == [200, 200], "limited key, first two: %r" % statuses)
    check(429 in statuses[2:], "limited key never got 429: %r" % statuses)
    check(retry_after is not None and int(retry_after) >= 1, "Retry-After %r" % retry_after)
    print("ok")


def read_responses(sock, count, timeout=30):
    """Reads `count` HTTP responses (Content-Length framed) from a socket."""
    sock.settimeout(timeout)
    data = b""
    responses = []
    while len(responses) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if len(data) >= head_end + 4 + length:
                status = int(head.split(" ")[1])
                responses.append((status, head, data[head_end + 4:head_end + 4 + length]))
                data = data[head_end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return responses, data


def raw_request(method, path, body=b"", token=INJECT, extra=""):
    return ("%s %s HTTP/1.1\r\nHost: sluice\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (method, path, token, len(body), extra)).encode() + body


def scenario_pipeline(port):
    inject = json.dumps(simple_message(
        [{"email": "p%d@pipe.example" % i, "substitutions": {"name": str(i)}}
         for i in range(50)])).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    # Three requests in one write: the first waits for the spool, the other
    # two could be answered at once, but must come after it.
    sock.sendall(raw_request("POST", "/api/v1/messages", inject) +
                 raw_request("GET", "/healthz") +
                 raw_request("GET", "/api/v1/messages/not-an-id", token=READ))
    responses, rest = read_responses(sock, 3)
    check(len(responses) == 3, "got %d responses" % len(responses))
    check(responses[0][0] == 200, "first: %r" % (responses[0][:2],))
    check(len(json.loads(responses[0][2])["accepted"]) == 50, "first is the injection")
    check(responses[1][0] == 200 and responses[1][2] == b"ok\n", "second: %r" % (responses[1],))
    check(responses[2][0] == 400 and json.loads(responses[2][2])["error"]["field"] == "id",
          "third: %r" % (responses[2],))
    # Still open: one more request on the same connection.
    sock.sendall(raw_request("GET", "/readyz"))
    responses, rest = read_responses(sock, 1)
    check(len(responses) == 1 and responses[0][0] == 200, "after pipeline: %r" % responses)
    # Connection: close is honoured after the answer.
    sock.sendall(raw_request("GET", "/healthz", extra="Connection: close\r\n"))
    responses, rest = read_responses(sock, 2, timeout=10)
    check(len(responses) == 1 and "Connection: close" in responses[0][1],
          "close: %r" % responses)
    sock.close()
    # Requests, then the client's half-close: every one is still answered.
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(raw_request("POST", "/api/v1/messages", inject) +
                 raw_request("GET", "/healthz"))
    sock.shutdown(socket.SHUT_WR)
    responses, rest = read_responses(sock, 3, timeout=30)
    check([r[0] for r in responses] == [200, 200], "after half-close: %r" %
          [r[:2] for r in responses])
    check(sock.recv(10) == b"", "closed after the answers")
    sock.close()
    print("ok")


def scenario_bad_request(port):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(raw_request("GET", "/healthz") + b"NOT HTTP AT ALL\r\n\r\n")
    responses, rest = read_responses(sock, 3, timeout=10)
    check([r[0] for r in responses] == [200, 400], "garbage: %r" % responses)
    check("Connection: close" in responses[1][1], "400 closes")
    check(sock.recv(10) == b"", "connection closed after 400")
    sock.close()
    # Headers over the limit: 431, then close.
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
    responses, rest = read_responses(sock, 2, timeout=10)
    check([r[0] for r in responses] == [431], "big headers: %r" % [r[:2] for r in responses])
    sock.close()
    print("ok")


def scenario_slow(port, request_timeout_ms):
    sock = socket.create_connection(("127.0.0.1", port))
    start = time.monotonic()
    # A slowloris: a byte of the request line every 50 ms, never finishing.
    sock.settimeout(0.05)
    closed = False
    status = None
    payload = b""
    for byte in b"POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" * 10:
        try:
            sock.send(bytes([byte]))
        except OSError:
            closed = True
            break
        try:
            chunk = sock.recv(4096)
            payload += chunk
            if not chunk or b"\r\n\r\n" in payload:
                closed = True
                break
        except socket.timeout:
            pass
        if time.monotonic() - start > 20:
            break
    elapsed = time.monotonic() - start
    check(closed, "slow client was not cut off after %.1fs" % elapsed)
    if payload:
        status = int(payload.split(b" ")[1])
        check(status == 408, "status %r" % payload[:40])
    check(elapsed >= request_timeout_ms / 1000.0 * 0.9, "cut off too early: %.2fs" % elapsed)
    print("ok %.2f" % elapsed)


def scenario_bulk(port, count, out_path):
    recipients = [{"email": "r%d@bulk%d.example" % (i, i % 7),
                   "substitutions": {"code": "value-%d" % i}} for i in range(count)]
    body = {
        "from": "Bulk <bulk@example.org>",
        "subject": "Your code {{code}}",
        "text": "Hello,\nyour code is {{code}} for {{company}}.\n",
        "html": "<p>code <b>{{code}}</b></p>",
        "substitutions": {"company": "Example & Co"},
        "campaign": "bulk-test",
        "recipients": recipients,
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.monotonic()
    response, payload = request(port, "POST", "/api/v1/messages", body, conn=conn)
    elapsed = time.monotonic() - start
    check(response.status == 200, "bulk: %d %r" % (response.status, payload[:300]))
    answer = json.loads(payload)
    check(len(answer["accepted"]) == count, "accepted %d of %d" % (len(answer["accepted"]), count))
    check(answer["rejected"] == [], "rejected %r" % answer["rejected"][:3])
    ids = [a["message_id"] for a in answer["accepted"]]
    check(len(set(ids)) == count, "message ids are not unique")
    check([a["index"] for a in answer["accepted"]] == list(range(count)), "order")
    with open(out_path, "w") as out:
        for a in answer["accepted"]:
            out.write("%s %s\n" % (a["email"], a["message_id"]))
    conn.close()
    print("ok %.3f" % elapsed)


def main():
    scenario = sys.argv[1]
    port = int(sys.argv[2])
    args = sys.argv[3:]
    if scenario == "validation":
        scenario_validation(port)
    elif scenario == "auth":
        scenario_auth(port)
    elif scenario == "pipeline":
        scenario_pipeline(port)
    elif scenario == "bad_request":
        scenario_bad_request(port)
    elif scenario == "slow":
        scenario_slow(port, int(args[0]))
    elif scenario == "bulk":
        scenario_bulk(port, int(args[0]), args[1])
    else:
        fail("unknown scenario " + scenario)


if __name__ == "__main__":
    main()
