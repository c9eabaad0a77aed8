#!/usr/bin/env python3
"""dns_zone: a real authoritative DNS server (NSD) for sluice's delivery tests.

Generates a zone from a simple spec and serves it with NSD (Debian package
`nsd`) on 127.0.0.1 and a free port (UDP and TCP), run as the current user
with every file in a fresh temporary folder; stop() sends SIGTERM to that
nsd's own PID only, waits for it and removes the folder. Standard library
only. A missing nsd is an error that names the package.

What generate() puts into the zone "test." (indexes start at 1, zero-padded
to 4 digits or more; site k = (i - 1) % sites; IP of site k = 127.0.0.<base_ip + k>):
  d0001.test ... (domains)     MX 10 mx<k>.sites.test
  mx0.sites.test ... (sites)   A 127.0.0.<base_ip + k>
  multi0001.test (multi_mx)    MX 10 mx<k>.sites.test, MX 20 mx<k+1 mod sites>.sites.test
  nomx0001.test (no_mx)        no MX, A 127.0.0.<base_ip + k> (implicit MX)
  nullmx0001.test (null_mx)    MX 0 .  (RFC 7505: accepts no mail)
  nx0001.test (nxdomain)       absent: NXDOMAIN (listed in the manifest only)

Library:

    from tools.testbed.dns_zone import generate, NsdServer, query
    zone, manifest = generate(domains=1000, sites=4, no_mx=2, null_mx=2, multi_mx=2, nxdomain=2)
    with NsdServer([zone]) as dns:                  # start() on enter, stop() on exit
        dns.port, dns.address                        # 53xxx, "127.0.0.1:53xxx"
        query(dns.port, "d0001.test", "MX").answers
            # -> [("d0001.test", "MX", 300, (10, "mx0.sites.test"))]

  Zone(origin="test", ttl=300): .a(name, ip), .mx(name, preference, host),
      .null_mx(name), .add(name, type, rdata), .text() (the zone file). Names
      without a final dot are taken as absolute ("d1.test" = "d1.test.").
  generate(domains, sites, base_ip=10, multi_mx=0, no_mx=0, null_mx=0,
      nxdomain=0, origin="test", ttl=300) -> (Zone, manifest); manifest =
      {"port": filled in by the CLI, "origin": "test",
       "sites": {"mx0.sites.test": "127.0.0.10", ...},
       "domains": {"d0001.test": {"kind": "mx", "mx": [[10, "mx0.sites.test"]],
                                   "ips": ["127.0.0.10"]},
                   "nomx0001.test": {"kind": "no_mx", "mx": [], "ips": [...]},
                   "nullmx0001.test": {"kind": "null_mx", "mx": [[0, "."]], "ips": []},
                   "multi0001.test": {"kind": "multi_mx", "mx": [[10, ...], [20, ...]],
                                      "ips": [...] (in preference order)}},
       "nxdomain": ["nx0001.test", ...]}
  NsdServer(zones, port=0, nsd=$SLUICE_NSD or "/usr/sbin/nsd"): .start()
      (returns once every zone answers its SOA), .stop(), .port, .address,
      .pid, .directory. Start it from a long-lived thread (nsd gets SIGTERM
      when the starting thread ends, so it never outlives a crashed test).
  query(port, name, qtype="A", host="127.0.0.1", timeout=2.0) -> Answer with
      .rcode (0 NOERROR, 3 NXDOMAIN, ...), .aa, .answers [(name, type, ttl,
      rdata)]; rdata is "1.2.3.4" for A, (preference, host) for MX, hex
      otherwise. One UDP question, no EDNS.

Command line (serves until SIGTERM/SIGINT):

    python3 dns_zone.py --domains 1000 --sites 4 --print-port
        [--base-ip 10] [--multi-mx N] [--no-mx N] [--null-mx N] [--nxdomain N]
        [--ttl 300] [--port P] [--manifest FILE] [--zone-out FILE]

  --print-port prints the port alone on the first stdout line once nsd
  answers; --manifest writes the manifest (with "port") as JSON.
"""

import argparse
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Optional

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}
TYPE_NAMES = {v: k for k, v in TYPES.items()}


class Zone:
    """A zone file built record by record."""

    def __init__(self, origin: str = "test", ttl: int = 300):
        self.origin = origin.rstrip(".")
        self.ttl = ttl
        self.records = []  # (owner, type, rdata), absolute names without the final dot

    @staticmethod
    def _fqdn(name: str) -> str:
        return name if name.endswith(".") else name + "."

    def add(self, name: str, rtype: str, rdata: str) -> "Zone":
        self.records.append((name.rstrip("."), rtype, rdata))
        return self

    def a(self, name: str, ip: str) -> "Zone":
        return self.add(name, "A", ip)

    def mx(self, name: str, preference: int, host: str) -> "Zone":
        return self.add(name, "MX", f"{preference} {self._fqdn(host)}")

    def null_mx(self, name: str) -> "Zone":
        return self.add(name, "MX", "0 .")

    def text(self) -> str:
        o = self._fqdn(self.origin)
        lines = [
            f"$ORIGIN {o}",
            f"$TTL {self.ttl}",
            f"@ IN SOA ns.{o} hostmaster.{o} 1 3600 600 86400 {self.ttl}",
            f"@ IN NS ns.{o}",
            f"ns.{o} IN A 127.0.0.1",
        ]
        for owner, rtype, rdata in self.records:
            lines.append(f"{self._fqdn(owner)} IN {rtype} {rdata}")
        return "\n".join(lines) + "\n"


def generate(domains: int, sites: int, base_ip: int = 10, multi_mx: int = 0, no_mx: int = 0,
             null_mx: int = 0, nxdomain: int = 0, origin: str = "test", ttl: int = 300):
    """The zone and manifest described in the module docstring."""
    if sites < 1 or base_ip < 1 or base_ip + sites - 1 > 254:
        raise ValueError("need 1 <= sites and 127.0.0.<base_ip .. base_ip+sites-1> within .1-.254")
    zone = Zone(origin, ttl)
    width = max(4, len(str(max(domains, multi_mx, no_mx, null_mx, nxdomain, 1))))
    host = [f"mx{k}.sites.{origin}" for k in range(sites)]
    ip = [f"127.0.0.{base_ip + k}" for k in range(sites)]
    manifest = {"origin": origin, "sites": dict(zip(host, ip)), "domains": {}, "nxdomain": []}
    for k in range(sites):
        zone.a(host[k], ip[k])

    def name(prefix, i):
        return f"{prefix}{i:0{width}d}.{origin}"

    for i in range(1, domains + 1):
        k = (i - 1) % sites
        zone.mx(name("d", i), 10, host[k])
        manifest["domains"][name("d", i)] = {"kind": "mx", "mx": [[10, host[k]]], "ips": [ip[k]]}
    for i in range(1, multi_mx + 1):
        k, k2 = (i - 1) % sites, i % sites
        zone.mx(name("multi", i), 10, host[k]).mx(name("multi", i), 20, host[k2])
        manifest["domains"][name("multi", i)] = {
            "kind": "multi_mx", "mx": [[10, host[k]], [20, host[k2]]], "ips": [ip[k], ip[k2]]}
    for i in range(1, no_mx + 1):
        k = (i - 1) % sites
        zone.a(name("nomx", i), ip[k])
        manifest["domains"][name("nomx", i)] = {"kind": "no_mx", "mx": [], "ips": [ip[k]]}
    for i in range(1, null_mx + 1):
        zone.null_mx(name("nullmx", i))
        manifest["domains"][name("nullmx", i)] = {"kind": "null_mx", "mx": [[0, "."]], "ips": []}
    manifest["nxdomain"] = [name("nx", i) for i in range(1, nxdomain + 1)]
    return zone, manifest


# ---- a tiny DNS client (for readiness and tests) -----------------------------


class Answer:
    def __init__(self, rcode: int, aa: bool, answers: list):
        self.rcode = rcode
        self.aa = aa
        self.answers = answers

    def __repr__(self):
        return f"Answer(rcode={self.rcode}, aa={self.aa}, answers={self.answers})"


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _decode_name(msg: bytes, pos: int) -> tuple:
    """(name, position after the name in place); follows compression pointers."""
    labels, end, jumps = [], None, 0
    while True:
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            jumps += 1
            if jumps > 64:
                raise ValueError("compression loop")
            continue
        if length == 0:
            return ".".join(labels), (end if end is not None else pos + 1)
        labels.append(msg[pos + 1 : pos + 1 + length].decode("ascii", "replace"))
        pos += 1 + length


def query(port: int, name: str, qtype: str = "A", host: str = "127.0.0.1",
          timeout: float = 2.0) -> Answer:
    """One UDP question; raises TimeoutError / OSError / ValueError."""
    qid = random.randrange(1 << 16)
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    packet += _encode_name(name) + struct.pack(">HH", TYPES[qtype.upper()], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (host, port))
        deadline = time.monotonic() + timeout
        while True:
            s.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                msg = s.recv(65535)
            except socket.timeout:
                raise TimeoutError(f"no DNS answer from {host}:{port} for {name} {qtype}")
            if len(msg) >= 12 and struct.unpack(">H", msg[:2])[0] == qid:
                break
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    pos = 12
    for _ in range(qd):
        _, pos = _decode_name(msg, pos)
        pos += 4
    answers = []
    for _ in range(an):
        owner, pos = _decode_name(msg, pos)
        rtype, _, ttl, rdlen = struct.unpack(">HHIH", msg[pos : pos + 10])
        pos += 10
        rdata = msg[pos : pos + rdlen]
        if rtype == 1 and rdlen == 4:
            value = socket.inet_ntoa(rdata)
        elif rtype == 15:
            value = (struct.unpack(">H", rdata[:2])[0], _decode_name(msg, pos + 2)[0] or ".")
        else:
            value = rdata.hex()
        answers.append((owner, TYPE_NAMES.get(rtype, str(rtype)), ttl, value))
        pos += rdlen
    return Answer(flags & 0x0F, bool(flags & 0x0400), answers)


# ---- the server --------------------------------------------------------------


def free_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP (bound, then released)."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free loopback port for both UDP and TCP")


class ZoneLoadError(RuntimeError):
    """nsd runs but refused a zone (its log is in the message)."""


def _die_with_parent():
    """In the child before exec: SIGTERM when the starting thread ends."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class NsdServer:
    """NSD serving `zones` (Zone objects) on 127.0.0.1:`port` (0: a free one)."""

    def __init__(self, zones: list, port: int = 0, nsd: Optional[str] = None):
        self.zones = list(zones)
        self.nsd = nsd or os.environ.get("SLUICE_NSD", "/usr/sbin/nsd")
        self._requested_port = port
        self.port = 0
        self.pid = None
        self.directory = None
        self._proc = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> "NsdServer":
        if not os.access(self.nsd, os.X_OK):
            raise RuntimeError(f"{self.nsd} not found: install Debian's 'nsd' package "
                               "(apt-get install nsd)")
        error = None
        # A port found free can be taken before nsd binds it: try a few.
        for _ in range(1 if self._requested_port else 3):
            try:
                self._launch()
                return self
            except ZoneLoadError:
                self.stop()
                raise
            except RuntimeError as e:
                error = e
                self.stop()
        raise error

    def _launch(self):
        self.directory = tempfile.mkdtemp(prefix="nsd.", dir=os.environ.get("TEST_TMPDIR"))
        self.port = self._requested_port or free_port()
        d = self.directory
        conf = [
            "server:",
            f"  ip-address: 127.0.0.1@{self.port}",
            "  do-ip6: no",
            '  username: ""',
            '  chroot: ""',
            f'  zonesdir: "{d}"',
            '  database: ""',
            f'  zonelistfile: "{d}/zone.list"',
            f'  xfrdfile: "{d}/xfrd.state"',
            f'  xfrdir: "{d}"',
            f'  pidfile: "{d}/nsd.pid"',
            f'  logfile: "{d}/nsd.log"',
            "  server-count: 1",
            "  tcp-count: 64",
            "  hide-version: yes",
            "  verbosity: 1",
            "remote-control:",
            "  control-enable: no",
        ]
        for i, zone in enumerate(self.zones):
            with open(os.path.join(d, f"zone{i}.zone"), "w") as f:
                f.write(zone.text())
            conf += ["zone:", f"  name: {zone.origin}", f"  zonefile: zone{i}.zone"]
        conf_path = os.path.join(d, "nsd.conf")
        with open(conf_path, "w") as f:
            f.write("\n".join(conf) + "\n")
        # nsd's output goes to a file: it must not hold the caller's pipes open.
        with open(os.path.join(d, "nsd.out"), "wb") as out:
            self._proc = subprocess.Popen([self.nsd, "-d", "-c", conf_path],
                                          stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                          preexec_fn=_die_with_parent)
        self.pid = self._proc.pid
        # Ready when every zone answers its SOA; each probe waits for an answer.
        deadline = time.monotonic() + 30
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"nsd exited during startup ({self._proc.returncode}):\n"
                                   f"{self._read('nsd.log')}{self._read('nsd.out')}")
            try:
                rcodes = [query(self.port, z.origin, "SOA", timeout=0.2).rcode for z in self.zones]
                if not any(rcodes):
                    return
                # nsd answers only after loading its zones: SERVFAIL means
                # a zone that did not load, and waiting will not help.
                bad = [z.origin for z, r in zip(self.zones, rcodes) if r]
                raise ZoneLoadError(f"nsd did not load zone(s) {', '.join(bad)}:\n"
                                    f"{self._read('nsd.log')}")
            except (TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"nsd did not answer on port {self.port}:\n"
                                   f"{self._read('nsd.log')}")
            time.sleep(0.05)  # after a refused probe (ICMP), before the next one

    def _read(self, name: str) -> str:
        try:
            with open(os.path.join(self.directory, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to our nsd (by PID), wait, remove the folder."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
            self.pid = None
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Serve generated test zones with NSD.")
    p.add_argument("--domains", type=int, default=10)
    p.add_argument("--sites", type=int, default=1)
    p.add_argument("--base-ip", type=int, default=10)
    p.add_argument("--multi-mx", type=int, default=0)
    p.add_argument("--no-mx", type=int, default=0)
    p.add_argument("--null-mx", type=int, default=0)
    p.add_argument("--nxdomain", type=int, default=0)
    p.add_argument("--origin", default="test")
    p.add_argument("--ttl", type=int, default=300)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--print-port", action="store_true")
    p.add_argument("--manifest", help="write the manifest (JSON) here")
    p.add_argument("--zone-out", help="write the zone file here too")
    args = p.parse_args(argv)
    try:
        zone, manifest = generate(args.domains, args.sites, args.base_ip, args.multi_mx,
                                  args.no_mx, args.null_mx, args.nxdomain, args.origin, args.ttl)
    except ValueError as e:
        print(f"dns_zone: {e}", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server = NsdServer([zone], port=args.port)
    try:
        server.start()
    except RuntimeError as e:
        print(f"dns_zone: {e}", file=sys.stderr)
        return 1
    try:
        manifest["port"] = server.port
        if args.manifest:
            with open(args.manifest, "w") as f:
                json.dump(manifest, f, indent=1, sort_keys=True)
        if args.zone_out:
            with open(args.zone_out, "w") as f:
                f.write(zone.text())
        print(f"dns_zone: nsd pid {server.pid} serving {len(manifest['domains'])} domains on "
              f"{server.address}", file=sys.stderr)
        if args.print_port:
            print(server.port, flush=True)
        while not done.wait(1.0):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
