"""DKIM through the whole path: mail relayed into sluiced is signed before
the spool commit, delivered to Postfix's smtp-sink(1), and the message as
it arrives verifies with dkimpy (Debian's python3-dkim) and OpenDKIM's test
mode (Debian's opendkim), both given the published keys directly; mail
injected over the HTTP API is signed the same way. One-click unsubscribe
(RFC 8058), the other half of the bulk-sender rules: the List-Unsubscribe
URL sluice generates is covered by both signatures, and curl POSTing to it
records an unsubscribe event; a forged token is refused, a GET only shows
a confirmation page. An RSA
and an Ed25519 key for example.com dual-sign; mail from a domain without a
key goes out unsigned; a SIGHUP whose key file is missing keeps the running
keys.

Delivery goes by a static route ([[dns.routes]]) to smtp-sink on
127.0.0.40. Keys and their TXT records come from sluice-dkim keygen. Run by
run_python_test.sh with the runfiles root as the first argument; needs root
(smtp-sink drops to the user nobody with -u).
"""

import email
import email.policy
import json
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import unittest
import urllib.request

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tools"))

from tools.testbed.dns_zone import free_port  # noqa: E402
from tools.testbed.sluice_instance import SluiceInstance, delivery_toml  # noqa: E402
from tools.testbed.smtp_sink import SMTP_SINK, SmtpSink  # noqa: E402

SLUICED = os.path.join(ROOT, "server", "sluiced")
TOOL = os.path.join(ROOT, "mail", "sluice-dkim")
OPENDKIM = "/usr/sbin/opendkim"
SINK = "127.0.0.40"

try:
    import dkim  # Debian's python3-dkim
except ImportError:
    dkim = None


class DkimDeliveryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for path, package in ((SMTP_SINK, "postfix"), (OPENDKIM, "opendkim")):
            if not os.access(path, os.X_OK):
                raise AssertionError(f"{path} not found: install Debian's '{package}' package")
        if dkim is None:
            raise AssertionError("python3 lacks dkim: install Debian's 'python3-dkim' package")
        # Not under TEST_TMPDIR, whose parents the user nobody may not
        # traverse: smtp-sink drops to nobody and writes the dump here.
        cls.work = tempfile.mkdtemp(prefix="sluice-dkim-", dir="/var/tmp")
        os.chmod(cls.work, 0o755)
        cls.records = {}
        for selector, algorithm in (("rsa", "rsa"), ("ed", "ed25519")):
            out = subprocess.run(
                [TOOL, "keygen", f"--algorithm={algorithm}", f"--out={cls.work}/{selector}.pem",
                 "--domain=example.com", f"--selector={selector}"],
                check=True, capture_output=True, text=True).stdout
            cls.records[f"{selector}._domainkey.example.com"] = \
                out.split(" IN TXT ", 1)[1].strip().strip('"')
        with open(f"{cls.work}/keys", "w") as f:
            for name, record in cls.records.items():
                f.write(f"{name} {record}\n")
        with open(f"{cls.work}/opendkim.conf", "w") as f:
            f.write(f"Mode v\nSyslog no\nTestPublicKeys {cls.work}/keys\n")

        cls.port = free_port()
        cls.sink = SmtpSink(cls.work, SINK, cls.port)
        cls.keys_toml = "".join(f"""
[[dkim.keys]]
domain = "example.com"
selector = "{selector}"
key_file = "{cls.work}/{selector}.pem"
""" for selector in ("rsa", "ed"))
        secret = os.path.join(cls.work, "unsubscribe.key")
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(os.urandom(32))
        cls.keys_toml += f"""
[unsubscribe]
secret_file = "{secret}"
base_url = "https://mail.example.com"
"""
        cls.routes = f"""
[[dns.routes]]
domain = "example.net"
hosts = ["{SINK}:{cls.port}"]
"""
        cls.sluice = SluiceInstance(
            SLUICED, os.path.join(cls.work, "data"),
            delivery_toml("127.0.0.1:1", cls.port, extra=cls.routes + cls.keys_toml))
        cls.sluice.start()

    @classmethod
    def tearDownClass(cls):
        cls.sluice.stop()
        cls.sink.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def arrived(self, message_id):
        """The message with `message_id` as smtp-sink wrote it."""
        return self.sink.wait_for_dump(message_id.encode())

    def dkimpy(self, raw):
        records = {name.encode() + b".": record.encode() for name, record in self.records.items()}
        verifier = dkim.DKIM(raw)
        count = len([h for h in email.message_from_bytes(raw).get_all("DKIM-Signature", [])])
        return [verifier.verify(idx=i, dnsfunc=lambda n, timeout=5: records.get(n))
                for i in range(count)]

    def opendkim(self, raw):
        path = os.path.join(self.work, "arrived.eml")
        with open(path, "wb") as f:
            f.write(raw)
        run = subprocess.run([OPENDKIM, "-x", f"{self.work}/opendkim.conf", "-vv", "-t", path],
                             capture_output=True, text=True)
        return re.findall(r"verification \(s=(\w+),.*?\) (\w+)", run.stdout + run.stderr)

    def relay(self, sender, message_id):
        message = (f"From: News <{sender}>\r\nTo: rcpt@example.net\r\nSubject: Weekly\r\n"
                   f"Message-ID: <{message_id}>\r\nDate: Thu, 03 Dec 2026 20:00:00 +0000\r\n"
                   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                   ".a dot-stuffed line\r\nGrüße,  the   team \r\n\r\n").encode()
        self.sluice.send(sender, ["rcpt@example.net"], message)

    def test_relayed_mail_arrives_dual_signed_and_verifies(self):
        self.relay("news@example.com", "m1@example.com")
        raw = self.arrived("m1@example.com")
        signatures = email.message_from_bytes(raw, policy=email.policy.compat32).get_all(
            "DKIM-Signature")
        self.assertEqual(len(signatures), 2, raw[:2000])
        self.assertEqual(sorted(re.search(r"a=([\w-]+)", s).group(1) for s in signatures),
                         ["ed25519-sha256", "rsa-sha256"])
        self.assertEqual(self.dkimpy(raw), [True, True])
        # OpenDKIM reports the first signature it checks.
        self.assertIn(self.opendkim(raw)[0][1], ["succeeded"])
        self.assertGreaterEqual(
            self.sluice.metric("sluice_dkim_signatures_total",
                               'algorithm="ed25519-sha256",domain="other"') +
            self.sluice.metric("sluice_dkim_signatures_total",
                               'algorithm="ed25519-sha256",domain="example.com"'), 1)

    def test_http_injected_mail_is_signed_per_recipient_body(self):
        # Substitutions make one body per recipient: each is signed on its own.
        request = {"from": "News <news@example.com>", "subject": "Code {{code}}",
                   "text": "Your code is {{code}}.",
                   "recipients": [{"email": f"r{i}@example.net",
                                   "substitutions": {"code": f"C{i}-http"}} for i in range(3)]}
        answer = self.inject(request)
        self.assertEqual(len(answer["accepted"]), 3, answer)
        for i in range(3):
            raw = self.arrived(f"C{i}-http")
            self.assertEqual(self.dkimpy(raw), [True, True], raw[:2000])

    def inject(self, request):
        host, port = self.sluice.http
        call = urllib.request.Request(f"http://{host}:{port}/api/v1/messages",
                                      data=json.dumps(request).encode(), method="POST",
                                      headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(call, timeout=30) as response:
            return json.loads(response.read())

    def curl(self, path, *args):
        host, port = self.sluice.http
        run = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args,
                              f"http://{host}:{port}{path}"],
                             capture_output=True, text=True, timeout=30)
        body, _, status = run.stdout.rpartition("\n")
        return int(status), body

    def test_one_click_unsubscribe_is_signed_and_posting_it_records_the_event(self):
        answer = self.inject({"from": "News <news@example.com>", "subject": "Weekly",
                              "text": "News of the week (oc-1).", "tenant": "acme",
                              "campaign": "weekly", "unsubscribe": "one-click",
                              "recipients": [{"email": "reader@example.net"}]})
        self.assertEqual(len(answer["accepted"]), 1, answer)
        raw = self.arrived("oc-1")
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.assertEqual(message["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        url = re.fullmatch(r"<(https://mail\.example\.com(/unsubscribe/[\w.-]+))>",
                           message["List-Unsubscribe"])
        self.assertIsNotNone(url, message["List-Unsubscribe"])
        for signature in message.get_all("DKIM-Signature"):
            signed = re.search(r"h=([^;]+)", signature).group(1).replace(" ", "").lower()
            self.assertIn("list-unsubscribe:list-unsubscribe-post", re.sub(r"\s", "", signed))
        self.assertEqual(self.dkimpy(raw), [True, True])

        path = url.group(2)
        # What a mail client's link scanner does: nothing happens.
        status, page = self.curl(path)
        self.assertEqual(status, 200)
        self.assertIn("reader@example.net", page)
        # A forged token: refused.
        forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
        self.assertEqual(self.curl(forged, "-d", "List-Unsubscribe=One-Click")[0], 400)
        # What Gmail and Yahoo do (RFC 8058 section 3.2).
        status, _ = self.curl(path, "-d", "List-Unsubscribe=One-Click")
        self.assertEqual(status, 200)
        events = self.sluice.wait_events(
            lambda es: [e for e in es if e.get("type") == "unsubscribe"], 30, "unsubscribe event")
        unsubscribes = [e for e in events if e.get("type") == "unsubscribe"]
        self.assertEqual(len(unsubscribes), 1, unsubscribes)
        self.assertEqual({k: unsubscribes[0][k] for k in ("tenant", "recipient", "campaign")},
                         {"tenant": "acme", "recipient": "reader@example.net",
                          "campaign": "weekly"})
        self.assertEqual(self.sluice.metric("sluice_unsubscribes_total"), 1)
        # The 200 came once the recipient was on the tenant's suppression
        # list; other tenants may still mail it.
        status, body = self.curl("/api/v1/suppressions/check?tenant=acme&address=reader@example.net")
        self.assertEqual(status, 200, body)
        entry = json.loads(body)["entry"]
        self.assertEqual((entry["tenant"], entry["source"]), ("acme", "unsubscribe"))
        self.assertEqual(entry["reason"], "one-click unsubscribe, campaign weekly")
        status, body = self.curl("/api/v1/suppressions/check?tenant=other&address=reader@example.net")
        self.assertEqual(json.loads(body), {"suppressed": False, "entry": None})
        answer = self.inject({"from": "News <news@example.com>", "subject": "Weekly",
                              "text": "Again.", "tenant": "acme",
                              "recipients": [{"email": "reader@example.net"},
                                             {"email": "other@example.net"}]})
        self.assertEqual([r["email"] for r in answer["rejected"]], ["reader@example.net"])
        self.assertTrue(answer["rejected"][0]["reason"].startswith("suppressed: unsubscribe on "))

    def test_a_trusted_smtp_submitter_asks_for_one_click_with_a_header(self):
        message = ("From: News <news@example.com>\r\nTo: one@example.net\r\n"
                   "Subject: Weekly\r\nX-Sluice-Unsubscribe: one-click\r\n"
                   "Message-ID: <smtp-oc@example.com>\r\n\r\nHello (smtp-oc).\r\n").encode()
        self.sluice.send("news@example.com", ["one@example.net"], message)
        raw = self.arrived("smtp-oc")
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.assertIsNone(parsed["X-Sluice-Unsubscribe"])
        self.assertRegex(parsed["List-Unsubscribe"],
                         r"^<https://mail\.example\.com/unsubscribe/[\w.-]+>$")
        self.assertEqual(parsed["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertEqual(self.dkimpy(raw), [True, True])
        # One URL names one recipient: a message for two is refused whole.
        with self.assertRaises(smtplib.SMTPDataError) as refused:
            self.sluice.send("news@example.com", ["one@example.net", "two@example.net"],
                             message)
        self.assertEqual(refused.exception.smtp_code, 550)
        self.assertIn(b"one recipient per message", refused.exception.smtp_error)

    def test_mail_from_a_domain_without_a_key_goes_unsigned(self):
        self.relay("news@unsigned.test", "m2@unsigned.test")
        raw = self.arrived("m2@unsigned.test")
        self.assertNotIn(b"DKIM-Signature:", raw)

    def test_a_reload_with_a_missing_key_file_keeps_the_running_keys(self):
        with open(self.sluice.config_path) as f:
            config = f.read()
        broken = config.replace(f"{self.work}/ed.pem", f"{self.work}/missing.pem")
        with open(self.sluice.config_path, "w") as f:
            f.write(broken)
        try:
            self.sluice.process.send_signal(signal.SIGHUP)
            line = self.sluice.wait_log("dkim keys reload failed", 30)
            self.assertIn("missing.pem", line)
        finally:
            with open(self.sluice.config_path, "w") as f:
                f.write(config)
        self.relay("news@example.com", "m3@example.com")
        self.assertEqual(self.dkimpy(self.arrived("m3@example.com")), [True, True])


if __name__ == "__main__":
    unittest.main()
