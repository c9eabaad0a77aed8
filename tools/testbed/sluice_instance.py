#!/usr/bin/env python3
"""sluice_instance: one sluiced process for end-to-end tests.

Writes a configuration (every listener on 127.0.0.1 and a free port, the
data folder given, plus whatever TOML the test adds), starts the sluiced
binary, and waits for its "sluiced started" log line to learn the bound
addresses. stop() sends SIGTERM and waits (a clean stop); kill() sends
SIGKILL (a crash). Only the process it started is ever signalled.

    from tools.testbed.sluice_instance import SluiceInstance
    with SluiceInstance(binary, data_dir, extra_toml) as sluice:
        sluice.relay          # ("127.0.0.1", port)
        sluice.send(sender, recipients, message_bytes)    # smtplib, raises on refusal
        sluice.events()       # parsed lines of <data_dir>/events.jsonl
        sluice.wait_events(lambda events: ..., timeout=60)
        sluice.metrics()      # GET /metrics as text
        sluice.get_json("/api/v1/messages/ID", token)   # the admin API

Waiting is on conditions with a deadline (the log line, the event file);
nothing sleeps a fixed time and hopes.
"""
import hashlib
import json
import os
import re
import signal
import smtplib
import subprocess
import threading
import time
import urllib.request

STARTED = re.compile(r'msg="sluiced started".*? http=(\S+) https=(\S+) relay=(\S+) '
                     r'submission=(\S+)')


def _host_port(text):
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def delivery_toml(dns_address, mx_port, delivery="", limits="", extra=""):
    """The configuration end-to-end delivery tests start from: MX lookups at
    `dns_address`, delivery to port `mx_port`, EHLO sluice.test, retries
    every second. `delivery` and `limits` are lines added to [delivery] and
    [delivery.limits]; `extra` follows (more sections)."""
    return f"""
[dns]
servers = ["{dns_address}"]
mx_port = {mx_port}

[delivery]
helo_name = "sluice.test"
{delivery}
[delivery.retry]
initial = "1s"
multiplier = 1.0
jitter = 0.0

[delivery.limits]
{limits}
{extra}
"""


def api_keys_toml(keys):
    """[[api_keys]] tables for `keys`, a dict of name -> (token, [scopes]) or
    (token, [scopes], "more = TOML\n")."""
    return "".join(f"""
[[api_keys]]
name = "{name}"
token_sha256 = "{hashlib.sha256(key[0].encode()).hexdigest()}"
scopes = {json.dumps(key[1])}
{key[2] if len(key) > 2 else ""}""" for name, key in keys.items())


def wait_until(predicate, timeout, what):
    """Polls predicate() every 50 ms until it returns a true value, which is
    returned; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class SluiceInstance:
    def __init__(self, binary, data_dir, extra_toml="", shards=2, start_timeout=60.0):
        self.binary = binary
        self.data_dir = data_dir
        self.extra_toml = extra_toml
        self.shards = shards
        self.start_timeout = start_timeout
        self.process = None
        self.log_lines = []
        self._log_cond = threading.Condition()
        self.http = self.https = self.relay = self.submission = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def config_path(self):
        return os.path.join(self.data_dir, "..", os.path.basename(self.data_dir) + ".toml")

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.config_path, "w") as f:
            f.write(f"""
[server]
shards = {self.shards}
data_dir = "{self.data_dir}"

[listen]
http = "127.0.0.1:0"
https = "127.0.0.1:0"
relay = "127.0.0.1:0"
submission = "127.0.0.1:0"
submissions = "127.0.0.1:0"

{self.extra_toml}
""")
        self.log_lines = []
        self.process = subprocess.Popen([self.binary, "--config", self.config_path],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True, errors="replace")
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        line = self.wait_log(STARTED, self.start_timeout)
        match = STARTED.search(line)
        self.http = _host_port(match.group(1))
        self.https = _host_port(match.group(2))
        self.relay = _host_port(match.group(3))
        self.submission = _host_port(match.group(4))
        return self

    def _read_log(self):
        for line in self.process.stderr:
            with self._log_cond:
                self.log_lines.append(line.rstrip("\n"))
                self._log_cond.notify_all()
        with self._log_cond:
            self.log_lines.append(None)  # end of log: the process exited
            self._log_cond.notify_all()

    def wait_log(self, pattern, timeout):
        """The first log line matching `pattern`; fails when sluiced exits first."""
        deadline = time.monotonic() + timeout
        with self._log_cond:
            while True:
                for line in self.log_lines:
                    if line is None:
                        raise AssertionError("sluiced exited:\n" + "\n".join(
                            l for l in self.log_lines if l)[-4000:])
                    if re.search(pattern, line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no log line matching {pattern!r} in {timeout}s")
                self._log_cond.wait(left)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self._close_log()
            raise AssertionError("sluiced did not stop within 60 s of SIGTERM" + self._log_tail())
        self._close_log()
        if code != 0:
            # Under ASan, a report or a leak at exit lands here.
            raise AssertionError(f"sluiced exited with {code}" + self._log_tail())

    def _log_tail(self):
        log = "\n".join(line for line in self.log_lines if line)
        return f"; sluiced's log ends:\n{log[-6000:]}"

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_log()

    def _close_log(self):
        if self.process is not None and self.process.stderr is not None:
            self._reader.join(10)  # ends at the log's end-of-file
            self.process.stderr.close()

    def send(self, sender, recipients, message, port=None):
        """Relays one message; returns after the 250 (the message is spooled)."""
        host, relay_port = self.relay
        with smtplib.SMTP(host, port or relay_port, timeout=30) as client:
            refused = client.sendmail(sender, recipients, message)
        if refused:
            raise AssertionError(f"recipients refused: {refused}")

    @property
    def events_path(self):
        return os.path.join(self.data_dir, "events.jsonl")

    def events(self):
        try:
            with open(self.events_path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def wait_events(self, predicate, timeout=60.0, what="events"):
        """Re-reads the event log until predicate(events) holds. The event
        log is written by its own thread (batched, flushed every second), so
        this polls the file every 50 ms until the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events):
                return events
            if self.process.poll() is not None:
                raise AssertionError("sluiced exited while waiting for " + what)
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"{len(events)} events: {events[-5:]}")
            time.sleep(0.05)

    def metrics(self):
        host, port = self.http
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
                return response.read().decode()
        except OSError as error:
            # Say whether sluiced died (and how) rather than only that the
            # connection failed.
            if self.process.poll() is not None:
                self._close_log()
            raise AssertionError(f"GET /metrics failed: {error!r}; sluiced exit code "
                                 f"{self.process.poll()}{self._log_tail()}") from error

    def get_json(self, path, token):
        """GET `path` of the HTTP API with a bearer `token`, parsed."""
        host, port = self.http
        request = urllib.request.Request(f"http://{host}:{port}{path}",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def metric(self, name, labels=""):
        """The value of one sample, e.g. metric("sluice_delivery_recipients_total",
        'result="delivered"'); 0 when absent."""
        pattern = re.compile(r"^" + re.escape(name) +
                             (r"\{" + re.escape(labels) + r"\}" if labels else r"") +
                             r"\s+(\S+)$", re.M)
        match = pattern.search(self.metrics())
        return float(match.group(1)) if match else 0.0
