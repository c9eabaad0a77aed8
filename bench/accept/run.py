#!/usr/bin/env python3
"""SMTP acceptance throughput: sluice's relay listener against Postfix's
smtpd, same machine, same run, same load.

Postfix's smtp-source sends N messages of SIZE bytes over S concurrent
sessions (each session reuses its connection, -d) to each MTA in turn; a
message counts once the MTA answered 250, which both give only after the
message is on disk (sluice: spool group commit; Postfix: the queue file is
fsynced by cleanup). Neither delivers: sluice has no delivery yet, and the
Postfix instance puts every message on hold. Reported per MTA and session
count: messages/s, and CPU seconds per 1,000 messages of the MTA's own
processes (sluiced; Postfix's master and every child it ran).

  bench/accept/run.py [--messages N] [--sessions 1,50] [--size 2048] [--quick]

Needs postfix (for smtp-source and smtpd), run as root; builds sluiced with
Bazel. Everything lives in a temporary folder under /var/tmp, removed at
the end; only the processes this script started are stopped.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from postfix_instance import PostfixInstance, free_port, wait_for_port  # noqa: E402
TICKS = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in clock ticks, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def tree_cpu_seconds(root_pid):
    """CPU of root_pid, its live descendants, and the children it reaped."""
    parents = {}
    cpu = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat:
                parents[int(entry)] = stat[0]
                cpu[int(entry)] = stat[1]
    root = proc_stat(root_pid)
    if root is None:
        return 0.0
    total = root[1] + root[2]
    for pid in cpu:
        p = parents.get(pid)
        while p and p != root_pid and p != 1:
            p = parents.get(p)
        if p == root_pid and pid != root_pid:
            total += cpu[pid]
    return total / TICKS


def smtp_source(port, sessions, messages, size):
    command = ["smtp-source", "-d", "-s", str(sessions), "-m", str(messages), "-l", str(size),
               "-f", "sender@bench.example", "-t", "rcpt@dest.example",
               "-M", "client.bench.example", f"127.0.0.1:{port}"]
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if result.returncode != 0 or result.stderr.strip():
        sys.exit(f"smtp-source failed against port {port}: {result.stderr.strip()}")
    return elapsed


def run_points(name, port, cpu_of, points, size):
    rows = []
    for sessions, messages in points:
        cpu_before = cpu_of()
        elapsed = smtp_source(port, sessions, messages, size)
        cpu = cpu_of() - cpu_before
        rows.append((name, sessions, messages, messages / elapsed, cpu * 1000 / messages))
        print(f"{name:8} sessions={sessions:3} messages={messages} "
              f"rate={messages / elapsed:9.1f}/s cpu_per_1000={cpu * 1000 / messages:.3f}s",
              flush=True)
    return rows


def bench_sluice(work, points, size):
    subprocess.run(["bazel", "build", "//server:sluiced"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    config = os.path.join(work, "sluice.toml")
    with open(config, "w") as f:
        f.write(f'[log]\nlevel = "warning"\n[listen]\nrelay = "127.0.0.1:{port}"\n'
                f'http = "127.0.0.1:{free_port()}"\nhttps = "127.0.0.1:{free_port()}"\n'
                # Acceptance only, as for Postfix (its mail is on hold).
                '[delivery]\nenabled = false\n')
    daemon = subprocess.Popen([os.path.join(ROOT, "bazel-bin/server/sluiced"), "--config", config,
                               "--data_dir", os.path.join(work, "sluice-data")],
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, lambda: daemon.poll() is None, "sluiced")
        return run_points("sluice", port, lambda: tree_cpu_seconds(daemon.pid), points, size)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)


def bench_postfix(work, points, size):
    # Every message goes on hold once queued: accepted and synced, not delivered.
    postfix = PostfixInstance(
        work, "smtpd_recipient_restrictions = check_client_access static:HOLD,\n"
        "    permit_mynetworks, reject_unauth_destination\n")
    postfix.start()
    try:
        return run_points("postfix", postfix.port, lambda: tree_cpu_seconds(postfix.master),
                          points, size)
    finally:
        postfix.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--sessions", default="1,50")
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--quick", action="store_true", help="1,000 messages per point")
    args = parser.parse_args()
    if shutil.which("smtp-source") is None or shutil.which("postfix") is None:
        sys.exit("needs postfix: apt-get install postfix")
    messages = 1000 if args.quick else args.messages
    points = []
    for s in args.sessions.split(","):
        sessions = int(s)
        # A lone session waits for one sync per message: fewer of them.
        points.append((sessions, messages if sessions > 1 else max(200, messages // 20)))
    work = tempfile.mkdtemp(prefix="sluice-accept-", dir="/var/tmp")
    try:
        rows = bench_sluice(work, points, args.size) + bench_postfix(work, points, args.size)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| sessions | sluice msg/s | Postfix msg/s | sluice / Postfix | sluice CPU s/1000 | "
          "Postfix CPU s/1000 |")
    print("|---|---|---|---|---|---|")
    by = {(r[0], r[1]): r for r in rows}
    for sessions, _ in points:
        s, p = by[("sluice", sessions)], by[("postfix", sessions)]
        print(f"| {sessions} | {s[3]:.0f} | {p[3]:.0f} | {s[3] / p[3]:.2f} | {s[4]:.3f} | "
              f"{p[4]:.3f} |")


if __name__ == "__main__":
    main()
