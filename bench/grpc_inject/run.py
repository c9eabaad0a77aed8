#!/usr/bin/env python3
"""Injection throughput into one sluiced over gRPC beside the JSON API, same
daemon, same run, same client concurrency (16 requests or streams open at
once), 1 recipient and a 2 KiB text per message:

  json-h1      POST /api/v1/messages over 16 HTTP/1.1 connections
  json-h2c     the same over one h2c connection, 16 streams
  grpc-unary   sluice.v1.Injection/Inject, one h2c connection, 16 streams
  grpc-stream  sluice.v1.Injection/InjectStream, one h2c connection, 16
               streams of messages/16 requests each
  grpcio-unary / grpcio-stream   the same two calls from python3-grpcio
               (Debian), 16 client processes, one channel each: a real gRPC
               stack as the client, but Python, so more likely the limit

The load client of the first four is h2load (nghttp2-client, C): it sends
a request body read from a file, which for gRPC is the framed protobuf
(for grpc-stream, messages/16 framed requests back to back: a client
stream h2load does not know it is sending). h2load checks the HTTP status
only, so every point is also checked against sluiced's own count
(sluice_http_messages_accepted_total), which grows only after the spool's
synced commit. Reported: messages per second and sluiced CPU seconds per
1,000 messages.

  bench/grpc_inject/run.py [--messages 20000]

Needs h2load (apt-get install nghttp2-client), protoc
(protobuf-compiler), python3-protobuf and python3-grpcio; builds sluiced
with Bazel. Everything lives in a temporary folder under /var/tmp, removed
at the end; only the daemon this script started is stopped.
"""
import argparse
import importlib.util
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "bench", "accept"))
from postfix_instance import free_port, wait_for_port  # noqa: E402
from run import tree_cpu_seconds  # noqa: E402
from tools.testbed.grpc_protos import generated_modules, import_grpc  # noqa: E402

CONCURRENCY = 16
PB = None  # the generated sluice.v1 messages, made before the workers fork


def load_http_bench():
    """bench/http_inject/run.py, for its request bodies and h2load driver."""
    spec = importlib.util.spec_from_file_location(
        "http_inject_run", os.path.join(ROOT, "bench", "http_inject", "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def framed(payload):
    return b"\0" + len(payload).to_bytes(4, "big") + payload


def grpc_request(pb, i):
    return pb.InjectRequest(subject=f"bench {i}", text="x" * 1900 + "\n",
                            recipients=[pb.Recipient(email=f"rcpt{i}@dest.example")],
                            request_id=str(i),
                            **{"from": pb.Mailbox(email="sender@bench.example", name="Bench")})


def accepted_total(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("sluice_http_messages_accepted_total "):
                return int(float(line.split()[1]))
    return 0


def grpcio_worker(args):
    port, kind, count, first = args
    grpc = import_grpc()
    pb = PB
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        if kind == "unary":
            inject = channel.unary_unary("/sluice.v1.Injection/Inject",
                                         request_serializer=pb.InjectRequest.SerializeToString,
                                         response_deserializer=pb.InjectResponse.FromString)
            return sum(len(inject(grpc_request(pb, first + i), timeout=120).accepted)
                       for i in range(count))
        stream = channel.stream_stream("/sluice.v1.Injection/InjectStream",
                                       request_serializer=pb.InjectRequest.SerializeToString,
                                       response_deserializer=pb.InjectResponse.FromString)
        answers = stream((grpc_request(pb, first + i) for i in range(count)), timeout=600)
        return sum(len(a.accepted) for a in answers)


def grpcio_point(port, kind, messages):
    per = messages // CONCURRENCY
    jobs = [(port, kind, per, i * per) for i in range(CONCURRENCY)]
    with multiprocessing.Pool(CONCURRENCY) as pool:
        pool.apply(time.sleep, (0,))  # the workers are up before the clock starts
        start = time.monotonic()
        accepted = sum(pool.map(grpcio_worker, jobs))
        elapsed = time.monotonic() - start
    return accepted, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.exit("needs h2load: apt-get install nghttp2-client")
    messages = args.messages - args.messages % CONCURRENCY
    http_bench = load_http_bench()
    subprocess.run(["bazel", "build", "//server:sluiced"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="sluice-grpc-bench-", dir="/var/tmp")
    global PB
    PB, _ = generated_modules(os.path.join(ROOT, "api", "proto"), os.path.join(work, "gen"))
    pb = PB
    http_port = free_port()
    config = os.path.join(work, "sluice.toml")
    with open(config, "w") as f:
        f.write(f'[log]\nlevel = "warning"\n[listen]\nhttp = "127.0.0.1:{http_port}"\n'
                '[delivery]\nenabled = false\n')  # injection only
    bodies = {"json": os.path.join(work, "one.json"), "unary": os.path.join(work, "one.grpc"),
              "stream": os.path.join(work, "many.grpc")}
    with open(bodies["json"], "wb") as f:
        f.write(http_bench.one_recipient_body(0))
    with open(bodies["unary"], "wb") as f:
        f.write(framed(grpc_request(pb, 0).SerializeToString()))
    with open(bodies["stream"], "wb") as f:
        for i in range(messages // CONCURRENCY):
            f.write(framed(grpc_request(pb, i).SerializeToString()))
    daemon = subprocess.Popen([os.path.join(ROOT, "bazel-bin/server/sluiced"), "--config", config,
                               "--data_dir", os.path.join(work, "data")])
    rows = []

    def measure(name, run):
        before_cpu = tree_cpu_seconds(daemon.pid)
        before = accepted_total(http_port)
        count, elapsed = run()
        cpu = tree_cpu_seconds(daemon.pid) - before_cpu
        stored = accepted_total(http_port) - before
        if stored != messages:
            sys.exit(f"{name}: sluiced accepted {stored} messages, not {messages}")
        rows.append((name, stored, stored / elapsed, cpu * 1000 / stored))
        print(f"{name:13} messages={stored:7} rate={stored / elapsed:9.1f}/s "
              f"cpu_per_1000={cpu * 1000 / stored:.3f}s", flush=True)

    grpc_headers = ["-H", "te: trailers"]
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_for_port(http_port, lambda: daemon.poll() is None, "sluiced")
        for _ in range(2):  # twice: the spread between rounds is the noise
            measure("json-h1", lambda: http_bench.h2load_point(
                f"{url}/api/v1/messages", messages, bodies["json"],
                ["--h1", "-c", str(CONCURRENCY), "-m", "1"]))
            measure("json-h2c", lambda: http_bench.h2load_point(
                f"{url}/api/v1/messages", messages, bodies["json"],
                ["-c", "1", "-m", str(CONCURRENCY)]))
            measure("grpc-unary", lambda: http_bench.h2load_point(
                f"{url}/sluice.v1.Injection/Inject", messages, bodies["unary"],
                ["-c", "1", "-m", str(CONCURRENCY), *grpc_headers], "application/grpc"))

            def stream():
                streams, elapsed = http_bench.h2load_point(
                    f"{url}/sluice.v1.Injection/InjectStream", CONCURRENCY, bodies["stream"],
                    ["-c", "1", "-m", str(CONCURRENCY), *grpc_headers], "application/grpc")
                return streams * (messages // CONCURRENCY), elapsed

            measure("grpc-stream", stream)
            measure("grpcio-unary", lambda: grpcio_point(http_port, "unary", messages))
            measure("grpcio-stream", lambda: grpcio_point(http_port, "stream", messages))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"| point | messages | messages/s | sluiced CPU s/1000 |  ({CONCURRENCY} in flight)")
    print("|---|---|---|---|")
    for name, count, rate, cpu in rows:
        print(f"| {name} | {count} | {rate:.0f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
