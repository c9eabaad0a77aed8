"""End-to-end delivery: mail relayed into sluiced over SMTP reaches real
receivers on loopback, found through real DNS (NSD serving MX records).

The receivers are tools/testbed/fault_receiver.py (an asyncio ESMTP server
with STARTTLS and fault injection) on 127.0.0.10-13, one address per MX
host; DNS is NSD with a generated zone (tools/testbed/dns_zone.py): 1,000
domains dNNNN.test over four sites mx0..mx3.sites.test, plus multi-MX, null
MX and nonexistent domains. sluiced runs as a child process with a short
retry schedule.

Every test checks outcomes per (message, recipient): delivered exactly once
at a receiver, or bounced with a DSN back to the sender; nothing lost.

Run by run_e2e_test.sh with the runfiles root as the first argument.
"""

import email
import email.policy
import json
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request
from collections import Counter

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tools.testbed.dns_zone import NsdServer, free_port, generate  # noqa: E402
from tools.testbed.fault_receiver import FaultConfig, FaultReceiver, Stall, Storm  # noqa: E402
from tools.testbed.sluice_instance import SluiceInstance, delivery_toml  # noqa: E402

SLUICED = os.path.join(ROOT, "server", "sluiced")
SITES = ["127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13"]
SENDER = "app@sender.test"
TMP = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()

dns = None


def setUpModule():
    global dns
    zone, _ = generate(domains=1000, sites=4, multi_mx=1, null_mx=1, nxdomain=1)
    # Where DSNs go: the sender's domain is hosted on site 0.
    zone.mx("sender.test", 10, "mx0.sites.test")
    dns = NsdServer([zone])
    dns.start()


def tearDownModule():
    dns.stop()


def message(n, to="r@d0001.test", extra=""):
    return (f"From: {SENDER}\r\nTo: {to}\r\nSubject: test {n}\r\n"
            f"Message-ID: <m{n}@sender.test>\r\n{extra}\r\nBody of message {n}.\r\n"
            ".a line that starts with a dot\r\n").encode()


def config(port, extra="", dsn_delay="4h"):
    return delivery_toml(
        dns.address, port,
        delivery=('host_failure_backoff = "2s"\nthrottle_backoff = "1s"\n'
                  f'delay_notice_after = "{dsn_delay}"\n'),
        limits=('idle_timeout = "1s"\nreply_timeout = "2s"\ndata_timeout = "4s"\n'
                'connect_timeout = "2s"\n'),
        extra=extra)


def delivered_pairs(receiver_or_records):
    """(Message-ID, recipient) for every recipient the receivers accepted,
    without DSNs."""
    records = receiver_or_records
    if isinstance(records, FaultReceiver):
        records = records.messages()
    pairs = []
    for record in records:
        if record["mail_from"] == "":
            continue
        for rcpt in record["rcpts"]:
            pairs.append((record["message_id"], rcpt))
    return pairs


def dsns(receiver):
    return [email.message_from_bytes(r["data"], policy=email.policy.compat32)
            for r in receiver.messages() if r["mail_from"] == ""]


def recipient_blocks(dsn):
    """{final recipient: its field block} from a DSN's delivery-status part,
    as Python's email package parses it."""
    blocks = {}
    for part in dsn.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in part.get_payload():
            if block.get("Final-Recipient"):
                blocks[block["Final-Recipient"].split(";", 1)[1].strip()] = block
    return blocks


def dsn_status(dsn):
    """{final recipient: (action, status)}."""
    return {r: (b["Action"], b["Status"]) for r, b in recipient_blocks(dsn).items()}


def dsn_diagnostics(dsn):
    """{final recipient: Diagnostic-Code}."""
    return {r: b.get("Diagnostic-Code", "") for r, b in recipient_blocks(dsn).items()}


def final_events(events):
    """{(message id, recipient): type} for delivered/bounced/expired events
    of the messages the test sent (not of the DSNs sluice made)."""
    return {(e["message_id"], e["recipient"]): e["type"] for e in events
            if e["type"] in ("delivered", "bounced", "expired") and e["sender"] != ""}


class DeliveryTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=TMP)
        self.sluice = None
        self.receiver = None

    def tearDown(self):
        if self.sluice:
            self.sluice.kill()
        if self.receiver:
            self.receiver.stop()

    def start(self, fault=None, extra="", receiver_addresses=SITES, dsn_delay="4h",
              **receiver_args):
        self.receiver = FaultReceiver(receiver_addresses, port=0, config=fault or FaultConfig(),
                                      keep_data=True, **receiver_args).start()
        self.sluice = SluiceInstance(SLUICED, os.path.join(self.dir, "data"),
                                     config(self.receiver.port, extra, dsn_delay)).start()

    def test_delivers_to_every_site_over_starttls(self):
        self.start()
        expected = []
        for n in range(40):
            rcpts = [f"user{n}@d{(n * 7 + k) % 1000 + 1:04d}.test" for k in range(3)]
            self.sluice.send(SENDER, rcpts, message(n))
            expected += [(f"<m{n}@sender.test>", r) for r in rcpts]
        self.receiver.wait_for(lambda s: s["total"]["messages"] >= 120, 60)
        self.assertEqual(sorted(delivered_pairs(self.receiver)), sorted(expected))
        self.assertEqual({r["tls"] for r in self.receiver.messages()}, {"TLSv1.3"})
        # Every site got its share, each from sluice's own EHLO name.
        listeners = {r["listen"].split(":")[0] for r in self.receiver.messages()}
        self.assertEqual(listeners, set(SITES))
        self.assertEqual({r["helo"] for r in self.receiver.messages()}, {"sluice.test"})
        events = self.sluice.wait_events(
            lambda ev: sum(e["type"] == "delivered" for e in ev) == 120, what="120 deliveries")
        self.assertTrue(all(e["tls_version"] == "TLSv1.3" for e in events))
        self.assertEqual(self.sluice.metric("sluice_delivery_recipients_total",
                                            'result="delivered"'), 120)
        # Every connection did STARTTLS: the TLS share is 1.
        connections = self.sluice.metric("sluice_delivery_connections_total")
        self.assertGreater(connections, 0)
        self.assertEqual(self.sluice.metric("sluice_delivery_tls_connections_total"), connections)
        # The body arrived unchanged (dot-stuffing undone by the receiver).
        body = next(r["data"] for r in self.receiver.messages()
                    if r["message_id"] == "<m0@sender.test>")
        self.assertIn(b"\r\n.a line that starts with a dot\r\n", body)

    def test_bounce_sends_dsn_to_the_sender(self):
        self.start()
        self.sluice.send(SENDER, ["bounce1@d0002.test", "ok@d0002.test"], message(1))
        self.receiver.wait_for(lambda s: s["total"]["messages"] >= 2, 60)
        self.assertEqual(delivered_pairs(self.receiver), [("<m1@sender.test>", "ok@d0002.test")])
        [dsn] = dsns(self.receiver)
        [record] = [r for r in self.receiver.messages() if r["mail_from"] == ""]
        self.assertEqual(record["rcpts"], [SENDER])
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        self.assertEqual(dsn_status(dsn), {"bounce1@d0002.test": ("failed", "5.1.1")})
        self.assertIn("550 5.1.1", dsn.as_string())
        # The receiving server said it, so the diagnostic is typed smtp.
        self.assertRegex(dsn_diagnostics(dsn)["bounce1@d0002.test"], r"^smtp; 550 5\.1\.1 ")
        # The original message comes back with it.
        self.assertIn("Message-ID: <m1@sender.test>", dsn.as_string())

    def test_unroutable_domains_bounce_with_the_dns_reason(self):
        self.start()
        self.sluice.send(SENDER, ["a@nullmx0001.test", "b@nx0001.test"], message(2))
        self.receiver.wait_for(lambda s: s["total"]["messages"] >= 2, 60)
        statuses = {}
        diagnostics = {}
        for dsn in dsns(self.receiver):
            self.assertEqual(dsn.get_content_type(), "multipart/report")
            self.assertEqual(dsn.get_param("report-type"), "delivery-status")
            statuses.update(dsn_status(dsn))
            diagnostics.update(dsn_diagnostics(dsn))
        self.assertEqual(statuses, {"a@nullmx0001.test": ("failed", "5.1.10"),
                                    "b@nx0001.test": ("failed", "5.1.2")})
        # No SMTP server said these: sluice decided from DNS, and says so
        # with a diagnostic type of its own (RFC 3464 2.3.6), not "smtp;".
        self.assertRegex(diagnostics["a@nullmx0001.test"], r"^X-Sluice; 556 5\.1\.10 ")
        self.assertRegex(diagnostics["b@nx0001.test"], r"^X-Sluice; 550 5\.1\.2 ")
        # The operator's log says it too, with the recipient and the reason.
        line = self.sluice.wait_log(r'level=warning .*msg="bounced" .*recipient=b@nx0001\.test', 30)
        self.assertIn('reply="550 5.1.2 DNS: ', line)

    def test_null_sender_never_gets_a_dsn(self):
        self.start()
        self.sluice.send("", ["bounce1@d0003.test"], message(3))
        events = self.sluice.wait_events(lambda ev: any(e["type"] == "bounced" for e in ev),
                                         what="the bounce")
        self.assertEqual([e["type"] for e in events], ["bounced"])
        self.assertEqual(self.receiver.messages(), [])

    def test_deferred_recipients_are_retried_until_delivered(self):
        self.start(FaultConfig(seed=3, defer_first_fraction=0.3))
        expected = []
        for n in range(30):
            rcpts = [f"r{n}.{k}@d{n % 50 + 1:04d}.test" for k in range(2)]
            self.sluice.send(SENDER, rcpts, message(n))
            expected += [(f"<m{n}@sender.test>", r) for r in rcpts]
        self.sluice.wait_events(
            lambda ev: sum(e["type"] == "delivered" for e in ev) == 60, what="60 deliveries")
        self.assertEqual(sorted(delivered_pairs(self.receiver)), sorted(expected))
        deferred = [e for e in self.sluice.events() if e["type"] == "deferred"]
        self.assertGreater(len(deferred), 5)
        self.assertTrue(all(e["reply"].startswith("451 4.3.0") for e in deferred))
        line = self.sluice.wait_log(r'level=info .*msg="deferred" .*recipient=r', 30)
        self.assertRegex(line, r' site=\S+ remote=\S+\[127\.0\.0\.1[0-3]\] attempt=1 reply="451 4\.3\.0')

    def test_faults_end_delivered_once_or_bounced_with_a_dsn(self):
        fault = FaultConfig(seed=11, rcpt_4xx=0.15, rcpt_5xx=0.05, disconnect_in_data=0.1,
                            data_4xx=0.05, stalls=[Stall("rcpt", 3.0, 0.03)],
                            storms=[Storm("connect", 0.2)], local_rules={})
        self.start(fault)
        expected = set()
        for n in range(60):
            rcpts = [f"f{n}.{k}@d{n % 40 + 1:04d}.test" for k in range(2)]
            self.sluice.send(SENDER, rcpts, message(n))
            expected |= {(f"<m{n}@sender.test>", r) for r in rcpts}
        # Every recipient reaches a final state.
        events = self.sluice.wait_events(lambda ev: len(final_events(ev)) == 120, timeout=120,
                                         what="a final state for all 120 recipients")
        finals = final_events(events)
        # The receiver records a message just after its 250 went out, so it
        # may lag sluice's event by a moment.
        accepted = sum(kind == "delivered" for kind in finals.values())
        self.receiver.wait_for_records(lambda records: len(delivered_pairs(records)) >= accepted, 30)
        delivered = Counter(delivered_pairs(self.receiver))
        bounced = {rcpt for (_, rcpt), kind in finals.items() if kind == "bounced"}
        self.assertGreater(len(bounced), 0)
        # Delivered ones arrived exactly once; bounced ones never.
        self.assertTrue(all(count == 1 for count in delivered.values()), delivered)
        self.assertEqual(set(delivered) | {p for p in expected if p[1] in bounced}, expected)
        self.assertFalse({p[1] for p in delivered} & bounced)
        # Each bounce is reported to the sender in a DSN.
        self.receiver.wait_for_records(
            lambda records: any(r["mail_from"] == "" for r in records), 60)
        self.sluice.wait_events(
            lambda ev: sum(e["type"] == "dsn_failure" for e in ev) >= 1, what="DSN events")
        dsn_events = [e for e in self.sluice.events() if e["type"] == "dsn_failure"]
        reported = {r for e in dsn_events for r in e["dsn_recipients"]}
        self.assertEqual(reported, bounced)
        # The faults happened, and the storm's 421s slowed sites down.
        faults = self.receiver.stats()["faults"]
        for kind in ("rcpt_4xx", "rcpt_5xx", "disconnect_in_data", "storm_421"):
            self.assertGreater(faults.get(kind, 0), 0, kind)

    def test_failed_tls_handshake_falls_back_to_plaintext(self):
        self.start(FaultConfig(tls_fail="garbage"))
        self.sluice.send(SENDER, ["t@d0004.test"], message(4))
        self.receiver.wait_for(lambda s: s["total"]["messages"] >= 1, 60)
        [record] = self.receiver.messages()
        self.assertIsNone(record["tls"])
        self.assertGreater(self.receiver.stats()["faults"]["tls_fail"], 0)

    def test_required_tls_defers_when_starttls_is_missing(self):
        self.start(extra='tls = "required"', starttls=False)
        self.sluice.send(SENDER, ["t@d0005.test"], message(5))
        events = self.sluice.wait_events(lambda ev: any(e["type"] == "deferred" for e in ev),
                                         what="a deferral")
        self.assertEqual(events[0]["type"], "deferred")
        self.assertIn("TLS", events[0]["reply"])
        self.assertEqual(self.receiver.messages(), [])

    def test_verify_tls_defers_on_an_untrusted_certificate(self):
        self.start(extra='tls = "verify"')
        self.sluice.send(SENDER, ["t@d0006.test"], message(6))
        events = self.sluice.wait_events(lambda ev: any(e["type"] == "deferred" for e in ev),
                                         what="a deferral")
        self.assertIn("certificate", events[0]["reply"].lower())
        self.assertEqual(self.receiver.messages(), [])

    def test_fails_over_to_the_next_mx(self):
        # multi0001.test: MX 10 mx0 (127.0.0.10, nobody listening), MX 20 mx1.
        self.start(receiver_addresses=["127.0.0.11"])
        self.sluice.send(SENDER, ["m@multi0001.test"], message(7))
        self.receiver.wait_for(lambda s: s["total"]["messages"] >= 1, 60)
        [record] = self.receiver.messages()
        self.assertTrue(record["listen"].startswith("127.0.0.11:"))
        events = self.sluice.wait_events(lambda ev: any(e["type"] == "delivered" for e in ev))
        # Straight to the backup: the refused primary costs no deferral.
        self.assertEqual([e["type"] for e in events], ["delivered"])
        self.assertEqual(events[0]["remote_host"], "mx1.sites.test")
        # The log names the refused primary and that the next MX was tried.
        line = self.sluice.wait_log(r'msg="delivery connection failed"', 30)
        self.assertIn("remote=mx0.sites.test[127.0.0.10]", line)
        self.assertIn('next="next MX address"', line)

    def test_per_site_connection_limit_holds_over_1000_domains(self):
        self.start(extra="max_connections = 3\ninitial_connections = 3\n"
                   "max_messages_per_connection = 50")
        total = 2000
        errors = []

        def inject(first):
            try:
                host, port = self.sluice.relay
                with smtplib.SMTP(host, port, timeout=60) as client:
                    for n in range(first, total, 8):
                        client.sendmail(SENDER, [f"u{n}@d{n % 1000 + 1:04d}.test"], message(n))
            except Exception as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=inject, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        stats = self.receiver.wait_for(lambda s: s["total"]["messages"] >= total, 180)
        self.assertEqual(len(set(delivered_pairs(self.receiver))), total)
        for address, listener in stats["listeners"].items():
            self.assertLessEqual(listener["max_concurrent"], 3, address)
            self.assertGreaterEqual(listener["max_concurrent"], 2, address)
        # Connections were reused (max_messages_per_connection = 50).
        self.assertLess(stats["total"]["connections"], total / 10)

    def admin(self, method, path):
        host, port = self.sluice.http
        request = urllib.request.Request(f"http://{host}:{port}{path}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def test_suspended_domain_waits_until_resumed(self):
        self.start()
        self.assertEqual(self.admin("POST", "/api/v1/suspend?domain=d0007.test"),
                         {"suspended": {"domain": "d0007.test"}})
        self.sluice.send(SENDER, ["held@d0007.test"], message(1))
        self.sluice.send(SENDER, ["free@d0008.test"], message(2))
        self.receiver.wait_for_records(
            lambda records: ("<m2@sender.test>", "free@d0008.test") in delivered_pairs(records), 60)
        self.assertNotIn("held@d0007.test", [p[1] for p in delivered_pairs(self.receiver)])
        self.admin("POST", "/api/v1/resume?domain=d0007.test")
        self.receiver.wait_for_records(
            lambda records: ("<m1@sender.test>", "held@d0007.test") in delivered_pairs(records), 60)

    def test_delay_notice_once_for_notify_delay(self):
        self.start(extra="", dsn_delay="1s")
        host, port = self.sluice.relay
        with smtplib.SMTP(host, port, timeout=30) as client:
            client.ehlo("app.sender.test")
            self.assertTrue(client.has_extn("dsn"))
            client.sendmail(SENDER, ["defer1@d0010.test", "defer2@d0010.test"], message(4),
                            rcpt_options=["NOTIFY=DELAY,FAILURE"])
        self.receiver.wait_for_records(
            lambda records: any(r["mail_from"] == "" for r in records), 60)
        # Several more retries happen (1 s apart); the notice is sent once.
        self.sluice.wait_events(lambda ev: sum(e["type"] == "deferred" for e in ev) >= 8,
                                what="more deferrals")
        [dsn] = dsns(self.receiver)
        self.assertEqual(dsn_status(dsn), {"defer1@d0010.test": ("delayed", "4.3.0"),
                                           "defer2@d0010.test": ("delayed", "4.3.0")})
        self.assertIn("Delayed Mail", dsn["Subject"])

    def test_operator_bounce_sends_dsns_and_lists_sites(self):
        self.start()
        # "defer*" recipients get 451 forever: they stay queued.
        self.sluice.send(SENDER, ["defer1@d0009.test", "defer2@d0009.test"], message(3))
        self.sluice.wait_events(lambda ev: sum(e["type"] == "deferred" for e in ev) >= 2,
                                what="the deferrals")
        sites = self.admin("GET", "/api/v1/sites")["queues"]
        self.assertIn("mx:mx0.sites.test", [q["site"] for q in sites])
        self.assertEqual(self.admin("POST", "/api/v1/bounce?domain=d0009.test&reason=cleanup"),
                         {"bounced": 1})
        records = self.receiver.wait_for_records(
            lambda records: any(r["mail_from"] == "" for r in records), 60)
        [dsn] = dsns(self.receiver)
        self.assertEqual(dsn_status(dsn), {"defer1@d0009.test": ("failed", "5.0.0"),
                                           "defer2@d0009.test": ("failed", "5.0.0")})
        self.assertIn("cleanup", dsn.as_string())
        events = self.sluice.wait_events(
            lambda ev: sum(e["type"] == "bounced" for e in ev) == 2, what="two bounces")
        self.assertEqual(self.admin("POST", "/api/v1/bounce?domain=d0009.test"), {"bounced": 0})

    def test_egress_source_limit_holds_across_sites(self):
        self.start(extra="max_connections = 10\ninitial_connections = 10\n"
                   "max_messages_per_connection = 20\n\n"
                   "[[egress.sources]]\nname = \"lo\"\naddress = \"127.0.0.1\"\n"
                   "ehlo = \"lo.sluice.test\"\nmax_connections = 2\n\n"
                   "[[egress.pools]]\nname = \"default\"\nsources = [\"lo\"]\n")
        for n in range(200):
            self.sluice.send(SENDER, [f"s{n}@d{n % 40 + 1:04d}.test"], message(n))
        stats = self.receiver.wait_for(lambda s: s["total"]["messages"] >= 200, 120)
        self.assertEqual(len(set(delivered_pairs(self.receiver))), 200)
        # Four sites could open 40 connections; the source allows 2 at once.
        self.assertLessEqual(stats["total"]["max_concurrent"], 2)
        records = self.receiver.messages()
        self.assertEqual({r["helo"] for r in records}, {"lo.sluice.test"})
        self.assertEqual({r["peer"].rsplit(":", 1)[0] for r in records}, {"127.0.0.1"})

    def test_restart_in_a_deferred_backlog_delivers_everything(self):
        port = free_port()
        self.sluice = SluiceInstance(SLUICED, os.path.join(self.dir, "data"),
                                     config(port)).start()
        # Nobody listens yet: every attempt is refused and deferred.
        for n in range(100):
            self.sluice.send(SENDER, [f"b{n}@d{n % 100 + 1:04d}.test"], message(n))
        self.sluice.wait_events(
            lambda ev: len({e["message_id"] for e in ev if e["type"] == "deferred"}) == 100,
            what="100 deferrals")
        self.sluice.kill()  # a crash in the middle of the backlog
        self.receiver = FaultReceiver(SITES, port=port, keep_data=True).start()
        self.sluice.start()
        self.receiver.wait_for(lambda s: s["total"]["messages"] >= 100, 120)
        pairs = delivered_pairs(self.receiver)
        self.assertEqual(len(pairs), 100)
        self.assertEqual(len(set(pairs)), 100)
        self.sluice.stop()
        # A clean stop after that leaves nothing behind to deliver again.
        self.sluice.start()
        self.assertEqual(self.sluice.metric("sluice_delivery_scheduled_messages"), 0)

    def test_metrics_by_site_tenant_dns_and_loop_lag_pass_promtool(self):
        # At most two sites get their own series (four take mail); every
        # tenant does, from its first recipient.
        self.start(extra="\n[metrics]\nmax_sites = 2\nmax_tenants = 5\npromote_after = 1\n")
        for n in range(12):  # relayed, no tenant; d0001..d0012 cover the four sites
            self.sluice.send(SENDER, [f"m{n}@d{n + 1:04d}.test"], message(n))
        host, port = self.sluice.http
        injection = {"from": SENDER, "subject": "api", "text": "hello", "tenant": "acme",
                     "recipients": [{"email": f"api{k}@d{k + 21:04d}.test"} for k in range(6)]}
        request = urllib.request.Request(f"http://{host}:{port}/api/v1/messages",
                                         data=json.dumps(injection).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            self.assertEqual(len(json.loads(response.read())["accepted"]), 6)
        events = self.sluice.wait_events(
            lambda ev: sum(e["type"] == "delivered" for e in ev) == 18, what="18 deliveries")
        text = self.sluice.metrics()

        if shutil.which("promtool") is None:
            self.fail("promtool not found: install Debian's prometheus package")
        check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout.decode() + check.stderr.decode())

        samples = {}
        for line in text.splitlines():
            match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
            if match:
                labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
                samples[(match.group(1), labels)] = float(match.group(3))

        def series(name, **fixed):
            """{the labels other than `fixed`: value} of one family."""
            out = {}
            for (family, labels), value in samples.items():
                if family == name and set(fixed.items()) <= labels:
                    out[frozenset(labels - set(fixed.items()))] = value
            return out

        delivered = [e for e in events if e["type"] == "delivered"]
        per_site = Counter(e["site"] for e in delivered)
        self.assertGreaterEqual(len(per_site), 3, per_site)
        by_site = {dict(k)["site"]: v for k, v in
                   series("sluice_delivery_site_recipients_total", result="delivered").items()}
        own = set(by_site) - {"other"}
        self.assertEqual(len(own), 2, by_site)
        self.assertLessEqual(own, set(per_site))
        # A site is owned by one shard, so with promote_after = 1 a promoted
        # site counted every recipient in its own series; the rest is "other".
        for site in own:
            self.assertEqual(by_site[site], per_site[site], site)
        self.assertEqual(by_site["other"], sum(per_site[s] for s in per_site if s not in own))
        self.assertEqual(self.sluice.metric("sluice_delivery_recipients_total",
                                            'result="delivered"'), 18)

        by_tenant = {dict(k)["tenant"]: v for k, v in
                     series("sluice_delivery_tenant_recipients_total", result="delivered").items()}
        self.assertEqual(by_tenant, {"acme": 6, "none": 12, "other": 0})
        received = {(dict(k)["listener"], dict(k)["tenant"]): v for k, v in
                    series("sluice_messages_received_total").items() if v > 0}
        http_messages = self.sluice.metric("sluice_http_messages_accepted_total")
        self.assertGreater(http_messages, 0)
        self.assertEqual(received, {("relay", "none"): 12, ("http", "acme"): http_messages})

        # DNS: the MX questions went to NSD and answered; later ones came
        # from the cache.
        self.assertGreaterEqual(samples[("sluice_dns_queries_total",
                                         frozenset({("type", "mx"), ("result", "ok")}))], 1)
        cache = series("sluice_dns_cache_lookups_total")
        self.assertGreater(cache[frozenset({("result", "miss")})], 0)
        self.assertGreater(cache[frozenset({("result", "hit")})], 0)

        # Loop lag: each shard's probe ran (every 100 ms) and saw no stall
        # of a second.
        for shard in ("0", "1"):
            count = samples[("sluice_reactor_loop_lag_seconds_count",
                             frozenset({("shard", shard)}))]
            total = samples[("sluice_reactor_loop_lag_seconds_sum",
                             frozenset({("shard", shard)}))]
            self.assertGreater(count, 0, shard)
            self.assertLess(total / count, 1.0, shard)


if __name__ == "__main__":
    unittest.main(verbosity=2)
