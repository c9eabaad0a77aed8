"""Tests of tools/testbed/dns_zone.py: NSD serves the generated zone; checked
with the module's own query() and with dig (Debian package bind9-dnsutils).

Run by dns_zone_test.sh (Bazel sh_test) with the runfiles root as the first
argument, or directly: python3 tests/tools/dns_zone_test.py [ROOT].
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 and os.path.isdir(sys.argv[1])
                       else os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)

from tools.testbed.dns_zone import NsdServer, Zone, ZoneLoadError, generate, query  # noqa: E402

DIG = shutil.which("dig")


def dig(port, name, qtype):
    """(status, [answer lines]) from dig."""
    if DIG is None:
        raise AssertionError("dig not found: install Debian's 'bind9-dnsutils' package")
    out = subprocess.run([DIG, "-p", str(port), "@127.0.0.1", "+norecurse", "+time=2", "+tries=1",
                          name, qtype], capture_output=True, text=True, check=True).stdout
    status = out.split("status: ", 1)[1].split(",", 1)[0]
    short = subprocess.run([DIG, "-p", str(port), "@127.0.0.1", "+short", "+time=2", "+tries=1",
                            name, qtype], capture_output=True, text=True, check=True).stdout
    return status, sorted(short.split("\n")[:-1])


class GeneratedZoneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.zone, cls.manifest = generate(domains=1000, sites=4, multi_mx=3, no_mx=2,
                                          null_mx=2, nxdomain=2)
        cls.dns = NsdServer([cls.zone]).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def test_every_domain_has_its_site_mx_and_the_sites_their_addresses(self):
        port = self.dns.port
        domains = [d for d, v in self.manifest["domains"].items() if v["kind"] == "mx"]
        self.assertEqual(len(domains), 1000)
        self.assertEqual(domains[0], "d0001.test")
        for i, domain in enumerate(domains):
            answer = query(port, domain, "MX")
            self.assertEqual((answer.rcode, answer.aa), (0, True))
            self.assertEqual(answer.answers, [(domain, "MX", 300, (10, f"mx{i % 4}.sites.test"))])
        for k in range(4):
            self.assertEqual(query(port, f"mx{k}.sites.test", "A").answers,
                             [(f"mx{k}.sites.test", "A", 300, f"127.0.0.{10 + k}")])
        self.assertEqual(self.manifest["sites"]["mx3.sites.test"], "127.0.0.13")
        self.assertEqual(self.manifest["domains"]["d0006.test"]["ips"], ["127.0.0.11"])

    def test_dig_sees_the_same_records(self):
        port = self.dns.port
        self.assertEqual(dig(port, "d0999.test", "MX"), ("NOERROR", ["10 mx2.sites.test."]))
        self.assertEqual(dig(port, "mx2.sites.test", "A"), ("NOERROR", ["127.0.0.12"]))
        self.assertEqual(dig(port, "multi0002.test", "MX"),
                         ("NOERROR", ["10 mx1.sites.test.", "20 mx2.sites.test."]))
        self.assertEqual(dig(port, "nullmx0001.test", "MX"), ("NOERROR", ["0 ."]))
        self.assertEqual(dig(port, "nomx0002.test", "MX"), ("NOERROR", []))
        self.assertEqual(dig(port, "nomx0002.test", "A"), ("NOERROR", ["127.0.0.11"]))
        self.assertEqual(dig(port, "nx0001.test", "MX"), ("NXDOMAIN", []))

    def test_special_domains(self):
        port = self.dns.port
        multi = query(port, "multi0003.test", "MX").answers  # site 2, then site 3
        self.assertEqual(sorted(a[3] for a in multi), [(10, "mx2.sites.test"),
                                                       (20, "mx3.sites.test")])
        self.assertEqual(self.manifest["domains"]["multi0003.test"]["ips"],
                         ["127.0.0.12", "127.0.0.13"])
        self.assertEqual(query(port, "nullmx0002.test", "MX").answers,
                         [("nullmx0002.test", "MX", 300, (0, "."))])
        no_mx = query(port, "nomx0001.test", "MX")
        self.assertEqual((no_mx.rcode, no_mx.answers), (0, []))
        self.assertEqual(query(port, "nomx0001.test", "A").answers[0][3], "127.0.0.10")
        self.assertEqual(self.manifest["nxdomain"], ["nx0001.test", "nx0002.test"])
        for name in self.manifest["nxdomain"]:
            self.assertEqual(query(port, name, "MX").rcode, 3)


class ServerLifecycleTest(unittest.TestCase):
    def test_hand_built_zone_and_stop_removes_the_process_and_folder(self):
        zone = Zone("example.test").mx("example.test", 5, "mail.example.test")
        zone.a("mail.example.test", "127.0.0.20").a("mail.example.test", "127.0.0.21")
        dns = NsdServer([zone]).start()
        pid, folder = dns.pid, dns.directory
        self.assertEqual(sorted(a[3] for a in query(dns.port, "mail.example.test").answers),
                         ["127.0.0.20", "127.0.0.21"])
        self.assertEqual(dns.address, f"127.0.0.1:{dns.port}")
        dns.stop()
        self.assertFalse(os.path.exists(f"/proc/{pid}"), "nsd still running after stop()")
        self.assertFalse(os.path.exists(folder))

    def test_a_zone_nsd_refuses_is_an_error_with_its_log(self):
        zone = Zone("bad.test").add("bad.test", "MX", "not-a-number host")
        with self.assertRaises(ZoneLoadError) as e:
            NsdServer([zone]).start()
        self.assertIn("bad.test", str(e.exception))

    def test_command_line_serves_and_cleans_up_on_sigterm(self):
        tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        manifest_path = os.path.join(tmp, "manifest.json")
        proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tools", "testbed", "dns_zone.py"), "--domains",
             "20", "--sites", "2", "--base-ip", "30", "--null-mx", "1", "--print-port",
             "--manifest", manifest_path], stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            self.assertTrue(line.strip().isdigit(), f"no port printed: {line!r}")
            port = int(line)
            with open(manifest_path) as f:
                manifest = json.load(f)
            self.assertEqual(manifest["port"], port)
            self.assertEqual(len(manifest["domains"]), 21)
            self.assertEqual(dig(port, "d0020.test", "MX"), ("NOERROR", ["10 mx1.sites.test."]))
            self.assertEqual(query(port, "mx1.sites.test").answers[0][3], "127.0.0.31")
            children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                      text=True).stdout.split()
            self.assertEqual(len(children), 1, "expected one nsd child")
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            proc.stdout.close()
        self.assertEqual(code, 0)
        self.assertFalse(os.path.exists(f"/proc/{children[0]}"), "nsd outlived the CLI")


if __name__ == "__main__":
    unittest.main(verbosity=2)
