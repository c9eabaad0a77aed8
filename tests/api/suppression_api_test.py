"""The suppression list's admin API against a running sluiced, with curl as
the client: add, check, list by prefix and page, remove, and a CSV import of
100,000 rows and its export, while other requests keep being answered; the
scopes an API key needs; and the errors, which name the field.

Run by run_python_test.sh with the runfiles root as the first argument.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tools.testbed.sluice_instance import SluiceInstance  # noqa: E402

SLUICED = os.path.join(ROOT, "server", "sluiced")
ADMIN = "admin-token-0123456789"
READER = "read-token-0123456789"


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


class SuppressionApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("curl") is None:
            raise AssertionError("curl is missing (Debian package curl)")
        cls.work = tempfile.mkdtemp(prefix="sluice-suppression-api-")
        cls.sluice = SluiceInstance(SLUICED, os.path.join(cls.work, "data"), f"""
[dns]
servers = ["127.0.0.1:9"]

[[api_keys]]
name = "ops"
token_sha256 = "{sha256(ADMIN)}"
scopes = ["admin", "inject"]

[[api_keys]]
name = "dashboard"
token_sha256 = "{sha256(READER)}"
scopes = ["read"]
""")
        cls.sluice.start()

    @classmethod
    def tearDownClass(cls):
        cls.sluice.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def curl(self, method, path, body=None, token=ADMIN, content_type="application/json",
             parse=True):
        host, port = self.sluice.http
        args = ["curl", "-sS", "-X", method, "-o", "-", "-w", "\n%{http_code}",
                "-H", f"Authorization: Bearer {token}"]
        if body is not None:
            args += ["-H", f"Content-Type: {content_type}", "--data-binary", "@-"]
        run = subprocess.run(args + [f"http://{host}:{port}{path}"], input=body,
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        text, _, status = run.stdout.rpartition("\n")
        return int(status), (json.loads(text) if parse and text else text)

    def add(self, tenant, *entries):
        return self.curl("POST", "/api/v1/suppressions",
                         json.dumps({"tenant": tenant, "entries": list(entries)}))

    def test_add_check_list_and_remove(self):
        status, answer = self.add("shop", {"address": "A@Example.com", "reason": "asked by phone"},
                                  {"address": "b@example.com",
                                   "expires": "2099-01-01T00:00:00Z"},
                                  {"address": "c@example.com"})
        self.assertEqual((status, answer), (200, {"added": 3}))
        self.assertEqual(self.add("", {"address": "global@example.com"})[0], 200)

        status, answer = self.curl("GET", "/api/v1/suppressions/check?tenant=shop&address=a@example.com")
        self.assertEqual(status, 200)
        entry = answer["entry"]
        self.assertEqual({k: entry[k] for k in ("address", "tenant", "source", "reason", "expires")},
                         {"address": "a@example.com", "tenant": "shop", "source": "operator",
                          "reason": "asked by phone", "expires": None})
        status, answer = self.curl(
            "GET", "/api/v1/suppressions/check?tenant=shop&address=global@example.com",
            token=READER)
        self.assertEqual((status, answer["entry"]["tenant"]), (200, ""))

        # Two pages of two, in address order, within the tenant's scope.
        status, page = self.curl("GET", "/api/v1/suppressions?tenant=shop&limit=2", token=READER)
        self.assertEqual(status, 200)
        self.assertEqual([e["address"] for e in page["entries"]],
                         ["a@example.com", "b@example.com"])
        self.assertEqual(page["entries"][1]["expires"], "2099-01-01T00:00:00Z")
        status, page = self.curl(
            "GET", f"/api/v1/suppressions?tenant=shop&limit=2&after={page['next']}")
        self.assertEqual(([e["address"] for e in page["entries"]], page["next"]),
                         (["c@example.com"], None))
        status, page = self.curl("GET", "/api/v1/suppressions?tenant=shop&prefix=b")
        self.assertEqual([e["address"] for e in page["entries"]], ["b@example.com"])

        self.assertEqual(self.curl("DELETE", "/api/v1/suppressions/a@example.com?tenant=shop"),
                         (200, {"removed": 1}))
        self.assertEqual(self.curl("DELETE", "/api/v1/suppressions/a@example.com?tenant=shop")[0],
                         404)
        status, answer = self.curl("GET", "/api/v1/suppressions/check?tenant=shop&address=a@example.com")
        self.assertEqual(answer, {"suppressed": False, "entry": None})

    def test_injection_to_only_suppressed_recipients_is_answered_with_each_refused(self):
        self.assertEqual(self.add("solo", {"address": "only@example.com"},
                                  {"address": "too@example.com"})[0], 200)
        status, answer = self.curl("POST", "/api/v1/messages", json.dumps({
            "from": "app@example.com", "subject": "Hi", "text": "Hello.", "tenant": "solo",
            "recipients": [{"email": "only@example.com"}, {"email": "too@example.com"}]}))
        # Nothing to store is not a failure: each recipient says why.
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["accepted"], [])
        self.assertEqual([r["email"] for r in answer["rejected"]],
                         ["only@example.com", "too@example.com"])
        self.assertTrue(all("suppressed" in r["reason"] for r in answer["rejected"]), answer)

    def test_a_read_key_may_look_but_not_change(self):
        self.assertEqual(self.curl("GET", "/api/v1/suppressions", token=READER)[0], 200)
        status, _ = self.curl("POST", "/api/v1/suppressions",
                              json.dumps({"entries": [{"address": "x@example.com"}]}),
                              token=READER)
        self.assertEqual(status, 403)
        self.assertEqual(self.curl("DELETE", "/api/v1/suppressions/x@example.com",
                                   token=READER)[0], 403)
        self.assertEqual(self.curl("POST", "/api/v1/suppressions/import", "address\r\n",
                                   token=READER, content_type="text/csv")[0], 403)

    def test_errors_name_the_field(self):
        cases = [
            ("not json", "body: invalid JSON"),
            (json.dumps({"entries": []}), "entries: at least one entry is needed"),
            (json.dumps({"entries": [{"address": "ok@example.com"}, {"address": "nope"}]}),
             "entries[1].address: not an address"),
            (json.dumps({"entries": [{"address": "ok@example.com", "color": "red"}]}),
             "entries[0].color: unknown field"),
            (json.dumps({"entries": [{"address": "ok@example.com", "expires": "soon"}]}),
             "entries[0].expires: must be an RFC 3339 time"),
            (json.dumps({"tenant": 7, "entries": [{"address": "ok@example.com"}]}),
             "tenant: must be a string"),
        ]
        for body, message in cases:
            status, answer = self.curl("POST", "/api/v1/suppressions", body)
            self.assertEqual(status, 400, body)
            error = answer["error"]
            self.assertIn(message, f"{error['field']}: {error['message']}", body)
        status, answer = self.curl("GET", "/api/v1/suppressions?limit=5000")
        self.assertEqual(status, 400)
        self.assertIn("limit", json.dumps(answer))
        status, answer = self.curl("GET", "/api/v1/suppressions/check")
        self.assertEqual(status, 400)
        status, answer = self.curl("POST", "/api/v1/suppressions/import?tenant=t",
                                   "email\r\n\"unterminated@example.com\r\n",
                                   content_type="text/csv")
        self.assertEqual(status, 400, answer)
        self.assertIn("csv", json.dumps(answer))
        # Nothing of the refused requests was stored.
        status, page = self.curl("GET", "/api/v1/suppressions?prefix=ok")
        self.assertEqual(page["entries"], [])

    def test_a_100k_row_import_and_its_export(self):
        rows = ["address,reason"] + [f"user{i:06d}@bulk.example,\"list cleaning, 2026\""
                                     for i in range(100_000)]
        rows.append("not-an-address,x")
        csv = "\r\n".join(rows) + "\r\n"
        # Other requests keep being answered on every shard meanwhile.
        answered = []
        done = threading.Event()

        def poll():
            while not done.is_set():
                answered.append(self.curl("GET", "/healthz", parse=False)[0])

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            status, answer = self.curl("POST", "/api/v1/suppressions/import?tenant=bulk", csv,
                                       content_type="text/csv")
        finally:
            done.set()
            poller.join()
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["imported"], 100_000)
        self.assertEqual(answer["refused"], 1)
        self.assertEqual(answer["errors"], ["line 100002: \"not-an-address\" is not an address"])
        self.assertTrue(answered)
        self.assertEqual(set(answered), {200})

        status, text = self.curl("GET", "/api/v1/suppressions/export?tenant=bulk", parse=False)
        self.assertEqual(status, 200)
        lines = text.splitlines()  # CRLF, read as text
        self.assertEqual(lines[0], "address,tenant,source,reason,created,expires")
        self.assertEqual(len([line for line in lines[1:] if line]), 100_000)
        self.assertTrue(lines[1].startswith(
            '"user000000@bulk.example","bulk","operator","list cleaning, 2026","'), lines[1])
        self.assertGreaterEqual(self.sluice.metric("sluice_suppression_entries"), 100_000)


if __name__ == "__main__":
    unittest.main()
