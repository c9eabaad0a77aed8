"""End-to-end over the HTTP API: messages injected with POST /api/v1/messages
reach real receivers on loopback, found through real DNS (NSD), with every
recipient's substitutions in place; suspension and bounce by campaign act on
exactly that campaign's mail.

The receivers are tools/testbed/fault_receiver.py on 127.0.0.40-43 (one
address per MX site); DNS is NSD with a generated zone of 1,000 domains
dNNNN.test over four sites. sluiced runs as a child process.

Run by run_python_test.sh with the runfiles root as the first argument.
"""

import email
import email.policy
import json
import os
import sys
import tempfile
import unittest
import urllib.request

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tools.testbed.dns_zone import NsdServer, generate  # noqa: E402
from tools.testbed.fault_receiver import FaultConfig, FaultReceiver  # noqa: E402
from tools.testbed.sluice_instance import SluiceInstance, delivery_toml, wait_until  # noqa: E402,E501

SLUICED = os.path.join(ROOT, "server", "sluiced")
SITES = ["127.0.0.40", "127.0.0.41", "127.0.0.42", "127.0.0.43"]
SENDER = "app@sender.test"
TMP = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()

dns = None


def setUpModule():
    global dns
    zone, _ = generate(domains=1000, sites=4, base_ip=40)
    zone.mx("sender.test", 10, "mx0.sites.test")  # where DSNs go
    dns = NsdServer([zone])
    dns.start()


def tearDownModule():
    dns.stop()


def config(port):
    return delivery_toml(
        dns.address, port,
        limits='idle_timeout = "1s"\nmax_connections = 8\ninitial_connections = 8\n')


def parse(record):
    return email.message_from_bytes(record["data"], policy=email.policy.default)


def part_text(message, content_type):
    part = next(p for p in message.walk() if p.get_content_type() == content_type)
    return part.get_content()


class HttpDeliveryTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=TMP)
        self.receiver = FaultReceiver(SITES, port=0, config=FaultConfig(), keep_data=True,
                                      starttls=False).start()
        self.sluice = SluiceInstance(SLUICED, os.path.join(self.dir, "data"),
                                     config(self.receiver.port)).start()

    def tearDown(self):
        self.sluice.kill()
        self.receiver.stop()

    def call(self, method, path, body=None):
        host, port = self.sluice.http
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://{host}:{port}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=300) as response:
            self.assertEqual(response.status, 200)
            return json.loads(response.read())

    def inject(self, recipients, campaign="", text="Hello {{name}}"):
        request = {"from": f"App <{SENDER}>", "subject": "Note for {{name}}", "text": text,
                   "recipients": recipients}
        if campaign:
            request["campaign"] = campaign
        answer = self.call("POST", "/api/v1/messages", request)
        self.assertEqual(answer["rejected"], [])
        return answer["accepted"]

    def delivered_to(self, records):
        return {rcpt for r in records if r["mail_from"] == SENDER for rcpt in r["rcpts"]}

    def test_ten_thousand_recipients_arrive_with_their_own_substitutions(self):
        count = 10_000
        recipients = [{"email": f"user{i}@d{i % 1000 + 1:04d}.test", "name": f"User {i}",
                       "substitutions": {"code": f"C{i:05d}", "name": f"Ünïcode {i} <&>"}}
                      for i in range(count)]
        request = {"from": f"App <{SENDER}>", "subject": "Code {{code}} for {{name}}",
                   "text": "Dear {{name}}, your code is {{code}}. From {{company}}.",
                   "html": "<p>Dear {{name}}, code <b>{{code}}</b></p>",
                   "substitutions": {"company": "Example & Co"}, "recipients": recipients,
                   "campaign": "bulk"}
        answer = self.call("POST", "/api/v1/messages", request)
        self.assertEqual(len(answer["accepted"]), count)
        self.assertEqual(answer["rejected"], [])
        self.assertEqual(len({a["message_id"] for a in answer["accepted"]}), count)
        records = self.receiver.wait_for_records(lambda rs: len(rs) >= count, 600)
        self.assertEqual(len(records), count)
        seen = set()
        for record in records:
            [rcpt] = record["rcpts"]
            i = int(rcpt.split("@")[0][4:])
            seen.add(i)
            message = parse(record)
            name = f"Ünïcode {i} <&>"
            self.assertEqual(message["Subject"], f"Code C{i:05d} for {name}")
            self.assertEqual(part_text(message, "text/plain").rstrip("\r\n"),
                             f"Dear {name}, your code is C{i:05d}. From Example & Co.")
            # Inside HTML the values are escaped.
            self.assertEqual(part_text(message, "text/html").rstrip("\r\n"),
                             f"<p>Dear Ünïcode {i} &lt;&amp;&gt;, code <b>C{i:05d}</b></p>")
            self.assertIn(rcpt, message["To"])
        self.assertEqual(seen, set(range(count)))

    def test_suspended_campaign_is_held_until_resumed(self):
        self.assertEqual(self.call("POST", "/api/v1/suspend?campaign=spring"),
                         {"suspended": {"campaign": "spring"}})
        held = [{"email": f"held{i}@d{i + 1:04d}.test", "substitutions": {"name": str(i)}}
                for i in range(20)]
        free = [{"email": f"free{i}@d{i + 1:04d}.test", "substitutions": {"name": str(i)}}
                for i in range(20)]
        self.inject(held, campaign="spring")
        self.inject(free, campaign="autumn")
        self.receiver.wait_for_records(
            lambda rs: {r["email"] for r in free} <= self.delivered_to(rs), 60)
        # The other campaign's mail, sent after the held one, has all arrived
        # and none of the held campaign's has.
        self.assertFalse({r["email"] for r in held} & self.delivered_to(self.receiver.messages()))
        # The live queues count those 20 in their rate, with nothing in flight.
        wait_until(lambda: self.live_totals() == (20, 0), 30,
                   "20 delivered in the last minute, none in flight")
        queued = self.call("GET", "/api/v1/queues?campaign=spring&group_by=campaign")
        self.assertEqual(queued["groups"],
                         [{"key": "spring", "envelopes": 20, "recipients": 20,
                           "ages": [20, 0, 0, 0, 0, 0, 0, 0, 0, 0]}])
        self.assertEqual(self.call("POST", "/api/v1/resume?campaign=spring"),
                         {"resumed": {"campaign": "spring"}})
        records = self.receiver.wait_for_records(
            lambda rs: {r["email"] for r in held} <= self.delivered_to(rs), 60)
        self.assertEqual(len(records), 40)

    def live_totals(self):
        """(recipients delivered in the last minute, messages in flight) over
        every live site queue."""
        queues = self.call("GET", "/api/v1/sites")["queues"]
        return (sum(q["delivered_per_minute"] for q in queues),
                sum(q["in_flight"] for q in queues))

    def ready_at(self, site):
        return sum(q["ready"] for q in self.call("GET", "/api/v1/sites")["queues"]
                   if q["site"] == site)

    def test_campaign_suspended_while_waiting_in_a_site_queue_is_held(self):
        # The site is suspended first, so the campaign's mail is routed and
        # waits in the site's ready queue when the campaign is suspended.
        self.call("POST", "/api/v1/suspend?site=mx:mx1.sites.test")
        late = [{"email": f"late{i}@d{4 * i + 2:04d}.test"} for i in range(8)]  # all on mx1
        self.inject(late, campaign="late")
        wait_until(lambda: self.ready_at("mx:mx1.sites.test") == 8, 60, "8 ready at mx1")
        self.call("POST", "/api/v1/suspend?campaign=late")
        self.call("POST", "/api/v1/resume?site=mx:mx1.sites.test")
        # Each is read for sending, found suspended and held instead.
        wait_until(lambda: self.sluice.metric("sluice_delivery_scheduled_messages") == 8 and
                   self.ready_at("mx:mx1.sites.test") == 0, 60, "8 held")
        self.assertEqual(self.receiver.messages(), [])
        self.call("POST", "/api/v1/resume?campaign=late")
        records = self.receiver.wait_for_records(
            lambda rs: self.delivered_to(rs) == {r["email"] for r in late}, 60)
        self.assertEqual(len(records), 8)

    def test_bounce_by_campaign_sends_dsns_for_that_campaign_only(self):
        self.call("POST", "/api/v1/suspend?campaign=stale")
        stale = [{"email": f"stale{i}@d{i + 1:04d}.test"} for i in range(5)]
        self.inject(stale, campaign="stale")
        self.inject([{"email": "keep@d0100.test"}], campaign="fresh")
        self.receiver.wait_for_records(lambda rs: "keep@d0100.test" in self.delivered_to(rs), 60)
        self.assertEqual(self.call("POST", "/api/v1/bounce?campaign=stale&reason=withdrawn"),
                         {"bounced": 5})
        records = self.receiver.wait_for_records(
            lambda rs: sum(r["mail_from"] == "" for r in rs) >= 5, 60)
        dsns = [parse(r) for r in records if r["mail_from"] == ""]
        self.assertEqual(len(dsns), 5)
        failed = set()
        for dsn in dsns:
            self.assertEqual(dsn.get_content_type(), "multipart/report")
            self.assertIn("withdrawn", dsn.as_string())
            for part in dsn.walk():
                if part.get_content_type() == "message/delivery-status":
                    for block in part.get_payload():
                        if block.get("Final-Recipient"):
                            failed.add(block["Final-Recipient"].split(";", 1)[1].strip())
        self.assertEqual(failed, {r["email"] for r in stale})
        self.assertEqual(self.delivered_to(records), {"keep@d0100.test"})
        events = self.sluice.wait_events(
            lambda ev: sum(e["type"] == "bounced" for e in ev) == 5, what="five bounces")
        self.assertEqual({e["recipient"] for e in events if e["type"] == "bounced"},
                         {r["email"] for r in stale})


if __name__ == "__main__":
    unittest.main()
