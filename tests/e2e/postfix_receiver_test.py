"""End-to-end delivery into Postfix: sluiced delivers to a real Postfix
(Debian's package, nobody here wrote it) acting as the destination MTA.

DNS is NSD with a generated zone (tools/testbed/dns_zone.py): d0001.test ...
d0006.test and sender.test, all MX mx0.sites.test = 127.0.0.20. Postfix
(tools/postfix_instance.py) listens on 127.0.0.20 and sluice's mx_port,
accepts a fixed list of mailboxes in those domains (others: 550 5.1.1) and
its virtual(8) agent files every message into a Maildir. Each test starts its
own Postfix and sluiced; outcomes are read from the Maildirs and from
sluiced's events.jsonl.

A missing Postfix is a failure, not a skip. Run by run_python_test.sh with the
runfiles root as the first argument; needs root (Postfix runs as a private
instance under /var/tmp).
"""

import email
import email.policy
import hashlib
import os
import shutil
import sys
import tempfile
import unittest
from collections import Counter

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tools"))

from tools.testbed.dns_zone import NsdServer, generate  # noqa: E402
from tools.testbed.sluice_instance import SluiceInstance, delivery_toml, wait_until  # noqa: E402,E501
from postfix_instance import PostfixInstance  # noqa: E402

SLUICED = os.path.join(ROOT, "server", "sluiced")
MX_ADDRESS = "127.0.0.20"
DOMAINS = [f"d{i:04d}.test" for i in range(1, 7)]
SENDER = "app@sender.test"
TMP = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()

dns = None


def setUpModule():
    global dns
    for program in ("/usr/sbin/postfix", "/usr/sbin/postconf"):
        if not os.access(program, os.X_OK):
            raise AssertionError(f"{program} not found: install Debian's 'postfix' package")
    zone, _ = generate(domains=len(DOMAINS), sites=1, base_ip=20)
    zone.mx("sender.test", 10, "mx0.sites.test")  # DSNs come back to Postfix too
    dns = NsdServer([zone])
    dns.start()


def tearDownModule():
    dns.stop()


def body(n):
    """A body of its own per message, with lines SMTP must escape."""
    lines = [f"Body of message {n}."]
    lines += [f"line {k} of message {n}: {hashlib.sha256(f'{n}.{k}'.encode()).hexdigest()}"
              for k in range(20)]
    lines += [".a line that starts with a dot", ".", "..", "From the start of a line", "end"]
    return "\r\n".join(lines) + "\r\n"


def message(n, rcpts):
    return (f"From: {SENDER}\r\nTo: {', '.join(rcpts)}\r\nSubject: postfix {n}\r\n"
            f"Message-ID: <p{n}@sender.test>\r\n\r\n{body(n)}").encode()


def body_digest(text):
    """sha256 of a body with its line ends normalised (Maildir files use LF)."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def config(port):
    return delivery_toml(dns.address, port, limits='tls = "opportunistic"\n')


def final_events(events):
    return [e for e in events
            if e["type"] in ("delivered", "bounced", "expired") and e["sender"] != ""]


class PostfixReceiverTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=TMP)
        # Not under TEST_TMPDIR: Postfix's daemons (user postfix) and its
        # virtual agent (user nobody) must reach their folders.
        self.work = tempfile.mkdtemp(prefix="sluice-postfix-receiver-", dir="/var/tmp")
        self.postfix = None
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
        if self.postfix:
            self.postfix.stop()
            outputs = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")
            if outputs and os.path.exists(self.maillog):
                shutil.copy(self.maillog, os.path.join(outputs, self.id() + ".maillog"))
        shutil.rmtree(self.work, ignore_errors=True)

    def start(self, mailboxes, tls=False):
        self.maillog = os.path.join(self.work, "maillog")
        self.postfix = PostfixInstance(self.work, address=MX_ADDRESS, mailboxes=mailboxes,
                                       tls=tls, maillog=self.maillog)
        self.postfix.start()
        self.sluice = SluiceInstance(SLUICED, os.path.join(self.dir, "data"),
                                     config(self.postfix.port)).start()

    def maillog_tail(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return "".join(f.readlines()[-30:])
        except OSError:
            return "(no maillog)"

    def wait_postfix_delivered(self, count, timeout=60):
        """Until `count` messages are in the Maildirs and Postfix's queue is
        empty (nothing more on its way)."""
        def done():
            queued = sum(self.postfix.queue_count(q) for q in ("incoming", "active", "deferred"))
            return self.postfix.delivered_count() >= count and queued == 0
        try:
            wait_until(done, timeout, f"{count} messages in Postfix's Maildirs")
        except AssertionError as error:
            raise AssertionError(f"{error}; {self.postfix.delivered_count()} delivered; "
                                 f"Postfix log:\n{self.maillog_tail()}") from None

    def send_batch(self, count):
        """`count` messages, each to 1-3 recipients over every domain;
        returns {recipient: {Message-ID: body digest}}."""
        expected = {}
        for n in range(count):
            # The first two share a domain (one transaction), the third not.
            rcpts = [f"user{(n + k) % 7}@{DOMAINS[(n * 5 + k // 2) % len(DOMAINS)]}"
                     for k in range(n % 3 + 1)]
            self.sluice.send(SENDER, rcpts, message(n, rcpts))
            for rcpt in rcpts:
                expected.setdefault(rcpt, {})[f"<p{n}@sender.test>"] = body_digest(body(n))
        return expected

    def check_mailboxes(self, expected):
        """Every recipient's Maildir holds exactly its messages, once each,
        with the bodies as sent; returns the parsed messages."""
        messages = []
        for rcpt, wanted in expected.items():
            got = [parse(raw) for raw in self.postfix.mailbox(rcpt)]
            ids = Counter(m["Message-ID"] for m in got)
            self.assertEqual(ids, Counter(wanted.keys()), rcpt)
            for m in got:
                self.assertEqual(m["Delivered-To"], rcpt)
                self.assertEqual(m["Return-Path"], f"<{SENDER}>")
                self.assertEqual(body_digest(m.get_payload()), wanted[m["Message-ID"]],
                                 f"body of {m['Message-ID']} for {rcpt}")
            messages += got
        self.assertEqual(self.postfix.delivered_count(), len(messages))
        return messages

    def all_recipients(self):
        return [f"user{u}@{d}" for u in range(7) for d in DOMAINS] + [SENDER]

    def test_delivers_every_message_once_into_the_right_maildir(self):
        self.start(self.all_recipients())
        expected = self.send_batch(60)
        total = sum(len(v) for v in expected.values())
        events = self.sluice.wait_events(
            lambda ev: len(final_events(ev)) >= total, what=f"{total} final events")
        self.assertEqual(Counter(e["type"] for e in final_events(events)), {"delivered": total})
        self.assertEqual({e["remote_ip"] for e in final_events(events)}, {MX_ADDRESS})
        self.wait_postfix_delivered(total)
        messages = self.check_mailboxes(expected)
        # No STARTTLS offered: plain SMTP on both sides.
        self.assertTrue(all(e["tls_version"] == "" for e in final_events(events)))
        for m in messages:
            received = m.get_all("Received")[0]
            self.assertIn("by postfix.test.example (Postfix) with ESMTP id", received)
            self.assertRegex(received, r"^from sluice\.test \(\S+ \[127\.0\.0\.1\]\)")
            self.assertNotIn("using TLS", received)

    def test_delivers_over_starttls(self):
        self.start(self.all_recipients(), tls=True)
        expected = self.send_batch(30)
        total = sum(len(v) for v in expected.values())
        events = self.sluice.wait_events(
            lambda ev: len(final_events(ev)) >= total, what=f"{total} final events")
        self.assertEqual(Counter(e["type"] for e in final_events(events)), {"delivered": total})
        versions = {e["tls_version"] for e in final_events(events)}
        self.assertTrue(versions and versions <= {"TLSv1.3", "TLSv1.2"}, versions)
        self.wait_postfix_delivered(total)
        for m in self.check_mailboxes(expected):
            received = m.get_all("Received")[0]
            self.assertIn("with ESMTPS id", received)
            # Postfix names the protocol it negotiated, one sluice logged.
            version = received.split("(using ", 1)[1].split(" ", 1)[0]
            self.assertIn(version, versions, received)

    def test_unknown_recipient_bounces_with_a_dsn_to_the_sender(self):
        self.start(["ok@d0001.test", "other@d0002.test", SENDER])
        rcpts = ["ok@d0001.test", "nosuch@d0002.test"]
        self.sluice.send(SENDER, rcpts, message(1, rcpts))
        events = self.sluice.wait_events(
            lambda ev: len(final_events(ev)) >= 2 and any(e["type"] == "dsn_failure" for e in ev),
            what="a delivery, a bounce and its DSN")
        outcome = {e["recipient"]: e for e in final_events(events)}
        self.assertEqual(outcome["ok@d0001.test"]["type"], "delivered")
        bounce = outcome["nosuch@d0002.test"]
        self.assertEqual(bounce["type"], "bounced")
        self.assertTrue(bounce["reply"].startswith("550 5.1.1"), bounce["reply"])
        self.assertIn("User unknown in virtual mailbox table", bounce["reply"])
        # The message itself once, and the DSN, both in Postfix's Maildirs.
        self.wait_postfix_delivered(2)
        [delivered] = self.postfix.mailbox("ok@d0001.test")
        self.assertEqual(parse(delivered)["Message-ID"], "<p1@sender.test>")
        self.assertEqual(self.postfix.mailbox("other@d0002.test"), [])
        [raw] = self.postfix.mailbox(SENDER)
        dsn = parse(raw)
        self.assertEqual(dsn["Return-Path"], "<>")  # a DSN has the null sender
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        self.assertEqual(dsn.get_param("report-type"), "delivery-status")
        [status] = [p for p in dsn.walk() if p.get_content_type() == "message/delivery-status"]
        blocks = status.get_payload()
        recipients = [b for b in blocks if b.get("Final-Recipient")]
        self.assertEqual(len(recipients), 1)
        [block] = recipients
        self.assertEqual(block["Final-Recipient"].split(";", 1)[1].strip(), "nosuch@d0002.test")
        self.assertEqual(block["Action"].strip(), "failed")
        self.assertRegex(block["Status"].strip(), r"^5\.\d+\.\d+$")
        self.assertEqual(block["Status"].strip(), "5.1.1")
        self.assertIn("550 5.1.1", block["Diagnostic-Code"])
        # The original comes back with it; the delivered recipient is not reported.
        self.assertIn("Message-ID: <p1@sender.test>", dsn.as_string())
        self.assertNotIn("ok@d0001.test", str(status))


if __name__ == "__main__":
    unittest.main(verbosity=2)
