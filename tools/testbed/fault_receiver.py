#!/usr/bin/env python3
"""fault_receiver: a fake destination MTA with fault injection, for sluice's delivery tests.

An asyncio ESMTP server (standard library only) that listens on one or more
loopback addresses (127.0.0.x, the same port on each: one address per MX
host), accepts mail, records every accepted message as one JSON line, counts
connections (current and maximum concurrency per address and in total) and
recipient outcomes, and injects faults on demand, deterministically from a
seed. It never answers a malformed input with a crash: every bad line gets an
SMTP error reply; its own diagnostics go to stderr.

Usage as a library (the server runs on its own thread with its own loop):

    from tools.testbed.fault_receiver import FaultReceiver, FaultConfig, Stall
    config = FaultConfig(seed=7, rcpt_4xx=0.3, stalls=[Stall("rcpt", 2.0, 0.1)])
    with FaultReceiver(["127.0.0.10", "127.0.0.11"], port=0, config=config,
                       log_path="out.jsonl", stats_path="stats.json") as rx:
        ... deliver to rx.port on 127.0.0.10 / 127.0.0.11 ...
        records = rx.wait_for_messages(100, timeout=60)   # accepted messages
        stats = rx.stats()                                 # a dict, see below

  FaultReceiver(addresses, port=0, config=None, log_path=None, stats_path=None,
                hostname="mx.fault-receiver.test", starttls=True, chunking=True,
                cert=None, key=None, idle_timeout=300.0, keep_data=False)
      keep_data: messages() records also hold "data" (the message bytes).
      addresses: ["127.0.0.10", ...] or ["127.0.0.10:2525", ...] (one port for
      all; 0 = a free one, the same on every address).
    .start() / .stop() (or a with block); .port; .addresses ["ip:port", ...]
    .messages() -> [record]; .wait_for_messages(n, timeout) -> [record]
    .stats() -> dict; .write_stats(path=None) -> dict
    .wait_for(predicate(stats) -> bool, timeout) -> stats (woken per event)
    .wait_for_records(predicate(records) -> bool, timeout) -> records
    .storm(point, seconds, fraction=1.0): a 421 storm from now on
  FaultConfig(seed=0, rcpt_4xx=0, rcpt_5xx=0, defer_first_fraction=0, data_4xx=0,
              data_5xx=0, disconnect_in_data=0, disconnect_after_bytes=1,
              stalls=[Stall(point, seconds, probability=1)],
              storms=[Storm(point, fraction=1, start=0, duration=None)],
              tls_fail=None, tls_fail_rate=1, greet_554=0, max_conn_per_addr=0,
              max_rcpts=1000, max_size=50 MiB, local_rules={prefix: reply})
      FaultConfig.from_dict(json_data) takes the same names (the --config file).

Usage as a program (same options; prints one JSON "ready" line on stdout
with --print-ready, then serves until SIGTERM/SIGINT; SIGUSR1 writes the
stats file; with --control-stdin it reads commands on stdin, see below):

    python3 fault_receiver.py --listen 127.0.0.10:2525 --listen 127.0.0.11:2525 \
        --log out.jsonl --stats stats.json --seed 1 --rcpt-4xx 0.3 --rcpt-5xx 0.05

    The ready line: {"listen": ["127.0.0.10:2525", ...], "pid": N, "port": 2525}.
    FaultReceiverProcess(["--listen", "127.0.0.10:0", ...], python=sys.executable)
    starts that program as a subprocess (with --print-ready --control-stdin)
    and offers .port, .addresses, .pid, .stats(), .storm(point, seconds,
    fraction), .stop() -> final stats.

Protocol: 220 greeting; EHLO (PIPELINING, 8BITMIME, SIZE, ENHANCEDSTATUSCODES,
and STARTTLS / CHUNKING unless switched off), HELO, MAIL (SIZE= and BODY=
parameters), RCPT, DATA (dot-unstuffing), BDAT (with CHUNKING), RSET, NOOP,
VRFY (252), QUIT, STARTTLS (a self-signed certificate is made with the openssl
CLI at start unless cert/key are given). Commands are read from a buffer and
answered in order, so pipelined commands work.

Faults (FaultConfig field / CLI flag). Recipient replies are a pure function
of (seed, address, how many times that address was seen before), whatever
the interleaving of connections; connection faults are a function of (seed,
connection number), transaction faults of (seed, connection number, count
within the connection). Precedence at RCPT: local-part rule, defer-first,
random 5xx/4xx, else 250.

  local_rules / --reply-for PREFIX=REPLY   recipients whose local part starts
      with PREFIX get REPLY (e.g. "bounce=550 5.1.1 User unknown"). Default
      rules (off with --no-default-rules): bounce* -> 550 5.1.1,
      defer* -> 451 4.3.0.
  rcpt_4xx, rcpt_5xx / --rcpt-4xx P --rcpt-5xx P   random 451 4.3.0 / 550
      5.1.1 per RCPT with these probabilities.
  defer_first_fraction / --defer-first-fraction F   this fraction of
      recipients (chosen by hash) get 451 4.3.0 the first time they are seen
      and are decided normally afterwards.
  data_4xx, data_5xx / --data-4xx P --data-5xx P   after the data, 451 4.3.0 /
      554 5.6.0 instead of 250 (message not logged as accepted).
  disconnect_in_data / --disconnect-in-data P [--disconnect-after-bytes N]
      per transaction: close the socket once N bytes (default 1) of the
      message have arrived, without a reply.
  stalls / --stall POINT:SECONDS[:P]   at POINT (greeting, ehlo, mail, rcpt,
      data = after DATA/first BDAT before answering, dot = after the whole
      message before the final reply) stop answering for SECONDS, with
      probability P (default 1) at each occurrence; then carry on.
  storms / --storm POINT[:FRACTION[:START[:DURATION]]]   421 4.7.0 to every
      new connection (POINT=connect) or to MAIL (POINT=mail), for FRACTION of
      connections (default 1), from START seconds after start for DURATION
      seconds (default: forever); the connection is then closed.
      FaultReceiver.storm(point, seconds, fraction) starts one now.
  tls_fail / --tls-fail garbage|close [--tls-fail-rate P]   answer STARTTLS
      with 220, then send garbage and close, or just close.
  greet_554 / --greet-554 P   greet with 554 5.3.2 (then 503 to everything
      but QUIT).
  max_conn_per_addr / --max-conn-per-addr N   a connection beyond N open on
      its listen address gets 421 4.7.0 and is closed (still counted).
  max_rcpts / --max-rcpts N (default 1000)   then 452 4.5.3.
  max_size / --max-size BYTES (default 50 MiB)   advertised in SIZE; then 552.

Log: one JSON object per accepted message (written and flushed after the
final 250, under a lock):
  {"time": 1700000000.123 (Unix seconds), "listen": "127.0.0.10:2525",
   "peer": "127.0.0.1:40000", "connection": 12, "helo": "client.example",
   "mail_from": "a@b.test" ("" for <>), "rcpts": ["x@d0001.test", ...],
   "size": 1234 (after dot-unstuffing), "message_id": "<id@host>" or null,
   "sha256": hex of the data, "tls": "TLSv1.3" or null,
   "transport": "DATA" or "BDAT"}

Stats (FaultReceiver.stats(), the --stats file):
  {"total": {"connections", "current", "max_concurrent", "messages",
             "over_limit"},
   "listeners": {"127.0.0.10:2525": {same keys}, ...},
   "rcpt_replies": {"250": n, "451": n, ...},
   "recipients": {"x@d0001.test": [451, 250], ...}  (codes in order),
   "data_replies": {"250": n, ...},
   "faults": {"disconnect_in_data", "stall", "storm_421", "tls_fail",
              "greet_554", "over_limit", "rcpt_4xx", "rcpt_5xx",
              "defer_first", "local_rule", "data_4xx", "data_5xx": counts},
   "tls": {"started": n, "handshake_failed": n}}
A connection is counted from accept to close, including those refused by a
storm, by the per-address limit or by a 554 greeting.

Control on stdin (--control-stdin), one command per line, one JSON reply line
on stdout each: "stats" (also writes the stats file), "storm POINT SECONDS
[FRACTION]" ({"ok": true}), "quit" (or end of stdin: the program stops, so it
never outlives a parent that held the pipe; the final stats are printed).
"""

import argparse
import asyncio
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from typing import Optional

STALL_POINTS = ("greeting", "ehlo", "mail", "rcpt", "data", "dot")
STORM_POINTS = ("connect", "mail")
DEFAULT_LOCAL_RULES = {
    "bounce": "550 5.1.1 User unknown",
    "defer": "451 4.3.0 Try again later",
}
COMMAND_LINE_LIMIT = 4096


def _log(message: str) -> None:
    sys.stderr.write(f"fault_receiver: {message}\n")
    sys.stderr.flush()


@dataclasses.dataclass
class Stall:
    """Stop answering for `seconds` at `point`, with `probability` each time."""

    point: str
    seconds: float
    probability: float = 1.0


@dataclasses.dataclass
class Storm:
    """421 4.7.0 at `point` ("connect" or "mail") for `fraction` of connections,
    from `start` seconds after the receiver started, for `duration` seconds
    (None: forever)."""

    point: str
    fraction: float = 1.0
    start: float = 0.0
    duration: Optional[float] = None


@dataclasses.dataclass
class FaultConfig:
    """Which faults to inject; all off by default (except the local-part rules)."""

    seed: int = 0
    rcpt_4xx: float = 0.0
    rcpt_5xx: float = 0.0
    defer_first_fraction: float = 0.0
    data_4xx: float = 0.0
    data_5xx: float = 0.0
    disconnect_in_data: float = 0.0
    disconnect_after_bytes: int = 1
    stalls: list = dataclasses.field(default_factory=list)
    storms: list = dataclasses.field(default_factory=list)
    tls_fail: Optional[str] = None  # None, "garbage" or "close"
    tls_fail_rate: float = 1.0
    greet_554: float = 0.0
    max_conn_per_addr: int = 0  # 0: no limit
    max_rcpts: int = 1000
    max_size: int = 50 * 1024 * 1024
    local_rules: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_LOCAL_RULES))

    @staticmethod
    def from_dict(d: dict) -> "FaultConfig":
        """Builds a config from JSON-style data (stalls/storms as lists of dicts)."""
        d = dict(d)
        d["stalls"] = [s if isinstance(s, Stall) else Stall(**s) for s in d.get("stalls", [])]
        d["storms"] = [s if isinstance(s, Storm) else Storm(**s) for s in d.get("storms", [])]
        config = FaultConfig(**d)
        config.validate()
        return config

    def validate(self) -> None:
        for s in self.stalls:
            if s.point not in STALL_POINTS:
                raise ValueError(f"stall point {s.point!r} not one of {STALL_POINTS}")
        for s in self.storms:
            if s.point not in STORM_POINTS:
                raise ValueError(f"storm point {s.point!r} not one of {STORM_POINTS}")
        if self.tls_fail not in (None, "garbage", "close"):
            raise ValueError(f"tls_fail {self.tls_fail!r} not garbage or close")
        for prefix, reply in self.local_rules.items():
            _parse_reply(reply)


def _parse_reply(reply: str) -> tuple:
    """"550 5.1.1 text" -> (550, "5.1.1 text"); raises ValueError if malformed."""
    code, _, rest = reply.strip().partition(" ")
    if not (code.isdigit() and len(code) == 3 and code[0] in "2345"):
        raise ValueError(f"reply {reply!r} does not start with a 3-digit code")
    return int(code), rest or "Reply"


def make_self_signed(directory: str, hostname: str) -> tuple:
    """Writes key.pem and cert.pem (EC P-256, self-signed) into `directory`
    with the openssl CLI; returns (cert_path, key_path)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-keyout", key, "-out", cert, "-days", "7", "-subj", f"/CN={hostname}",
           "-addext", f"subjectAltName=DNS:{hostname}"]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise RuntimeError("openssl not found: install Debian's 'openssl' package")
    if result.returncode != 0:
        raise RuntimeError(f"openssl failed: {result.stderr.strip()}")
    return cert, key


def _addr_str(addr) -> str:
    if not addr:
        return "?"
    return f"{addr[0]}:{addr[1]}"


def _extract_address(arg: str, keyword: str):
    """"FROM:<a@b> SIZE=1" -> ("a@b", ["SIZE=1"]); None if malformed."""
    if arg[: len(keyword) + 1].upper() != keyword + ":":
        return None
    rest = arg[len(keyword) + 1 :].lstrip()
    if rest.startswith("<"):
        end = rest.find(">")
        if end < 0:
            return None
        address, params = rest[1:end], rest[end + 1 :].split()
    else:  # lenient: a bare address
        parts = rest.split()
        if not parts:
            return None
        address, params = parts[0], parts[1:]
    if any(c in address for c in " <>\r\n"):
        return None
    return address, params


def _message_id(data: bytes) -> Optional[str]:
    """The Message-ID header's value (unfolded), or None."""
    end = data.find(b"\r\n\r\n")
    end_lf = data.find(b"\n\n")
    if end < 0 or (0 <= end_lf < end):
        end = end_lf
    header = data if end < 0 else data[:end]
    value = None
    for raw in header.replace(b"\r\n", b"\n").split(b"\n"):
        line = raw.decode("utf-8", "replace")
        if value is not None:
            if line[:1] in (" ", "\t"):
                value += " " + line.strip()
                continue
            break
        if line.lower().startswith("message-id:"):
            value = line[len("message-id:") :].strip()
    return value


class _Listener:
    """Counters of one listen address."""

    def __init__(self, name: str):
        self.name = name
        self.connections = 0
        self.current = 0
        self.max_concurrent = 0
        self.messages = 0
        self.over_limit = 0

    def as_dict(self) -> dict:
        return {"connections": self.connections, "current": self.current,
                "max_concurrent": self.max_concurrent, "messages": self.messages,
                "over_limit": self.over_limit}


class _Closed(Exception):
    """The session is over (peer gone, or we closed it on purpose)."""


class FaultReceiver:
    """The receiver. `addresses`: IPs ("127.0.0.10") or "ip:port" strings; all
    listen on one port: `port`, or the port of the first "ip:port", or a free
    one if 0. Thread-safe accessors; start() returns once it listens."""

    def __init__(self, addresses, port: int = 0, config: Optional[FaultConfig] = None,
                 log_path: Optional[str] = None, stats_path: Optional[str] = None,
                 hostname: str = "mx.fault-receiver.test", starttls: bool = True,
                 chunking: bool = True, cert: Optional[str] = None, key: Optional[str] = None,
                 idle_timeout: float = 300.0, keep_data: bool = False):
        # keep_data: messages() records also carry "data" (the message
        # bytes), for tests that read what arrived; never in the log file.
        self.keep_data = keep_data
        if isinstance(addresses, str):
            addresses = [addresses]
        self._hosts, ports = [], set()
        for a in addresses:
            host, sep, p = a.rpartition(":") if ":" in a else (a, "", "")
            self._hosts.append(host)
            if sep:
                ports.add(int(p))
        if len(ports) > 1:
            raise ValueError(f"all listen addresses share one port, not {sorted(ports)}")
        if ports and port == 0:
            port = ports.pop()
        if not self._hosts:
            raise ValueError("no listen address")
        self.config = config or FaultConfig()
        self.config.validate()
        self._local_rules = {k.lower(): _parse_reply(v) for k, v in self.config.local_rules.items()}
        self._requested_port = port
        self.port = 0
        self.hostname = hostname
        self.starttls = starttls
        self.chunking = chunking
        self.idle_timeout = idle_timeout
        self._cert, self._key = cert, key
        self._tmpdir = None
        self._ssl = None
        self.log_path = log_path
        self.stats_path = stats_path
        self._log_file = None

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._listeners = {}
        self._total = _Listener("total")
        self._rcpt_seen = {}
        self._recipients = {}
        self._rcpt_replies = {}
        self._data_replies = {}
        self._faults = {}
        self._tls = {"started": 0, "handshake_failed": 0}
        self._messages = []
        self._serial = 0
        self._storms = list(self.config.storms)
        self._started_at = time.monotonic()

        self._loop = None
        self._thread = None
        self._servers = []
        self._sessions = set()

    # ---- public API -------------------------------------------------------

    @property
    def addresses(self) -> list:
        """["127.0.0.10:2525", ...] (after start)."""
        return [f"{h}:{self.port}" for h in self._hosts]

    def start(self) -> "FaultReceiver":
        if self.starttls and not self._cert:
            self._tmpdir = tempfile.mkdtemp(prefix="fault_receiver.",
                                            dir=os.environ.get("TEST_TMPDIR"))
            self._cert, self._key = make_self_signed(self._tmpdir, self.hostname)
        if self.starttls:
            self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ssl.load_cert_chain(self._cert, self._key)
        if self.log_path:
            self._log_file = open(self.log_path, "a", encoding="utf-8")
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure = []

        def run():
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._bind())
            except BaseException as e:  # reported to start()'s caller
                failure.append(e)
                ready.set()
                self._loop.close()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fault_receiver", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._cleanup_files()
            raise RuntimeError(f"fault_receiver could not listen: {failure[0]}")
        self._started_at = time.monotonic()
        return self

    def stop(self) -> None:
        """Closes the listeners and every session; writes the stats file."""
        if self._thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        future.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._thread = None
        if self.stats_path:
            self.write_stats()
        self._cleanup_files()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stats(self) -> dict:
        """A snapshot of the counters (format in the module docstring)."""
        with self._lock:
            return self._stats_locked()

    def _stats_locked(self) -> dict:
        return {
            "total": self._total.as_dict(),
            "listeners": {k: v.as_dict() for k, v in self._listeners.items()},
            "rcpt_replies": dict(self._rcpt_replies),
            "recipients": {k: list(v) for k, v in self._recipients.items()},
            "data_replies": dict(self._data_replies),
            "faults": dict(self._faults),
            "tls": dict(self._tls),
        }

    def write_stats(self, path: Optional[str] = None) -> dict:
        """Writes stats() to `path` (default: stats_path) atomically; returns it."""
        snapshot = self.stats()
        path = path or self.stats_path
        if path:
            tmp = f"{path}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(snapshot, f, indent=1, sort_keys=True)
            os.replace(tmp, path)
        return snapshot

    def messages(self) -> list:
        """The accepted messages so far, as the log's dicts."""
        with self._lock:
            return list(self._messages)

    def wait_for_messages(self, count: int, timeout: float) -> list:
        """Waits until `count` messages were accepted (woken by each one);
        returns messages() then, or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self._messages)} of {count} messages after {timeout}s")
                self._changed.wait(left)
            return list(self._messages)

    def wait_for(self, predicate, timeout: float) -> dict:
        """Waits until predicate(stats()) is true, woken by every counted event;
        returns that stats() or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                snapshot = self._stats_locked()
                if predicate(snapshot):
                    return snapshot
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"condition not met after {timeout}s: {snapshot['total']}")
                self._changed.wait(left)

    def wait_for_records(self, predicate, timeout: float) -> list:
        """Waits until predicate(messages()) is true, woken by every counted
        event; returns those records or raises TimeoutError. (wait_for's
        predicate must not call messages(): the lock is held.)"""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                records = list(self._messages)
                if predicate(records):
                    return records
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"condition not met after {timeout}s: "
                                       f"{len(records)} messages")
                self._changed.wait(left)

    def storm(self, point: str, seconds: float, fraction: float = 1.0) -> None:
        """Starts a 421 storm now, for `seconds`."""
        if point not in STORM_POINTS:
            raise ValueError(f"storm point {point!r} not one of {STORM_POINTS}")
        with self._lock:
            start = time.monotonic() - self._started_at
            self._storms.append(Storm(point, fraction, start, seconds))

    # ---- internals --------------------------------------------------------

    def _cleanup_files(self):
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    async def _bind(self):
        attempts = 20 if self._requested_port == 0 else 1
        for attempt in range(attempts):
            port = self._requested_port
            servers = []
            try:
                for host in self._hosts:
                    server = await asyncio.start_server(
                        lambda r, w, h=host: self._accept(r, w, h), host, port,
                        reuse_address=True)
                    if port == 0:
                        port = server.sockets[0].getsockname()[1]
                    servers.append(server)
            except OSError:
                for s in servers:
                    s.close()
                if attempt + 1 == attempts:
                    raise
                continue
            self.port = port
            self._servers = servers
            with self._lock:
                for host in self._hosts:
                    self._listeners[f"{host}:{port}"] = _Listener(f"{host}:{port}")
            return

    async def _shutdown(self):
        for s in self._servers:
            s.close()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.wait(list(self._sessions), timeout=10)
        for s in self._servers:
            await s.wait_closed()

    def _draw(self, *key) -> float:
        """A uniform number in [0, 1) determined by the seed and `key`."""
        text = "\0".join([str(self.config.seed)] + [str(k) for k in key])
        digest = hashlib.sha256(text.encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64

    def _count(self, table: dict, key) -> None:
        """Adds one to table[key]; caller holds the lock."""
        table[key] = table.get(key, 0) + 1

    def _fault(self, name: str) -> None:
        with self._lock:
            self._count(self._faults, name)
            self._changed.notify_all()

    def _storm_active(self, point: str, serial: int) -> bool:
        with self._lock:
            now = time.monotonic() - self._started_at
            storms = list(self._storms)
        for i, s in enumerate(storms):
            if s.point != point or now < s.start:
                continue
            if s.duration is not None and now >= s.start + s.duration:
                continue
            if self._draw("storm", i, serial) < s.fraction:
                return True
        return False

    async def _accept(self, reader, writer, host):
        task = asyncio.current_task()
        self._sessions.add(task)
        listener_name = f"{host}:{self.port}"
        with self._lock:
            self._serial += 1
            serial = self._serial
            listener = self._listeners[listener_name]
            for c in (listener, self._total):
                c.connections += 1
                c.current += 1
                c.max_concurrent = max(c.max_concurrent, c.current)
            limit = self.config.max_conn_per_addr
            over = limit > 0 and listener.current > limit
            if over:
                listener.over_limit += 1
                self._total.over_limit += 1
                self._count(self._faults, "over_limit")
            self._changed.notify_all()
        session = _Session(self, reader, writer, listener_name, serial)
        try:
            await session.run(over_limit=bool(over))
        except asyncio.CancelledError:
            pass
        except Exception as e:  # a bug here must not take the server down
            _log(f"connection {serial}: internal error {e!r}")
        finally:
            try:
                writer.transport.abort()
            except Exception:
                pass
            with self._lock:
                listener.current -= 1
                self._total.current -= 1
                self._changed.notify_all()
            self._sessions.discard(task)

    def _record_rcpt(self, address: str, code: int) -> None:
        with self._lock:
            self._recipients.setdefault(address, []).append(code)
            self._count(self._rcpt_replies, str(code))
            self._changed.notify_all()

    def _rcpt_reply(self, address: str) -> tuple:
        """Decides RCPT's reply (code, text) and counts it."""
        local = address.rpartition("@")[0].lower() if "@" in address else address.lower()
        with self._lock:
            attempt = self._rcpt_seen.get(address, 0)
            self._rcpt_seen[address] = attempt + 1
        reply = None
        for prefix, rule in self._local_rules.items():
            if local.startswith(prefix):
                reply, fault = rule, "local_rule"
                break
        if reply is None and attempt == 0 and self.config.defer_first_fraction > 0:
            if self._draw("defer_first", address) < self.config.defer_first_fraction:
                reply, fault = (451, "4.3.0 Deferred on first sight, try again"), "defer_first"
        if reply is None:
            u = self._draw("rcpt", address, attempt)
            if u < self.config.rcpt_5xx:
                reply, fault = (550, "5.1.1 Mailbox unavailable (injected)"), "rcpt_5xx"
            elif u < self.config.rcpt_5xx + self.config.rcpt_4xx:
                reply, fault = (451, "4.3.0 Temporary failure (injected)"), "rcpt_4xx"
        if reply is None:
            reply = (250, "2.1.5 OK")
        else:
            self._fault(fault)
        self._record_rcpt(address, reply[0])
        return reply

    def _accept_message(self, record: dict) -> None:
        line = json.dumps({k: v for k, v in record.items() if k != "data"}, sort_keys=True)
        with self._lock:
            if self._log_file:
                self._log_file.write(line + "\n")
                self._log_file.flush()
            self._messages.append(record)
            self._listeners[record["listen"]].messages += 1
            self._total.messages += 1
            self._count(self._data_replies, "250")
            self._changed.notify_all()


class _Session:
    """One SMTP connection."""

    def __init__(self, rx: FaultReceiver, reader, writer, listen: str, serial: int):
        self.rx = rx
        self.cfg = rx.config
        self.reader = reader
        self.writer = writer
        self.listen = listen
        self.serial = serial
        self.peer = _addr_str(writer.get_extra_info("peername"))
        self.buf = bytearray()  # received, not yet parsed from self.pos on
        self.pos = 0
        self.helo = None
        self.esmtp = False
        self.tls_version = None
        self.occurrence = {}  # point -> count, for per-occurrence draws
        self.transactions = 0
        self._reset()

    def _reset(self):
        self.mail_from = None
        self.rcpts = []
        self.bdat = None  # bytearray while a BDAT transaction is open
        self.bdat_failed = None  # reply to give at LAST after an earlier failure
        self.disconnect_at = None

    # -- I/O --

    async def reply(self, code: int, text: str, more=()) -> None:
        lines = list(more)
        out = "".join(f"{code}-{t}\r\n" for t in [text] + lines[:-1]) if lines else ""
        out += f"{code} {lines[-1] if lines else text}\r\n"
        self.writer.write(out.encode("utf-8", "replace"))
        await self.writer.drain()

    async def _fill(self) -> None:
        """Appends what the peer sends next to the session's buffer (one read,
        one timeout per read rather than per line); _Closed at EOF, timeout
        or error."""
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        try:
            async with asyncio.timeout(self.rx.idle_timeout):
                chunk = await self.reader.read(65536)
        except (TimeoutError, ConnectionError, OSError, ssl.SSLError):
            raise _Closed()
        if not chunk:
            raise _Closed()
        self.buf += chunk

    async def readline(self, limit: int) -> tuple:
        """One line ending in LF: (line, too_long). A line longer than `limit`
        is consumed whole and returned as b"" with too_long set."""
        too_long = False
        while True:
            i = self.buf.find(b"\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos : i + 1])
                self.pos = i + 1
                too_long = too_long or len(line) > limit
                return (b"" if too_long else line), too_long
            if len(self.buf) - self.pos > limit:
                too_long = True
                self.pos = len(self.buf)
            await self._fill()

    async def read_exactly(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n:
            await self._fill()
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    async def skip(self, n: int) -> None:
        """Consumes `n` bytes without keeping them (a chunk too big to hold)."""
        while n > 0:
            if self.pos >= len(self.buf):
                await self._fill()
            take = min(n, len(self.buf) - self.pos)
            self.pos += take
            n -= take

    async def maybe_stall(self, point: str) -> None:
        for i, stall in enumerate(self.cfg.stalls):
            if stall.point != point:
                continue
            n = self.occurrence.get((point, i), 0)
            self.occurrence[(point, i)] = n + 1
            if self.rx._draw("stall", i, self.serial, n) < stall.probability:
                self.rx._fault("stall")
                await asyncio.sleep(stall.seconds)

    # -- the session --

    async def run(self, over_limit: bool) -> None:
        try:
            await self._run(over_limit)
        except _Closed:
            pass
        except (ConnectionError, OSError, ssl.SSLError):
            pass

    async def _run(self, over_limit: bool) -> None:
        rx, name = self.rx, self.rx.hostname
        if over_limit:
            await self.reply(421, f"4.7.0 {name} Too many connections to this address")
            return
        if rx._storm_active("connect", self.serial):
            rx._fault("storm_421")
            await self.reply(421, f"4.7.0 {name} Service not available, try later")
            return
        if self.cfg.greet_554 and rx._draw("greet_554", self.serial) < self.cfg.greet_554:
            rx._fault("greet_554")
            await self.reply(554, f"5.3.2 {name} No SMTP service here")
            await self._refuse_all()
            return
        await self.maybe_stall("greeting")
        await self.reply(220, f"{name} ESMTP fault_receiver")
        while True:
            line, too_long = await self.readline(COMMAND_LINE_LIMIT)
            if too_long:
                await self.reply(500, "5.5.2 Line too long")
                continue
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, arg = text.partition(" ")
            handler = getattr(self, "cmd_" + verb.upper(), None) if verb.isalpha() else None
            if handler is None:
                await self.reply(500, "5.5.2 Command not recognized")
                continue
            if await handler(arg.strip()) is False:
                return

    async def _refuse_all(self):
        while True:
            line, _ = await self.readline(COMMAND_LINE_LIMIT)
            if line.strip().upper() == b"QUIT":
                await self.reply(221, "2.0.0 Bye")
                return
            await self.reply(503, "5.3.2 No SMTP service here")

    # -- commands; returning False ends the session --

    async def cmd_EHLO(self, arg):
        if not arg:
            return await self.reply(501, "5.5.4 EHLO needs a domain")
        await self.maybe_stall("ehlo")
        self._reset()
        self.helo, self.esmtp = arg, True
        ext = ["PIPELINING", "8BITMIME", f"SIZE {self.cfg.max_size}", "ENHANCEDSTATUSCODES"]
        if self.rx.starttls and self.tls_version is None:
            ext.append("STARTTLS")
        if self.rx.chunking:
            ext.append("CHUNKING")
        await self.reply(250, f"{self.rx.hostname} greets {arg}", ext)

    async def cmd_HELO(self, arg):
        if not arg:
            return await self.reply(501, "5.5.4 HELO needs a domain")
        await self.maybe_stall("ehlo")
        self._reset()
        self.helo, self.esmtp = arg, False
        await self.reply(250, f"{self.rx.hostname}")

    async def cmd_NOOP(self, arg):
        await self.reply(250, "2.0.0 OK")

    async def cmd_RSET(self, arg):
        self._reset()
        await self.reply(250, "2.0.0 OK")

    async def cmd_VRFY(self, arg):
        await self.reply(252, "2.5.0 Cannot VRFY user")

    async def cmd_HELP(self, arg):
        await self.reply(214, "2.0.0 See RFC 5321")

    async def cmd_QUIT(self, arg):
        await self.reply(221, "2.0.0 Bye")
        return False

    async def cmd_STARTTLS(self, arg):
        if not self.rx.starttls or self.tls_version is not None:
            return await self.reply(503, "5.5.1 STARTTLS not available")
        if arg:
            return await self.reply(501, "5.5.4 No parameters allowed")
        fail = self.cfg.tls_fail
        if fail and self.rx._draw("tls_fail", self.serial) < self.cfg.tls_fail_rate:
            self.rx._fault("tls_fail")
            await self.reply(220, "2.0.0 Ready to start TLS")
            if fail == "garbage":
                self.writer.write(b"\x15\x03\x03\x00\x02garbage, not a TLS handshake\r\n")
                await self.writer.drain()
            return False
        # Commands pipelined after STARTTLS were sent in plaintext; they must
        # not run inside the TLS session (the classic STARTTLS injection).
        self.pos = len(self.buf)
        self.reader._buffer.clear()  # (empty: _fill reads all there is)
        # No await between the 220 and start_tls (start_tls's drain does not
        # yield unless the buffer is full): the ClientHello must reach the
        # TLS layer, not the plaintext reader.
        self.writer.write(b"220 2.0.0 Ready to start TLS\r\n")
        try:
            await self.writer.start_tls(self.rx._ssl, ssl_handshake_timeout=30)
        except (ssl.SSLError, ConnectionError, OSError, asyncio.TimeoutError) as e:
            with self.rx._lock:
                self.rx._tls["handshake_failed"] += 1
                self.rx._changed.notify_all()
            _log(f"connection {self.serial}: TLS handshake failed: {e!r}")
            return False
        ssl_object = self.writer.get_extra_info("ssl_object")
        self.tls_version = ssl_object.version() if ssl_object else "unknown"
        with self.rx._lock:
            self.rx._tls["started"] += 1
            self.rx._changed.notify_all()
        self.helo = None
        self._reset()

    async def cmd_MAIL(self, arg):
        if self.helo is None:
            return await self.reply(503, "5.5.1 EHLO or HELO first")
        if self.mail_from is not None:
            return await self.reply(503, "5.5.1 Sender already given")
        parsed = _extract_address(arg, "FROM")
        if parsed is None:
            return await self.reply(501, "5.5.4 Syntax: MAIL FROM:<address>")
        address, params = parsed
        for p in params:
            key, _, value = p.partition("=")
            key = key.upper()
            if key == "SIZE" and self.esmtp:
                if not value.isdigit():
                    return await self.reply(501, "5.5.4 Bad SIZE value")
                if int(value) > self.cfg.max_size:
                    return await self.reply(552, "5.3.4 Message too big")
            elif key == "BODY" and self.esmtp and value.upper() in ("7BIT", "8BITMIME"):
                pass
            else:
                return await self.reply(555, f"5.5.4 Unsupported parameter {p}")
        await self.maybe_stall("mail")
        if self.rx._storm_active("mail", self.serial):
            self.rx._fault("storm_421")
            await self.reply(421, f"4.7.0 {self.rx.hostname} Service not available, try later")
            return False
        self.mail_from = address
        self.transactions += 1
        await self.reply(250, "2.1.0 OK")

    async def cmd_RCPT(self, arg):
        if self.mail_from is None:
            return await self.reply(503, "5.5.1 MAIL first")
        if self.bdat is not None:
            return await self.reply(503, "5.5.1 RCPT after BDAT")
        parsed = _extract_address(arg, "TO")
        if parsed is None or not parsed[0]:
            return await self.reply(501, "5.5.4 Syntax: RCPT TO:<address>")
        address, params = parsed
        if params:
            return await self.reply(555, f"5.5.4 Unsupported parameter {params[0]}")
        await self.maybe_stall("rcpt")
        if len(self.rcpts) >= self.cfg.max_rcpts:
            self.rx._record_rcpt(address, 452)
            return await self.reply(452, "4.5.3 Too many recipients")
        code, text = self.rx._rcpt_reply(address)
        if code == 250:
            self.rcpts.append(address)
        await self.reply(code, text)

    def _decide_disconnect(self):
        if self.cfg.disconnect_in_data and (
                self.rx._draw("disconnect", self.serial, self.transactions) <
                self.cfg.disconnect_in_data):
            self.disconnect_at = max(0, self.cfg.disconnect_after_bytes)

    async def _disconnect(self):
        self.rx._fault("disconnect_in_data")
        self.writer.transport.abort()
        raise _Closed()

    async def cmd_DATA(self, arg):
        if self.mail_from is None or self.bdat is not None:
            return await self.reply(503, "5.5.1 MAIL first" if self.mail_from is None
                                    else "5.5.1 DATA after BDAT")
        if not self.rcpts:
            return await self.reply(554, "5.5.1 No valid recipients")
        if arg:
            return await self.reply(501, "5.5.4 No parameters allowed")
        self._decide_disconnect()
        await self.maybe_stall("data")
        await self.reply(354, "End data with <CR><LF>.<CR><LF>")
        data, size, too_big = bytearray(), 0, False
        while True:
            line, too_long = await self.readline(self.cfg.max_size + 2)
            if too_long:
                too_big = True
                continue
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if self.disconnect_at is not None and size >= self.disconnect_at:
                await self._disconnect()
            if size > self.cfg.max_size:
                too_big = True
            elif not too_big:
                data += line
        if self.disconnect_at is not None:  # the message was shorter than the threshold
            await self._disconnect()
        await self._finish(bytes(data), too_big, "DATA")

    async def cmd_BDAT(self, arg):
        if not self.rx.chunking:
            return await self.reply(500, "5.5.2 Command not recognized")
        parts = arg.split()
        if not (1 <= len(parts) <= 2 and parts[0].isdigit()) or (
                len(parts) == 2 and parts[1].upper() != "LAST"):
            # Without a valid size the chunk cannot be skipped: give up.
            await self.reply(501, "5.5.4 Syntax: BDAT size [LAST]")
            return False
        size, last = int(parts[0]), len(parts) == 2
        # Read the chunk first: it follows the command whatever the reply.
        first = self.bdat is None
        if first and self.mail_from is not None and self.rcpts:
            self._decide_disconnect()
        if self.disconnect_at is not None:
            have = len(self.bdat or b"")
            take = min(size, max(0, self.disconnect_at - have))
            await self.read_exactly(take)
            await self._disconnect()
        if len(self.bdat or b"") + size > self.cfg.max_size:
            await self.skip(size)
            chunk = None
        else:
            chunk = await self.read_exactly(size)
        if self.mail_from is None:
            return await self.reply(503, "5.5.1 MAIL first")
        if not self.rcpts:
            return await self.reply(554, "5.5.1 No valid recipients")
        if first:
            self.bdat = bytearray()
            await self.maybe_stall("data")
        if chunk is None:
            self.bdat_failed = True
        elif not self.bdat_failed:
            self.bdat += chunk
        if not last:
            return await self.reply(250, f"2.0.0 {size} octets received")
        await self._finish(bytes(self.bdat), bool(self.bdat_failed), "BDAT")

    async def _finish(self, data: bytes, too_big: bool, transport: str) -> None:
        """The end of the data: the final reply, and the log line if accepted."""
        await self.maybe_stall("dot")
        rx = self.rx
        if too_big:
            code, text = 552, "5.3.4 Message too big"
        elif rx._draw("data", self.serial, self.transactions) < self.cfg.data_5xx:
            code, text = 554, "5.6.0 Message rejected (injected)"
            rx._fault("data_5xx")
        elif rx._draw("data4", self.serial, self.transactions) < self.cfg.data_4xx:
            code, text = 451, "4.3.0 Message deferred (injected)"
            rx._fault("data_4xx")
        else:
            code, text = 250, "2.0.0 OK queued"
        record = None
        if code == 250:
            record = {
                "time": round(time.time(), 6), "listen": self.listen, "peer": self.peer,
                "connection": self.serial, "helo": self.helo, "mail_from": self.mail_from,
                "rcpts": list(self.rcpts), "size": len(data), "message_id": _message_id(data),
                "sha256": hashlib.sha256(data).hexdigest(), "tls": self.tls_version,
                "transport": transport,
            }
            if rx.keep_data:
                record["data"] = bytes(data)
        else:
            with rx._lock:
                rx._count(rx._data_replies, str(code))
        self._reset()
        await self.reply(code, text)
        # Logged after the 250 was handed to the socket: the sender may now
        # consider the message delivered.
        if record is not None:
            rx._accept_message(record)


class FaultReceiverProcess:
    """fault_receiver.py run as a subprocess (for crash isolation or a
    different Python): `args` are the CLI flags (give at least one --listen).
    Blocks until it listens; .port, .addresses, .pid, .stats(), .storm(),
    .stop() (SIGTERM, waits, returns the final stats)."""

    def __init__(self, args: list, python: str = sys.executable):
        self.proc = subprocess.Popen(
            [python, os.path.abspath(__file__), "--print-ready", "--control-stdin"] + list(args),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError(f"fault_receiver exited with {code} before it was ready")
        ready = json.loads(line)
        self.pid = self.proc.pid
        self.port = ready["port"]
        self.addresses = ready["listen"]

    def _command(self, text: str) -> dict:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("fault_receiver exited")
        return json.loads(line)

    def stats(self) -> dict:
        return self._command("stats")

    def storm(self, point: str, seconds: float, fraction: float = 1.0) -> dict:
        return self._command(f"storm {point} {seconds} {fraction}")

    def stop(self) -> dict:
        """Ends the process (quit command), returns the stats it printed last."""
        if self.proc.poll() is not None:
            return {}
        final = self._command("quit")
        self.proc.wait(timeout=30)
        self.proc.stdin.close()
        self.proc.stdout.close()
        return final

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        except Exception:
            self.proc.kill()  # our own child, by its PID
            self.proc.wait()


# ---- command line ------------------------------------------------------------


def _parse_stall(text: str) -> Stall:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError("--stall POINT:SECONDS[:PROBABILITY]")
    return Stall(parts[0], float(parts[1]), float(parts[2]) if len(parts) == 3 else 1.0)


def _parse_storm(text: str) -> Storm:
    parts = text.split(":")
    if not 1 <= len(parts) <= 4:
        raise argparse.ArgumentTypeError("--storm POINT[:FRACTION[:START[:DURATION]]]")
    return Storm(parts[0], float(parts[1]) if len(parts) > 1 else 1.0,
                 float(parts[2]) if len(parts) > 2 else 0.0,
                 float(parts[3]) if len(parts) > 3 else None)


def _parse_rule(text: str) -> tuple:
    prefix, sep, reply = text.partition("=")
    if not sep or not prefix:
        raise argparse.ArgumentTypeError("--reply-for PREFIX=CODE X.Y.Z TEXT")
    _parse_reply(reply)
    return prefix, reply


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Fake destination MTA with fault injection.")
    p.add_argument("--listen", action="append", required=True,
                   help="IP:PORT (repeatable; one port for all; 0 = a free one)")
    p.add_argument("--log", help="JSON lines file of accepted messages")
    p.add_argument("--stats", help="stats JSON file (written on SIGUSR1, 'stats' and exit)")
    p.add_argument("--config", help="JSON file with FaultConfig fields; flags override")
    p.add_argument("--hostname", default="mx.fault-receiver.test")
    p.add_argument("--no-starttls", action="store_true")
    p.add_argument("--no-chunking", action="store_true")
    p.add_argument("--cert", help="PEM certificate (default: self-signed, made at start)")
    p.add_argument("--key", help="PEM private key for --cert")
    p.add_argument("--idle-timeout", type=float, default=300.0)
    p.add_argument("--print-ready", action="store_true",
                   help='print {"listen": [...], "port": N, "pid": N} on stdout when listening')
    p.add_argument("--control-stdin", action="store_true",
                   help="read commands on stdin: stats | storm POINT SECONDS [FRACTION] | quit")
    f = p.add_argument_group("faults")
    f.add_argument("--seed", type=int)
    f.add_argument("--rcpt-4xx", type=float)
    f.add_argument("--rcpt-5xx", type=float)
    f.add_argument("--defer-first-fraction", type=float)
    f.add_argument("--data-4xx", type=float)
    f.add_argument("--data-5xx", type=float)
    f.add_argument("--disconnect-in-data", type=float)
    f.add_argument("--disconnect-after-bytes", type=int)
    f.add_argument("--stall", type=_parse_stall, action="append", default=[])
    f.add_argument("--storm", type=_parse_storm, action="append", default=[])
    f.add_argument("--tls-fail", choices=["garbage", "close"])
    f.add_argument("--tls-fail-rate", type=float)
    f.add_argument("--greet-554", type=float)
    f.add_argument("--max-conn-per-addr", type=int)
    f.add_argument("--max-rcpts", type=int)
    f.add_argument("--max-size", type=int)
    f.add_argument("--reply-for", type=_parse_rule, action="append", default=[])
    f.add_argument("--no-default-rules", action="store_true")
    return p


def config_from_args(args) -> FaultConfig:
    data = {}
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            data = json.load(fh)
    config = FaultConfig.from_dict(data)
    for field in ("seed", "rcpt_4xx", "rcpt_5xx", "defer_first_fraction", "data_4xx", "data_5xx",
                  "disconnect_in_data", "disconnect_after_bytes", "tls_fail", "tls_fail_rate",
                  "greet_554", "max_conn_per_addr", "max_rcpts", "max_size"):
        value = getattr(args, field)
        if value is not None:
            setattr(config, field, value)
    config.stalls += args.stall
    config.storms += args.storm
    if args.no_default_rules:
        for prefix in DEFAULT_LOCAL_RULES:
            config.local_rules.pop(prefix, None)
    config.local_rules.update(dict(args.reply_for))
    config.validate()
    return config


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, TypeError, OSError) as e:
        _log(f"bad configuration: {e}")
        return 2
    try:
        rx = FaultReceiver(args.listen, config=config, log_path=args.log, stats_path=args.stats,
                           hostname=args.hostname, starttls=not args.no_starttls,
                           chunking=not args.no_chunking, cert=args.cert, key=args.key,
                           idle_timeout=args.idle_timeout)
        rx.start()
    except (RuntimeError, ValueError, OSError, ssl.SSLError) as e:
        _log(str(e))
        return 1
    _log(f"listening on {' '.join(rx.addresses)}")
    out_lock = threading.Lock()

    def emit(obj):
        with out_lock:
            sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
            sys.stdout.flush()

    if args.print_ready:
        emit({"listen": rx.addresses, "port": rx.port, "pid": os.getpid()})
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGUSR1, lambda *_: rx.write_stats())

    def control():
        for line in sys.stdin:
            words = line.split()
            try:
                if not words:
                    continue
                if words[0] == "stats":
                    emit(rx.write_stats())
                elif words[0] == "storm" and len(words) in (3, 4):
                    rx.storm(words[1], float(words[2]), float(words[3]) if len(words) == 4 else 1.0)
                    emit({"ok": True})
                elif words[0] == "quit":
                    break
                else:
                    emit({"error": f"unknown command {line.strip()!r}"})
            except ValueError as e:
                emit({"error": str(e)})
        done.set()

    if args.control_stdin:
        threading.Thread(target=control, daemon=True).start()
    while not done.wait(1.0):
        pass
    rx.stop()  # writes the stats file
    if args.control_stdin:
        emit(rx.stats())
    _log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
