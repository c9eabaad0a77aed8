"""Bounces that come back later, end to end: sluiced delivers to a private
Postfix (tools/postfix_instance.py) that accepts mail for a user it does
not have and bounces it afterwards, as mailbox providers' MTAs do; the
DSN comes back to sluiced's relay listener (Postfix's relayhost) for a
bounce domain ([smtp] bounce_domains), and sluiced reads it: an
async_bounce event names the recipient, its status and category and the
original message, and the DSN leaves the spool. With VERP on, sluiced
sends from b-<id>-<index>-<mac>@<bounce domain>, so the event also names
the envelope and recipient it is about. The bounced recipient lands on the
suppression list, so the next injection to it is refused: over HTTP (a
"rejected" entry) and over SMTP submission (550 5.7.1 at RCPT). A message
for the bounce domain that is no report stays, moved aside with the
reason.

Delivery goes by a static route to Postfix on 127.0.0.42. Run by
run_python_test.sh with the runfiles root as the first argument; needs
root (Postfix).
"""

import json
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tools"))

from tools.testbed.sluice_instance import SluiceInstance, delivery_toml, wait_until  # noqa: E402,E501
from postfix_instance import PostfixInstance, free_port  # noqa: E402

SLUICED = os.path.join(ROOT, "server", "sluiced")
PASSWD = os.path.join(ROOT, "tls", "sluice-passwd")
POSTFIX = "127.0.0.42"
BOUNCES = "bounces.sluice.test"


class AsyncBounceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Postfix's daemons (user postfix) must reach their folders.
        cls.work = tempfile.mkdtemp(prefix="sluice-async-bounce-", dir="/var/tmp")
        os.chmod(cls.work, 0o755)
        cls.postfix_port = free_port(POSTFIX)
        secret = os.path.join(cls.work, "verp.key")
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(os.urandom(32))
        password_hash = subprocess.run(
            [PASSWD, "--scheme=pbkdf2-sha256", "--pbkdf2_iterations=1000"], input="secret",
            capture_output=True, text=True, check=True).stdout.strip()
        cls.sluice = SluiceInstance(
            SLUICED, os.path.join(cls.work, "data"),
            f'[smtp]\nbounce_domains = ["{BOUNCES}"]\nauth_on_loopback_without_tls = true\n'
            f'[[users]]\nname = "acme"\npassword_hash = "{password_hash}"\n'
            f'[bounces]\nverp_domain = "{BOUNCES}"\nverp_secret_file = "{secret}"\n' +
            delivery_toml("127.0.0.1:1", 25, extra=f"""
[[dns.routes]]
domain = "postfix.example"
hosts = ["{POSTFIX}:{cls.postfix_port}"]
"""))
        cls.sluice.start()
        host, port = cls.sluice.relay
        cls.postfix = PostfixInstance(
            cls.work, address=POSTFIX, port=cls.postfix_port,
            mailboxes=["reader@postfix.example"],
            extra_main_cf=("smtpd_reject_unlisted_recipient = no\n"
                           f"relayhost = [{host}]:{port}\n"))
        cls.postfix.start()

    @classmethod
    def tearDownClass(cls):
        cls.postfix.stop()
        cls.sluice.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def read_message(self, message_id):
        host, port = self.sluice.http
        try:
            with urllib.request.urlopen(
                    f"http://{host}:{port}/api/v1/messages/{message_id}", timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return {"status": e.code}

    def api(self, method, path, body=None):
        host, port = self.sluice.http
        request = urllib.request.Request(
            f"http://{host}:{port}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def suppressed(self, address, tenant):
        status, answer = self.api(
            "GET", f"/api/v1/suppressions/check?tenant={tenant}&address={address}")
        self.assertEqual(status, 200, answer)
        return answer["entry"] if answer["suppressed"] else None

    def test_the_bounced_recipient_is_suppressed_and_refused_next_time(self):
        message = ("From: News <news@sluice.test>\r\nTo: ghost2@postfix.example\r\n"
                   "Subject: Weekly\r\n\r\nhello\r\n").encode()
        self.sluice.send(f"news@{BOUNCES}", ["ghost2@postfix.example"], message)
        self.sluice.wait_events(
            lambda es: any(e["type"] == "async_bounce" and e["recipient"] ==
                           "ghost2@postfix.example" for e in es), 60, "its async_bounce event")
        # The DSN names no tenant we still know: the entry is for every tenant.
        entry = wait_until(lambda: self.suppressed("ghost2@postfix.example", "acme"), 30,
                           "the suppression entry")
        self.assertEqual(entry["tenant"], "")
        self.assertEqual(entry["source"], "hard-bounce")
        self.assertTrue(entry["reason"].startswith("bad-mailbox: "), entry)
        self.assertIsNone(entry["expires"])

        status, answer = self.api("POST", "/api/v1/messages", {
            "from": "News <news@sluice.test>", "subject": "Again", "text": "hello again",
            "tenant": "acme",
            "recipients": [{"email": "ghost2@postfix.example"},
                           {"email": "reader@postfix.example"}]})
        self.assertEqual(status, 200, answer)
        self.assertEqual([a["email"] for a in answer["accepted"]], ["reader@postfix.example"])
        [rejected] = answer["rejected"]
        self.assertEqual((rejected["index"], rejected["email"]), (0, "ghost2@postfix.example"))
        self.assertTrue(rejected["reason"].startswith("suppressed for every tenant: hard-bounce"),
                        rejected)

        host, port = self.sluice.submission
        with smtplib.SMTP(host, port, timeout=30) as client:
            client.login("acme", "secret")
            client.mail("news@sluice.test")
            code, text = client.rcpt("Ghost2@Postfix.Example")
            self.assertEqual(code, 550, text)
            self.assertIn(b"5.7.1", text)
            self.assertIn(b"suppressed for every tenant: hard-bounce", text)
            self.assertEqual(client.rcpt("reader@postfix.example")[0], 250)
            client.rset()
        self.assertGreaterEqual(
            self.sluice.metric("sluice_suppression_hits_total", 'listener="http"'), 1)
        self.assertGreaterEqual(
            self.sluice.metric("sluice_suppression_hits_total", 'listener="submission"'), 1)
        self.assertGreaterEqual(
            self.sluice.metric("sluice_suppression_added_total", 'source="hard-bounce"'), 1)
        self.assertGreaterEqual(self.sluice.metric("sluice_suppression_entries"), 1)

        # An operator takes it off the list; mail to it is accepted again.
        status, answer = self.api("DELETE", "/api/v1/suppressions/ghost2@postfix.example")
        self.assertEqual((status, answer), (200, {"removed": 1}))
        self.assertIsNone(self.suppressed("ghost2@postfix.example", "acme"))
        self.assertEqual(self.api("DELETE", "/api/v1/suppressions/ghost2@postfix.example")[0],
                         404)

    def test_a_later_bounce_from_postfix_is_read_into_an_event(self):
        message = ("From: News <news@sluice.test>\r\nTo: ghost@postfix.example\r\n"
                   "Subject: Weekly\r\nMessage-ID: <01JASYNCBOUNCE000000000000@sluice.test>\r\n"
                   "\r\nhello\r\n").encode()
        self.sluice.send(f"news@{BOUNCES}", ["ghost@postfix.example"], message)
        events = self.sluice.wait_events(
            lambda es: any(e["type"] == "async_bounce" for e in es), 60, "an async_bounce event")
        delivered = [e for e in events if e["type"] == "delivered"]
        self.assertEqual([e["recipient"] for e in delivered], ["ghost@postfix.example"])
        [bounce] = [e for e in events if e["type"] == "async_bounce"]
        self.assertEqual(bounce["recipient"], "ghost@postfix.example")
        self.assertEqual(bounce["status"], "5.1.1")
        self.assertEqual(bounce["category"], "bad-mailbox")
        self.assertEqual(bounce["original_message_id"],
                         "01JASYNCBOUNCE000000000000@sluice.test")
        self.assertIn("unknown user", bounce["reply"].lower())
        # VERP: the address it came back to names the envelope and recipient.
        self.assertEqual(bounce["original_envelope_id"], delivered[0]["message_id"])
        self.assertEqual(bounce["original_recipient_index"], 0)
        # The DSN itself is gone from the spool once read.
        wait_until(lambda: self.read_message(bounce["message_id"]).get("status") == 404, 30,
                   "the DSN removed from the spool")
        self.assertGreaterEqual(
            self.sluice.metric("sluice_inbound_reports_total", 'kind="delivery-status"'), 1)
        self.assertGreaterEqual(
            self.sluice.metric("sluice_async_bounces_total", 'category="bad-mailbox"'), 1)

    def test_mail_for_the_bounce_domain_that_is_no_report_is_kept_aside(self):
        self.sluice.send("someone@example.org", [f"postmaster@{BOUNCES}"],
                         b"From: someone@example.org\r\nSubject: hello\r\n\r\njust mail\r\n")
        line = self.sluice.wait_log("inbound message not understood; kept", 60)
        self.assertIn("bounces-unknown", line)


if __name__ == "__main__":
    unittest.main()
