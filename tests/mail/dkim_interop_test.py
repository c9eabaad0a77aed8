"""DKIM signatures made by sluice verify with three verifiers nobody here
wrote: dkimpy (Debian's python3-dkim), OpenDKIM's test mode (`opendkim -t`,
Debian's opendkim) and mailauth (npm), each given the public keys directly
(dkimpy's dnsfunc, OpenDKIM's TestPublicKeys, mailauth's --dns-cache), so
no DNS is involved. A tampered body or header fails all three.

The signer is the one sluiced uses, through the sluice-dkim tool
(mail/dkim_tool_main.cc): keygen for the keys and their TXT records, sign
for the signatures.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = sys.argv.pop(1) if len(sys.argv) > 1 else "."
TOOL = os.path.join(ROOT, "mail", "sluice-dkim")
MAILAUTH = os.path.join(os.environ.get("HOME", "/root"), ".cache", "sluice-npm", "node_modules",
                        ".bin", "mailauth")
OPENDKIM = "/usr/sbin/opendkim"
DOMAIN = "example.com"

try:
    import dkim  # Debian's python3-dkim
except ImportError:  # a failure naming the package, not a skip
    dkim = None

KEYS = [("rsa2048", "rsa", 2048), ("rsa3072", "rsa", 3072), ("ed25519", "ed25519", 0)]

HEADERS = (
    "From: Joe <joe@example.com>\r\n"
    "To: Suzie <suzie@example.net>\r\n"
    "Subject: Dinner\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
    "Message-ID: <m1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
)

MESSAGES = {
    "plain": HEADERS + "\r\nHi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n",
    # Lines that SMTP dot-stuffs on the wire (stored unstuffed).
    "dot_lines": HEADERS + "\r\n.\r\n..two dots\r\n.leading dot\r\nend\r\n",
    "no_final_crlf": HEADERS + "\r\nlast line without an end",
    "trailing_blank_lines": HEADERS + "\r\nbody\r\n\r\n\r\n\r\n",
    "white_space": HEADERS + "\r\n  indented \t and  spaced \t\r\n\t\r\nend \r\n",
    "eight_bit": HEADERS.replace("charset=utf-8", "charset=utf-8\r\n"
                                 "Content-Transfer-Encoding: 8bit")
    + "\r\nGrüße aus Köln, 東京 и Москва\r\n",
    "smtputf8": HEADERS.replace("From: Joe <joe@example.com>",
                                "From: Jürgen <jürgen@example.com>").replace(
        "Subject: Dinner", "Subject: Abendessen für zwei") + "\r\nUTF-8 in the headers too\r\n",
    "folded_and_repeated": HEADERS.replace("To: Suzie <suzie@example.net>\r\n",
                                           "To: Suzie <suzie@example.net>,\r\n\tAnne <anne@example.net>\r\n"
                                           "To: Second To <second@example.net>\r\n")
    + "\r\nbody\r\n",
    "long_lines": HEADERS + "\r\n" + ("x" * 998 + "\r\n") * 3,
}

CANONICALIZATIONS = ["relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"]


class DkimInteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = []
        if dkim is None:
            missing.append("python3-dkim (Debian)")
        if not os.access(OPENDKIM, os.X_OK):
            missing.append("opendkim (Debian)")
        if not os.access(MAILAUTH, os.X_OK):
            missing.append("mailauth (npm; scripts/deps.sh installs it into ~/.cache/sluice-npm)")
        if missing:
            raise AssertionError("DKIM verifiers missing: " + ", ".join(missing))
        cls.dir = tempfile.mkdtemp(prefix="dkim-interop-")
        cls.records = {}
        for selector, algorithm, bits in KEYS:
            path = os.path.join(cls.dir, selector + ".pem")
            args = [TOOL, "keygen", f"--algorithm={algorithm}", f"--out={path}",
                    f"--domain={DOMAIN}", f"--selector={selector}"]
            if bits:
                args.append(f"--bits={bits}")
            out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
            name, record = out.split(" IN TXT ", 1)
            assert name == f"{selector}._domainkey.{DOMAIN}.", name
            cls.records[selector] = record.strip().strip('"')
        with open(os.path.join(cls.dir, "keys"), "w") as f:
            for selector, record in cls.records.items():
                f.write(f"{selector}._domainkey.{DOMAIN} {record}\n")
        with open(os.path.join(cls.dir, "opendkim.conf"), "w") as f:
            f.write(f"Mode v\nSyslog no\nTestPublicKeys {cls.dir}/keys\n")
        with open(os.path.join(cls.dir, "dns.json"), "w") as f:
            json.dump({f"{s}._domainkey.{DOMAIN}": {"TXT": [[r[i:i + 250] for i in
                                                             range(0, len(r), 250)]]}
                       for s, r in cls.records.items()}, f)

    def sign(self, message, selector, canonicalization="relaxed/relaxed"):
        return subprocess.run(
            [TOOL, "sign", f"--key={self.dir}/{selector}.pem", f"--domain={DOMAIN}",
             f"--selector={selector}", f"--canonicalization={canonicalization}"],
            input=message.encode(), check=True, capture_output=True).stdout

    def write(self, signed):
        fd, path = tempfile.mkstemp(dir=self.dir, suffix=".eml")
        with os.fdopen(fd, "wb") as f:
            f.write(signed)
        return path

    def dkimpy(self, signed):
        records = {f"{s}._domainkey.{DOMAIN}.".encode(): r.encode()
                   for s, r in self.records.items()}
        return dkim.verify(signed, dnsfunc=lambda name, timeout=5: records.get(name))

    def opendkim(self, path):
        run = subprocess.run([OPENDKIM, "-x", f"{self.dir}/opendkim.conf", "-vv", "-t", path],
                             capture_output=True, text=True)
        return run.returncode == 0 and "verification (s=" in run.stderr + run.stdout and \
            "succeeded" in run.stderr + run.stdout

    def mailauth(self, path):
        run = subprocess.run([MAILAUTH, "report", "-i", "127.0.0.1", "-f", f"joe@{DOMAIN}",
                              "-n", f"{self.dir}/dns.json", path],
                             capture_output=True, text=True, check=True)
        results = json.loads(run.stdout)["dkim"]["results"]
        return bool(results) and all(r["status"]["result"] == "pass" for r in results)

    def verdicts(self, signed):
        if not signed.endswith(b"\r\n"):
            # The body as SMTP delivers it: the CRLF before the final dot
            # ends the last line (both canonicalizations add it anyway; only
            # dkimpy is asked about the bytes as stored, since OpenDKIM's
            # file reader drops a last line without an end).
            self.assertTrue(self.dkimpy(signed))
            signed += b"\r\n"
        path = self.write(signed)
        return {"dkimpy": self.dkimpy(signed), "opendkim": self.opendkim(path),
                "mailauth": self.mailauth(path)}

    def test_every_message_verifies_with_every_key_and_verifier(self):
        for name, message in MESSAGES.items():
            for selector, _, _ in KEYS:
                with self.subTest(message=name, key=selector):
                    verdicts = self.verdicts(self.sign(message, selector))
                    self.assertEqual(verdicts, {"dkimpy": True, "opendkim": True,
                                                "mailauth": True})

    def test_every_canonicalization_verifies(self):
        for c in CANONICALIZATIONS:
            for selector in ("rsa2048", "ed25519"):
                with self.subTest(canonicalization=c, key=selector):
                    signed = self.sign(MESSAGES["white_space"], selector, c)
                    self.assertIn(f"c={c};".encode(), signed)
                    self.assertEqual(set(self.verdicts(signed).values()), {True})

    def test_a_tampered_body_or_header_fails_everywhere(self):
        for selector in ("rsa2048", "ed25519"):
            signed = self.sign(MESSAGES["plain"], selector)
            for what, tampered in (
                    ("body", signed.replace(b"hungry", b"thirsty")),
                    ("header", signed.replace(b"Subject: Dinner", b"Subject: Lunch")),
                    ("added From", signed.replace(b"From: Joe", b"From: Eve <eve@evil.test>\r\n"
                                                  b"From: Joe"))):
                with self.subTest(key=selector, tampered=what):
                    self.assertEqual(self.verdicts(tampered),
                                     {"dkimpy": False, "opendkim": False, "mailauth": False})

    def test_a_twenty_mebibyte_body_signs_and_verifies(self):
        line = "0123456789abcdefghijklmnopqrstuvwxyz" * 2 + "\r\n"
        body = line * (20 * 1024 * 1024 // len(line) + 1)
        signed = self.sign(HEADERS + "\r\n" + body, "ed25519")
        self.assertGreater(len(signed), 20 * 1024 * 1024)
        self.assertEqual(set(self.verdicts(signed).values()), {True})

    def test_a_world_readable_key_is_refused_naming_it(self):
        path = os.path.join(self.dir, "ed25519.pem")
        os.chmod(path, 0o644)
        try:
            run = subprocess.run([TOOL, "record", f"--key={path}"], capture_output=True,
                                 text=True)
        finally:
            os.chmod(path, 0o600)
        self.assertEqual(run.returncode, 1)
        self.assertIn(path, run.stderr)
        self.assertIn("readable by other users", run.stderr)


if __name__ == "__main__":
    unittest.main()
