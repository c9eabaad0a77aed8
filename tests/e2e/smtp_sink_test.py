"""End-to-end delivery into Postfix's smtp-sink(1), a receiver nobody here
wrote, on loopback MX addresses found through real DNS.

DNS is NSD with a generated zone (tools/testbed/dns_zone.py): d0001.test ...
d0012.test over three sites, mx<k>.sites.test = 127.0.0.<30+k>, and
sender.test on mx0 (where DSNs go). One smtp-sink per site address, all on
sluice's mx_port:
  127.0.0.30  accepts everything, dumping each transaction to a file (-d)
  127.0.0.31  rejects every RCPT hard (-f RCPT -B "550 5.1.1 ...")
  127.0.0.32  rejects every RCPT soft (-r RCPT -b "450 4.2.1 ...")
Outcomes are read from the dump files (X-Mail-Args, X-Rcpt-Args, the
message) and from sluiced's events.jsonl.

A missing smtp-sink (Debian package postfix) is a failure, not a skip. Run by
run_python_test.sh with the runfiles root as the first argument; needs root
(smtp-sink drops to the user nobody with -u).
"""

import os
import shutil
import smtplib
import sys
import tempfile
import threading
import unittest
from collections import Counter

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tools"))

from tools.testbed.dns_zone import NsdServer, free_port, generate  # noqa: E402
from tools.testbed.sluice_instance import SluiceInstance, delivery_toml, wait_until  # noqa: E402,E501
from tools.testbed.smtp_sink import SMTP_SINK, SmtpSink  # noqa: E402

SLUICED = os.path.join(ROOT, "server", "sluiced")
SITES = ["127.0.0.30", "127.0.0.31", "127.0.0.32"]
# generate(): domain i is on site (i - 1) % 3.
SITE_DOMAINS = [[f"d{i:04d}.test" for i in range(1, 13) if (i - 1) % 3 == k] for k in range(3)]
SENDER = "app@sender.test"
TMP = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()

dns = None


def setUpModule():
    global dns
    if not os.access(SMTP_SINK, os.X_OK):
        raise AssertionError(f"{SMTP_SINK} not found: install Debian's 'postfix' package")
    zone, _ = generate(domains=12, sites=3, base_ip=30)
    zone.mx("sender.test", 10, "mx0.sites.test")
    dns = NsdServer([zone])
    dns.start()


def tearDownModule():
    dns.stop()



def delivered_pairs(sink):
    """(Message-ID, recipient) for every recipient of every dumped message,
    DSNs (null sender) left out."""
    return [(t["message"]["Message-ID"], rcpt) for t in sink.transactions()
            if t["mail_from"] != "" for rcpt in t["rcpts"]]


def message(n, rcpts):
    return (f"From: {SENDER}\r\nTo: {', '.join(rcpts)}\r\nSubject: sink {n}\r\n"
            f"Message-ID: <s{n}@sender.test>\r\n\r\nBody of message {n}.\r\n"
            ".a line that starts with a dot\r\n").encode()


def config(port):
    return delivery_toml(dns.address, port, delivery='host_failure_backoff = "1s"\n',
                         limits='tls = "opportunistic"\n')


def finals(events):
    """{recipient: final event} of the test's messages (not of DSNs)."""
    return {e["recipient"]: e for e in events
            if e["type"] in ("delivered", "bounced", "expired") and e["sender"] != ""}


class SmtpSinkTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=TMP)
        self.work = tempfile.mkdtemp(prefix="sluice-smtp-sink-", dir="/var/tmp")
        os.chmod(self.work, 0o755)  # smtp-sink runs as nobody
        self.port = free_port()
        self.sinks = []
        self.sluice = None

    def tearDown(self):
        try:
            if self.sluice:
                self.stop_sluice()
        finally:
            self.clean_up()

    def stop_sluice(self):
        """A clean stop (SIGTERM, exit status 0): under ASan its leak check
        and any report at exit fail the test (SluiceInstance.stop)."""
        self.sluice.stop()

    def clean_up(self):
        for sink in self.sinks:
            sink.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def sink(self, address, options=(), dump=True):
        sink = SmtpSink(self.work, address, self.port, options, dump)
        self.sinks.append(sink)
        return sink

    def start_sluice(self):
        self.sluice = SluiceInstance(SLUICED, os.path.join(self.dir, "data"),
                                     config(self.port)).start()

    def inject(self, messages, threads=4):
        """Relays [(recipients, bytes)] over `threads` SMTP connections."""
        errors = []

        def run(first):
            try:
                host, port = self.sluice.relay
                with smtplib.SMTP(host, port, timeout=60) as client:
                    for rcpts, data in messages[first::threads]:
                        refused = client.sendmail(SENDER, rcpts, data)
                        if refused:
                            errors.append(refused)
            except Exception as error:  # reported below
                errors.append(error)

        workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self.assertEqual(errors, [])

    def test_500_messages_over_four_domains_arrive_once_each(self):
        sink = self.sink(SITES[0])
        self.start_sluice()
        total = 500
        expected = []
        messages = []
        for n in range(total):
            rcpt = f"u{n}@{SITE_DOMAINS[0][n % 4]}"
            messages.append(([rcpt], message(n, [rcpt])))
            expected.append((f"<s{n}@sender.test>", rcpt))
        self.inject(messages)
        events = self.sluice.wait_events(lambda ev: len(finals(ev)) >= total, timeout=120,
                                         what=f"{total} final events")
        self.assertEqual(Counter(e["type"] for e in finals(events).values()),
                         {"delivered": total})
        delivered_events = [e for e in events if e["type"] == "delivered"]
        self.assertEqual(len(delivered_events), total)  # each once, none twice
        self.assertEqual({e["remote_ip"] for e in delivered_events}, {SITES[0]})
        self.assertEqual({e["domain"] for e in delivered_events}, set(SITE_DOMAINS[0]))
        # smtp-sink wrote one dump per transaction before its 250.
        wait_until(lambda: sink.file_count() >= total, 30, f"{total} dump files")
        pairs = delivered_pairs(sink)
        self.assertEqual(len(pairs), total)
        self.assertEqual(Counter(pairs), Counter(expected))
        for t in sink.transactions():
            self.assertEqual(t["mail_from"], SENDER)
            self.assertIn("\n.a line that starts with a dot\n", t["message"].get_payload())
            self.assertIn("from sluice.test ([127.0.0.1])", t["message"]["Received"])

    def test_rejected_recipients_bounce_or_wait_and_then_arrive(self):
        accepting = self.sink(SITES[0])
        self.sink(SITES[1], ["-f", "RCPT", "-B", "550 5.1.1 No such user here"], dump=False)
        soft = self.sink(SITES[2], ["-r", "RCPT", "-b", "450 4.2.1 Mailbox busy, try later"],
                         dump=False)
        self.start_sluice()
        count = 30
        messages = []
        by_site = [set(), set(), set()]
        for n in range(count):
            # One recipient on every site per message.
            rcpts = [f"r{n}@{SITE_DOMAINS[k][n % 4]}" for k in range(3)]
            messages.append((rcpts, message(n, rcpts)))
            for k, rcpt in enumerate(rcpts):
                by_site[k].add(rcpt)
        self.inject(messages, threads=2)

        # Site 0 delivers, site 1 bounces, site 2 defers again and again.
        def settled(events):
            done = finals(events)
            retried = Counter(e["recipient"] for e in events if e["type"] == "deferred")
            dsns = [e for e in events if e["type"] == "dsn_failure"]
            reported = {r for e in dsns for r in e["dsn_recipients"]}
            dsns_delivered = sum(e["type"] == "delivered" and e["sender"] == "" for e in events)
            return (len(done) >= 2 * count and all(retried[r] >= 2 for r in by_site[2])
                    and reported >= by_site[1] and dsns_delivered >= len(dsns))
        events = self.sluice.wait_events(settled, timeout=120,
                                         what="deliveries, bounces and repeated deferrals")
        done = finals(events)
        self.assertEqual({r for r, e in done.items() if e["type"] == "delivered"}, by_site[0])
        self.assertEqual({r for r, e in done.items() if e["type"] == "bounced"}, by_site[1])
        for rcpt in by_site[1]:
            self.assertEqual(done[rcpt]["reply"], "550 5.1.1 No such user here")
        deferred = [e for e in events if e["type"] == "deferred"]
        self.assertEqual({e["recipient"] for e in deferred}, by_site[2])
        self.assertTrue(all(e["reply"] == "450 4.2.1 Mailbox busy, try later"
                            for e in deferred), deferred[:3])
        wait_until(lambda: len(delivered_pairs(accepting)) >= count, 30, "site 0's messages")
        self.assertEqual(Counter(r for _, r in delivered_pairs(accepting)),
                         Counter(by_site[0]))

        # The hard rejections come back to the sender in DSNs on site 0
        # (sluice's events say they were delivered there).
        def reported():
            failed = {}
            for t in accepting.transactions():
                if t["mail_from"] != "":
                    continue
                self.assertEqual(t["rcpts"], [SENDER])
                for part in t["message"].walk():
                    if part.get_content_type() != "message/delivery-status":
                        continue
                    for block in part.get_payload():
                        if block.get("Final-Recipient"):
                            rcpt = block["Final-Recipient"].split(";", 1)[1].strip()
                            failed.setdefault(rcpt, []).append(
                                (block["Action"].strip(), block["Status"].strip()))
            return failed if set(failed) >= by_site[1] else None
        failed = wait_until(reported, 60, "DSNs for every hard rejection")
        for rcpt in by_site[1]:
            self.assertEqual(failed[rcpt], [("failed", "5.1.1")], rcpt)
        # The soft-rejected ones are not reported as failed.
        self.assertFalse({r for r, reports in failed.items()
                          if ("failed", "5.1.1") in reports} & by_site[2])

        # Site 2 recovers: a sink that accepts on the same address and port.
        soft.stop()
        self.sinks.remove(soft)
        recovered = self.sink(SITES[2])
        events = self.sluice.wait_events(lambda ev: len(finals(ev)) >= 3 * count, timeout=120,
                                         what="delivery of the deferred recipients")
        done = finals(events)
        self.assertEqual({r for r, e in done.items() if e["type"] == "delivered"},
                         by_site[0] | by_site[2])
        wait_until(lambda: len(delivered_pairs(recovered)) >= count, 30, "site 2's messages")
        self.assertEqual(Counter(r for _, r in delivered_pairs(recovered)), Counter(by_site[2]))
        self.assertEqual(len(delivered_pairs(accepting)), count)  # nothing sent twice


if __name__ == "__main__":
    unittest.main(verbosity=2)
