#!/usr/bin/env python3
"""Feeds messages built by //api:injection_tool to Python's email package.

Python's parser (email.policy.default) is an independent, widely used MIME
implementation: every message must parse without a single defect, have the
expected multipart nesting and content types, and decode to exactly the
UTF-8 input (subject, display names, text, html, attachment bytes and file
names). Line lengths and CRLF endings are checked on the raw bytes.
"""
import base64
import email
import email.header
import email.policy
import email.utils
import html as htmllib
import json
import os
import random
import subprocess
import sys
import unittest

TOOL = None


def run_tool(request, *args):
    proc = subprocess.run([TOOL, *args], input=json.dumps(request).encode(), capture_output=True)
    if proc.returncode != 0:
        raise AssertionError("injection_tool failed (%d): %s" % (proc.returncode, proc.stderr.decode()))
    out = proc.stdout
    records = []
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        words = out[pos:end].decode().split(" ")
        pos = end + 1
        if words[0] in ("SHARED", "RECIPIENT"):
            size = int(words[2])
            records.append((words[0], words[1], out[pos:pos + size]))
            pos += size
        else:
            records.append((words[0], words[1], " ".join(words[2:])))
    return records


def messages(records):
    return [(kind, ident, raw) for kind, ident, raw in records if kind in ("SHARED", "RECIPIENT")]


def legacy_display_name(msg_bytes, field):
    """The display name of `field`, decoded by email.header (RFC 2047 6.2).

    The modern parser keeps the whitespace between adjacent encoded-words in
    a display name, against RFC 2047 6.2; CPython's own generator shows the
    same loss when it folds a long non-ASCII display name into several
    words and parses it back. Names are therefore checked with the legacy
    decoder, which drops that whitespace as the RFC says.
    """
    compat = email.message_from_bytes(msg_bytes, policy=email.policy.compat32)
    value = compat[field].replace("\r\n", "").replace("\n", "")
    ((name, _),) = email.utils.getaddresses([value])
    return str(email.header.make_header(email.header.decode_header(name)))


def expected_text(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


class PeerTest(unittest.TestCase):

    def parse(self, raw):
        # Raw-byte rules: CRLF everywhere, header lines within 78, all lines
        # within 998, base64 and quoted-printable lines within 76.
        self.assertFalse(b"\n" in raw.replace(b"\r\n", b""), "bare LF")
        self.assertFalse(b"\r" in raw.replace(b"\r\n", b""), "bare CR")
        head, _, _ = raw.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            self.assertLessEqual(len(line), 78, line)
        for line in raw.split(b"\r\n"):
            self.assertLessEqual(len(line), 998)
        if raw.isascii():
            msg = email.message_from_bytes(raw, policy=email.policy.default)
        else:
            # RFC 6532 UTF-8 headers (a UTF-8 local part): the bytes parser
            # would read them as ASCII with surrogates, so parse the text.
            msg = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
        for part in msg.walk():
            self.assertEqual(list(part.defects), [], "defects in %s" % part.get_content_type())
            cte = part.get("Content-Transfer-Encoding", "")
            if cte in ("base64", "quoted-printable") and not part.is_multipart():
                for line in part.get_payload(decode=False).splitlines():
                    self.assertLessEqual(len(line), 76, "%s line too long: %r" % (cte, line))
            if not part.is_multipart() and part.get_content_maintype() != "multipart":
                # Header lines of every part too.
                pass
        return msg

    def test_text_html_attachments_structure_and_content(self):
        pdf = bytes(range(256)) * 40
        text = "Hallo {{first}},\nZeile mit = und Leerzeichen am Ende \n" + "ä" * 100 + "\n" + "x" * 200
        html_src = "<p>Hallo {{first}} {{{raw}}}</p>\n<p>" + "€" * 60 + "</p>"
        request = {
            "from": {"email": "zoe@bücher.example", "name": "Zoë Müller, Geschäftsführerin"},
            "reply_to": "\"Support, Team\" <help@example.org>",
            "subject": "Grüße an {{first}} — 🎉 " + "lang " * 20,
            "text": text,
            "html": html_src,
            "headers": {"X-Campaign": "Frühling {{first}}", "List-Unsubscribe": "<https://example.org/u/{{id}}>"},
            "attachments": [
                {"filename": "Übersicht 2024 – ein sehr langer Dateiname mit Umlauten äöü.pdf",
                 "content_type": "application/pdf", "content": base64.b64encode(pdf).decode()},
                {"filename": "notes.txt", "content_type": "text/plain",
                 "content": base64.b64encode(b"plain\r\nbytes\n").decode()},
            ],
            "recipients": [
                {"email": "ada@example.com", "name": "Ada <Lovelace>",
                 "substitutions": {"first": "Ada & <Co>", "id": 17}},
                {"email": "jürgen@münchen.example", "name": "Jürgen",
                 "substitutions": {"first": "Jürgen", "id": "x9"}},
            ],
            "substitutions": {"raw": "<b>bold</b>", "first": "unused"},
        }
        msgs = messages(run_tool(request))
        self.assertEqual([kind for kind, _, _ in msgs], ["RECIPIENT", "RECIPIENT"])
        firsts = ["Ada & <Co>", "Jürgen"]
        ids = ["17", "x9"]
        tos = [("Ada <Lovelace>", "ada@example.com"), ("Jürgen", "jürgen@xn--mnchen-3ya.example")]
        for (kind, ident, raw), first, ident_value, to in zip(msgs, firsts, ids, tos):
            msg = self.parse(raw)
            self.assertEqual(msg.get_content_type(), "multipart/mixed")
            parts = msg.get_payload()
            self.assertEqual([p.get_content_type() for p in parts],
                             ["multipart/alternative", "application/pdf", "text/plain"])
            alternative = parts[0].get_payload()
            self.assertEqual([p.get_content_type() for p in alternative], ["text/plain", "text/html"])
            self.assertEqual(alternative[0].get_content().replace("\r\n", "\n"), expected_text(text.replace("{{first}}", first)))
            self.assertEqual(
                alternative[1].get_content().replace("\r\n", "\n"),
                expected_text(html_src.replace("{{first}}", htmllib.escape(first, quote=True).replace("&#x27;", "&#39;"))
                              .replace("{{{raw}}}", "<b>bold</b>")))
            self.assertEqual(str(msg["subject"]), request["subject"].replace("{{first}}", first))
            self.assertEqual(str(msg["x-campaign"]), "Frühling " + first)
            self.assertEqual(str(msg["list-unsubscribe"]), "<https://example.org/u/%s>" % ident_value)
            sender = msg["from"].addresses[0]
            self.assertEqual(sender.display_name, "Zoë Müller, Geschäftsführerin")
            self.assertEqual(sender.addr_spec, "zoe@xn--bcher-kva.example")
            reply = msg["reply-to"].addresses[0]
            self.assertEqual((reply.display_name, reply.addr_spec), ("Support, Team", "help@example.org"))
            rcpt = msg["to"].addresses[0]
            self.assertEqual((rcpt.display_name, rcpt.addr_spec), to)
            self.assertEqual(parts[1].get_payload(decode=True), pdf)
            self.assertEqual(parts[1].get_filename(), request["attachments"][0]["filename"])
            self.assertEqual(parts[2].get_payload(decode=True), b"plain\r\nbytes\n")
            self.assertEqual(parts[2].get_filename(), "notes.txt")
            self.assertEqual(msg["message-id"], "<r%s@sluice.test>" % ident)
            self.assertEqual(str(msg["mime-version"]), "1.0")

    def test_single_text_part_is_7bit_when_plain(self):
        request = {"from": "a@example.org", "subject": "Plain", "text": "Just ASCII.\nTwo lines.",
                   "recipients": [{"email": "b@example.com"}, {"email": "c@example.com"}],
                   "to_header": "undisclosed"}
        records = messages(run_tool(request))
        self.assertEqual(len(records), 1)
        self.assertEqual(records[0][0], "SHARED")
        msg = self.parse(records[0][2])
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(msg["content-transfer-encoding"], "7bit")
        self.assertEqual(msg.get_content().replace("\r\n", "\n"), "Just ASCII.\nTwo lines.\n")
        self.assertEqual(str(msg["to"]), "undisclosed-recipients:;")

    def test_html_only_and_attachment_only(self):
        msg = self.parse(messages(run_tool({
            "from": "a@example.org", "html": "<p>" + "ß" * 300 + "</p>",
            "recipients": [{"email": "b@example.com"}]}))[0][2])
        self.assertEqual(msg.get_content_type(), "text/html")
        self.assertEqual(msg.get_content().replace("\r\n", "\n"), "<p>" + "ß" * 300 + "</p>\n")
        data = os.urandom(10000)
        msg = self.parse(messages(run_tool({
            "from": "a@example.org", "subject": "files",
            "attachments": [{"filename": "日本語のファイル名.bin", "content": base64.b64encode(data).decode()}],
            "recipients": [{"email": "b@example.com"}]}))[0][2])
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        (part,) = msg.get_payload()
        self.assertEqual(part.get_content_type(), "application/octet-stream")
        self.assertEqual(part.get_filename(), "日本語のファイル名.bin")
        self.assertEqual(part.get_payload(decode=True), data)

    def test_random_subjects_and_names_round_trip(self):
        rng = random.Random(7)
        alphabet = (list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789") + [" "] * 8 +
                    list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + list("äöüßéèçñ€—") +
                    ["日", "本", "語", "한", "글", "🎉", "👍🏽", "\u200b", "=?", "?="])
        recipients = []
        subjects = []
        names = []
        for i in range(300):
            length = rng.choice([1, 5, 20, 40, 80, 150, 400])
            subject = "".join(rng.choice(alphabet) for _ in range(length)).strip() or "x"
            if i % 7 == 0:
                subject = "word" * rng.randint(20, 60)  # one long word
            name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))).strip() or "n"
            subjects.append(subject)
            names.append(name)
            recipients.append({"email": "r%d@example.com" % i, "name": name,
                               "substitutions": {"s": subject}})
        msgs = messages(run_tool({"from": "a@example.org", "subject": "{{s}}", "text": "t",
                                  "recipients": recipients}))
        self.assertEqual(len(msgs), 300)
        for (_, ident, raw), subject, name in zip(msgs, subjects, names):
            msg = self.parse(raw)
            # Python collapses runs of whitespace only in plain (unencoded)
            # text; sluice encodes such text, so the round trip is exact.
            self.assertEqual(str(msg["subject"]), subject, "recipient %s" % ident)
            rcpt = msg["to"].addresses[0]
            self.assertEqual(legacy_display_name(raw, "To"), name, "recipient %s" % ident)
            self.assertEqual(rcpt.addr_spec, "r%s@example.com" % ident)

    def test_rejected_recipient_is_reported_and_others_built(self):
        records = run_tool({"from": "a@example.org", "text": "hi",
                            "recipients": [{"email": "ok@example.com"}, {"email": "not-an-address"}]})
        rejected = [r for r in records if r[0] == "REJECTED"]
        self.assertEqual(len(rejected), 1)
        self.assertEqual(rejected[0][1], "1")
        self.assertTrue(rejected[0][2].startswith("recipients[1].email: not a valid address"))
        self.assertEqual(len(messages(records)), 1)


if __name__ == "__main__":
    TOOL = os.path.join(os.environ.get("TEST_SRCDIR", ""), "sluice/api/injection_tool")
    if len(sys.argv) > 1 and sys.argv[1].startswith("--tool="):
        TOOL = sys.argv.pop(1)[len("--tool="):]
    if not os.access(TOOL, os.X_OK):
        sys.exit("FAIL: injection_tool not found at %s" % TOOL)
    unittest.main(verbosity=2)
