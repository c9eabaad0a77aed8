#!/usr/bin/env python3
"""Injection throughput into one sluiced: HTTP (POST /api/v1/messages)
beside SMTP (the relay listener), same daemon, same run.

Points (each a fresh batch of messages into the same spool):
  http-1     1 recipient per request, keep-alive, C connections
  smtp-1     1 recipient per transaction (smtp-source -d), C sessions
  http-1000  1,000 recipients per request, each with its own substitution
             (so 1,000 personalised messages per request)
  http-1000s 1,000 recipients per request, no placeholders, To
             undisclosed: one shared body (what SMTP does with 1,000 RCPT)
  smtp-1000  1,000 recipients per transaction (smtp-source -r 1000)
  http-100k  one request of 100,000 personalised recipients, while another
             connection polls GET /healthz: the time to the 200, and the
             slowest /healthz answer meanwhile (is the shard responsive?)
  h2load-*   1 recipient per request from h2load (nghttp2-client), a C
             client, so the client is not the limit: h1 over 16 HTTP/1.1
             connections, h2c and h2 (TLS) with 16 streams on 1 connection
  --suppressed N: then imports N suppression entries (CSV through the admin
             API; none is a benchmark recipient, so every lookup misses as
             most do) and measures http-1 (16 connections) and http-1000
             again: the cost of checking the list at ingest, against the
             same points with an empty list (which skips the lookup)
A message counts once sluice answered 200 / 250, which it gives only after
the spool's synced commit. Reported: messages (recipients) per second and
sluiced CPU seconds per 1,000.

  bench/http_inject/run.py [--messages 20000] [--connections 1,16] [--quick]
                           [--suppressed 1000000]

Needs postfix's smtp-source and h2load (apt-get install postfix
nghttp2-client); builds sluiced with
Bazel. The HTTP load is Python http.client in one process per connection.
Everything lives in a temporary folder under /var/tmp, removed at the end;
only the daemon this script started is stopped.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "bench", "accept"))
from postfix_instance import free_port, wait_for_port  # noqa: E402
from run import smtp_source, tree_cpu_seconds  # noqa: E402

TEXT = "x" * 1900 + "\n"


def one_recipient_body(i):
    return json.dumps({
        "from": "Bench <sender@bench.example>",
        "subject": "bench %d" % i,
        "text": TEXT,
        "recipients": [{"email": "rcpt%d@dest.example" % i}],
    }).encode()


def many_recipients_body(count, shared):
    recipients = [{"email": "rcpt%d@dest%d.example" % (i, i % 10)} for i in range(count)]
    body = {"from": "Bench <sender@bench.example>", "recipients": recipients}
    if shared:
        body.update(subject="bench", text=TEXT, to_header="undisclosed")
    else:
        for i, r in enumerate(recipients):
            r["substitutions"] = {"n": str(i)}
        body.update(subject="bench {{n}}", text="Hello {{n}}\n" + TEXT)
    return json.dumps(body).encode()


def http_worker(args):
    port, requests, kind, recipients = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    bodies = ([many_recipients_body(recipients, kind == "shared")] if recipients > 1 else None)
    accepted = 0
    for i in range(requests):
        body = bodies[0] if bodies else one_recipient_body(i)
        conn.request("POST", "/api/v1/messages", body=body,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError("HTTP %d: %r" % (response.status, payload[:200]))
        accepted += payload.count(b'"message_id"')
    conn.close()
    return accepted


def http_point(port, connections, requests, recipients, kind):
    per = max(1, requests // connections)
    with multiprocessing.Pool(connections) as pool:
        start = time.monotonic()
        accepted = sum(pool.map(http_worker, [(port, per, kind, recipients)] * connections))
        elapsed = time.monotonic() - start
    return accepted, elapsed


def healthz_poller(port, stop, worst):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        start = time.monotonic()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        worst.value = max(worst.value, time.monotonic() - start)
        time.sleep(0.005)
    conn.close()


def huge_request(port, shards):
    body = many_recipients_body(100_000, False)
    stop = multiprocessing.Event()
    worst = multiprocessing.Value("d", 0.0)
    # One poller per shard, so one of them shares the injection's shard.
    pollers = [multiprocessing.Process(target=healthz_poller, args=(port, stop, worst))
               for _ in range(shards)]
    for p in pollers:
        p.start()
    time.sleep(0.2)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.monotonic()
    conn.request("POST", "/api/v1/messages", body=body,
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    elapsed = time.monotonic() - start
    stop.set()
    for p in pollers:
        p.join()
    if response.status != 200:
        raise RuntimeError("HTTP %d: %r" % (response.status, payload[:200]))
    accepted = payload.count(b'"message_id"')
    print(f"http-100k  body={len(body)} bytes accepted={accepted} time_to_200={elapsed:.2f}s "
          f"worst_healthz_during={worst.value * 1000:.1f}ms", flush=True)
    return accepted, elapsed


def h2load_point(url, requests, body_path, options, content_type="application/json"):
    """Runs h2load; (requests answered 2xx, seconds)."""
    command = ["h2load", "-n", str(requests), "-d", body_path,
               "-H", f"content-type: {content_type}", *options, url]
    result = subprocess.run(command, capture_output=True, text=True)
    output = result.stdout
    if result.returncode != 0 or f"{requests} succeeded" not in output:
        sys.exit(f"h2load failed: {' '.join(command)}\n{output}{result.stderr}")
    status = next(line for line in output.splitlines() if line.startswith("status codes:"))
    if not status.startswith(f"status codes: {requests} 2xx"):
        sys.exit(f"h2load got non-2xx answers: {status}")
    # "finished in 313.81ms, 6373.25 req/s, ..." (the unit of the time varies)
    finished = next(line for line in output.splitlines() if line.startswith("finished in"))
    rate = float(finished.split(",")[1].split()[0])
    return requests, requests / rate


def import_suppressions(port, rows):
    """Imports `rows` global entries in slices of 500,000; returns how many."""
    imported = 0
    for start in range(0, rows, 500_000):
        count = min(500_000, rows - start)
        csv = "address\r\n" + "".join(f"listed{i}@dest{i % 10}.example\r\n"
                                        for i in range(start, start + count))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("POST", "/api/v1/suppressions/import", body=csv.encode(),
                     headers={"Content-Type": "text/csv"})
        response = conn.getresponse()
        answer = json.loads(response.read())
        if response.status != 200:
            sys.exit(f"import failed: {response.status} {answer}")
        imported += answer["imported"]
        conn.close()
    return imported


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--quick", action="store_true", help="2,000 messages per point")
    parser.add_argument("--suppressed", type=int, default=0,
                        help="suppression entries to import before the last points")
    args = parser.parse_args()
    if shutil.which("smtp-source") is None:
        sys.exit("needs smtp-source: apt-get install postfix")
    if shutil.which("h2load") is None:
        sys.exit("needs h2load: apt-get install nghttp2-client")
    messages = 2000 if args.quick else args.messages
    subprocess.run(["bazel", "build", "//server:sluiced"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="sluice-http-bench-", dir="/var/tmp")
    smtp_port, http_port, https_port = free_port(), free_port(), free_port()
    config = os.path.join(work, "sluice.toml")
    with open(config, "w") as f:
        f.write(f'[log]\nlevel = "warning"\n[listen]\nrelay = "127.0.0.1:{smtp_port}"\n'
                f'http = "127.0.0.1:{http_port}"\nhttps = "127.0.0.1:{https_port}"\n'
                '[smtp]\nmax_recipients = 1000\n'
                # Injection only: the spooled mail is not delivered.
                '[delivery]\nenabled = false\n')
    daemon = subprocess.Popen([os.path.join(ROOT, "bazel-bin/server/sluiced"), "--config", config,
                               "--data_dir", os.path.join(work, "data")])
    rows = []

    def measure(name, connections, run):
        before = tree_cpu_seconds(daemon.pid)
        count, elapsed = run()
        cpu = tree_cpu_seconds(daemon.pid) - before
        rows.append((name, connections, count, count / elapsed, cpu * 1000 / count))
        print(f"{name:10} connections={connections:3} messages={count:7} "
              f"rate={count / elapsed:9.1f}/s cpu_per_1000={cpu * 1000 / count:.3f}s", flush=True)

    try:
        wait_for_port(http_port, lambda: daemon.poll() is None, "sluiced")
        wait_for_port(smtp_port, lambda: daemon.poll() is None, "sluiced")
        for c in [int(x) for x in args.connections.split(",")]:
            # A lone connection waits for one sync per message: fewer of them.
            n = messages if c > 1 else max(200, messages // 20)
            measure("http-1", c, lambda: http_point(http_port, c, n, 1, "single"))
            measure("smtp-1", c, lambda: (n, smtp_source(smtp_port, c, n, 2048)))
        bulk_requests = max(2, messages // 1000)
        c = 2
        measure("http-1000", c, lambda: http_point(http_port, c, bulk_requests, 1000, "own"))
        measure("http-1000s", c, lambda: http_point(http_port, c, bulk_requests, 1000, "shared"))

        def smtp_bulk():
            command = ["smtp-source", "-d", "-s", str(c), "-m", str(bulk_requests), "-r", "1000",
                       "-l", "2048", "-f", "sender@bench.example", "-t", "rcpt@dest.example",
                       "-M", "client.bench.example", f"127.0.0.1:{smtp_port}"]
            start = time.monotonic()
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0 or result.stderr.strip():
                sys.exit(f"smtp-source failed: {result.stderr.strip()}")
            return bulk_requests * 1000, time.monotonic() - start

        measure("smtp-1000", c, smtp_bulk)
        measure("http-100k", 1, lambda: huge_request(http_port, os.cpu_count() or 1))
        body_path = os.path.join(work, "one.json")
        with open(body_path, "wb") as f:
            f.write(one_recipient_body(0))
        url = f"http://127.0.0.1:{http_port}/api/v1/messages"
        tls_url = f"https://127.0.0.1:{https_port}/api/v1/messages"
        measure("h2load-h1", 16,
                lambda: h2load_point(url, messages, body_path, ["--h1", "-c", "16", "-m", "1"]))
        measure("h2load-h2c", 1,
                lambda: h2load_point(url, messages, body_path, ["-c", "1", "-m", "16"]))
        measure("h2load-h2", 1,
                lambda: h2load_point(tls_url, messages, body_path, ["-c", "1", "-m", "16"]))
        if args.suppressed > 0:
            start = time.monotonic()
            imported = import_suppressions(http_port, args.suppressed)
            elapsed = time.monotonic() - start
            print(f"imported {imported} suppression entries in {elapsed:.1f}s "
                  f"({imported / elapsed:.0f}/s)", flush=True)
            n = messages
            for _ in range(2):
                measure("http-1+list", 16, lambda: http_point(http_port, 16, n, 1, "single"))
                measure("http-1000+list", 2,
                        lambda: http_point(http_port, 2, bulk_requests, 1000, "own"))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| point | connections | recipients | recipients/s | sluiced CPU s/1000 |")
    print("|---|---|---|---|---|")
    for name, connections, count, rate, cpu in rows:
        print(f"| {name} | {connections} | {count} | {rate:.0f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
