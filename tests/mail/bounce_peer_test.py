"""Bounces made by software nobody here wrote, read by sluice-bounce.

A private Postfix (tools/postfix_instance.py) accepts mail for a user it
does not have and bounces it asynchronously, as a mailbox provider's MTA
does; the DSN goes, through relayhost, to Postfix's smtp-sink on
127.0.0.41, and sluice-bounce must find the recipient, its status and
category and the original message in it. Feedback reports (RFC 5965) are
built with Python's email package, as report generators do. Run by
run_python_test.sh with the runfiles root as the first argument; needs
root (Postfix, smtp-sink -u nobody).
"""

import email.message
import email.mime.multipart
import email.mime.text
import email.policy
import json
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tools"))

from postfix_instance import PostfixInstance, free_port  # noqa: E402
from tools.testbed.smtp_sink import SMTP_SINK, SmtpSink  # noqa: E402

TOOL = os.path.join(ROOT, "mail", "sluice-bounce")
SINK = "127.0.0.41"


def parse(raw):
    run = subprocess.run([TOOL], input=raw, capture_output=True, check=True)
    return json.loads(run.stdout)


class PostfixBounceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(SMTP_SINK, os.X_OK):
            raise AssertionError(f"{SMTP_SINK} not found: install Debian's 'postfix' package")
        # smtp-sink drops to nobody, who must reach the dump folder.
        cls.work = tempfile.mkdtemp(prefix="sluice-bounce-", dir="/var/tmp")
        os.chmod(cls.work, 0o755)
        cls.sink_port = free_port(SINK)
        cls.sink = SmtpSink(cls.work, SINK, cls.sink_port)
        # Unknown users are accepted and bounced later by virtual(8), and
        # the bounce goes to the sink whatever the sender's domain.
        cls.postfix = PostfixInstance(
            cls.work, mailboxes=["reader@postfix.example"],
            extra_main_cf=(f"smtpd_reject_unlisted_recipient = no\n"
                           f"relayhost = [{SINK}]:{cls.sink_port}\n"
                           "delay_warning_time = 0\n"))
        cls.postfix.start()

    @classmethod
    def tearDownClass(cls):
        cls.postfix.stop()
        cls.sink.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_an_asynchronous_postfix_bounce_names_the_recipient_and_the_original(self):
        message_id = "01JBOUNCEPEER0000000000000@sluice.test"
        message = (f"From: News <news@sluice.test>\r\nTo: ghost@postfix.example\r\n"
                   f"Subject: Weekly\r\nMessage-ID: <{message_id}>\r\n\r\nhello\r\n")
        with smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=30) as client:
            client.sendmail("b+01JBOUNCE@bounces.sluice.test", ["ghost@postfix.example"],
                            message)
        raw = self.sink.wait_for_dump(message_id.encode(), 60)
        report = parse(raw)
        self.assertEqual(report["kind"], "delivery-status", report)
        self.assertEqual(len(report["recipients"]), 1, report)
        recipient = report["recipients"][0]
        self.assertEqual(recipient["final_recipient"], "ghost@postfix.example")
        self.assertEqual(recipient["action"], "failed")
        self.assertEqual(recipient["status"], "5.1.1")
        self.assertIn("unknown user", recipient["diagnostic"].lower())
        self.assertEqual(recipient["category"], "bad-mailbox")
        self.assertTrue(recipient["hard"])
        self.assertEqual(report["original"]["message_id"], message_id)
        self.assertEqual(report["original"]["return_path"], "b+01JBOUNCE@bounces.sluice.test")
        # The same DSN with LF line ends, as some relays store it.
        self.assertEqual(parse(raw.replace(b"\r\n", b"\n"))["recipients"], report["recipients"])


class FeedbackReportTest(unittest.TestCase):
    def arf(self, feedback_type):
        report = email.mime.multipart.MIMEMultipart("report", report_type="feedback-report")
        report["From"] = "feedback@provider.example"
        report["Subject"] = "FW: Weekly"
        report.attach(email.mime.text.MIMEText("This is an email abuse report.\n"))
        fields = email.message.Message()
        fields.set_type("message/feedback-report")
        fields.set_payload(f"Feedback-Type: {feedback_type}\nUser-Agent: Example-FBL/1.0\n"
                           "Version: 1\nOriginal-Mail-From: <b+01JARF@bounces.sluice.test>\n"
                           "Original-Rcpt-To: <reader@provider.example>\n"
                           "Source-IP: 192.0.2.25\nReported-Domain: sluice.test\n")
        report.attach(fields)
        original = email.message.Message()
        original["From"] = "news@sluice.test"
        original["To"] = "reader@provider.example"
        original["Message-ID"] = "<01JARF@sluice.test>"
        original.set_payload("Buy now\n")
        enclosed = email.message.Message()
        enclosed.set_type("message/rfc822")
        enclosed.attach(original)
        report.attach(enclosed)
        return report.as_bytes(policy=email.policy.SMTP)

    def test_a_report_built_by_pythons_email_package_is_read(self):
        for feedback_type in ("abuse", "fraud", "opt-out"):
            with self.subTest(feedback_type=feedback_type):
                report = parse(self.arf(feedback_type))
                self.assertEqual(report["kind"], "feedback", report)
                self.assertEqual(report["feedback"]["type"], feedback_type)
                self.assertEqual(report["feedback"]["original_rcpt_to"],
                                 "reader@provider.example")
                self.assertEqual(report["feedback"]["original_mail_from"],
                                 "b+01JARF@bounces.sluice.test")
                self.assertEqual(report["feedback"]["source_ip"], "192.0.2.25")
                self.assertEqual(report["original"]["message_id"], "01JARF@sluice.test")


if __name__ == "__main__":
    unittest.main()
