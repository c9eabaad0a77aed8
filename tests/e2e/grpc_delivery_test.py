"""End-to-end over gRPC: messages injected with python3-grpcio, on one
InjectStream and in unary Inject calls, reach real receivers on loopback,
found through real DNS (NSD), each recipient's substitutions in its subject,
text and HTML, attachments intact, and raw RFC 5322 content delivered as
sent.

The topology is http_delivery_test's (fault receivers on 127.0.0.40-43,
NSD serving 1,000 generated domains over four sites); only the API that
injects differs. Runs under run_python_test.sh (runfiles root first).
"""

import email
import email.policy
import os
import sys
import tempfile
import unittest

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tools.testbed.dns_zone import NsdServer, generate  # noqa: E402
from tools.testbed.fault_receiver import FaultConfig, FaultReceiver  # noqa: E402
from tools.testbed.grpc_protos import generated_modules, import_grpc  # noqa: E402
from tools.testbed.sluice_instance import SluiceInstance, delivery_toml  # noqa: E402

grpc = import_grpc()

SLUICED = os.path.join(ROOT, "server", "sluiced")
PROTO_ROOT = os.path.join(ROOT, "api", "proto")
SITES = ["127.0.0.40", "127.0.0.41", "127.0.0.42", "127.0.0.43"]
SENDER = "app@sender.test"
TMP = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()

dns = None
pb = None


def setUpModule():
    global dns, pb
    pb, _ = generated_modules(PROTO_ROOT, os.path.join(TMP, "gen"))
    zone, _ = generate(domains=1000, sites=4, base_ip=40)
    zone.mx("sender.test", 10, "mx0.sites.test")
    dns = NsdServer([zone])
    dns.start()


def tearDownModule():
    dns.stop()


def parse(record):
    return email.message_from_bytes(record["data"], policy=email.policy.default)


def part(message, content_type):
    return next(p for p in message.walk() if p.get_content_type() == content_type)


class GrpcDeliveryTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=TMP)
        self.receiver = FaultReceiver(SITES, port=0, config=FaultConfig(), keep_data=True,
                                      starttls=False).start()
        self.sluice = SluiceInstance(SLUICED, os.path.join(self.dir, "data"), delivery_toml(
            dns.address, self.receiver.port,
            limits='idle_timeout = "1s"\nmax_connections = 8\ninitial_connections = 8\n')).start()
        host, port = self.sluice.http
        self.channel = grpc.insecure_channel(f"{host}:{port}")
        self.inject = self.channel.unary_unary(
            "/sluice.v1.Injection/Inject", request_serializer=pb.InjectRequest.SerializeToString,
            response_deserializer=pb.InjectResponse.FromString)
        self.inject_stream = self.channel.stream_stream(
            "/sluice.v1.Injection/InjectStream",
            request_serializer=pb.InjectRequest.SerializeToString,
            response_deserializer=pb.InjectResponse.FromString)

    def tearDown(self):
        self.channel.close()
        self.sluice.kill()
        self.receiver.stop()

    def test_streamed_requests_arrive_personalised_with_their_attachments(self):
        count = 1000  # requests, of two recipients each
        def request(i):
            return pb.InjectRequest(
                subject="Order {{order}} for {{name}}",
                text="Dear {{name}}, order {{order}} from {{company}}.",
                html="<p>Dear {{name}}, order <b>{{order}}</b></p>",
                substitutions={"company": "Example & Co"},
                attachments=[pb.Attachment(filename=f"invoice-{i}.bin",
                                           content_type="application/octet-stream",
                                           content=bytes([i % 256]) * 3000 + b"\0\r\n")],
                recipients=[pb.Recipient(email=f"a{i}@d{i % 1000 + 1:04d}.test",
                                         substitutions={"name": f"Ådä {i} <&>",
                                                        "order": f"A-{i}"}),
                            pb.Recipient(email=f"b{i}@d{(i + 500) % 1000 + 1:04d}.test",
                                         substitutions={"name": f"Bob {i}", "order": f"B-{i}"})],
                campaign="grpc", request_id=f"q-{i}",
                **{"from": pb.Mailbox(email=SENDER, name="App")})

        answers = list(self.inject_stream((request(i) for i in range(count)), timeout=300))
        self.assertEqual([a.request_id for a in answers], [f"q-{i}" for i in range(count)])
        self.assertTrue(all(len(a.accepted) == 2 and a.error_code == 0 for a in answers))

        records = self.receiver.wait_for_records(lambda rs: len(rs) >= 2 * count, 600)
        self.assertEqual(len(records), 2 * count)
        seen = set()
        for record in records:
            self.assertEqual(record["mail_from"], SENDER)
            [rcpt] = record["rcpts"]
            local = rcpt.split("@")[0]
            i = int(local[1:])
            name, order = ((f"Ådä {i} <&>", f"A-{i}") if local[0] == "a" else
                           (f"Bob {i}", f"B-{i}"))
            seen.add(local)
            message = parse(record)
            self.assertEqual(message["Subject"], f"Order {order} for {name}")
            self.assertIn(rcpt, message["To"])
            self.assertEqual(part(message, "text/plain").get_content().rstrip("\r\n"),
                             f"Dear {name}, order {order} from Example & Co.")
            escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            self.assertEqual(part(message, "text/html").get_content().rstrip("\r\n"),
                             f"<p>Dear {escaped}, order <b>{order}</b></p>")
            attachment = part(message, "application/octet-stream")
            self.assertEqual(attachment.get_filename(), f"invoice-{i}.bin")
            self.assertEqual(attachment.get_content(), bytes([i % 256]) * 3000 + b"\0\r\n")
        self.assertEqual(len(seen), 2 * count)

    def test_raw_content_in_a_unary_call_is_delivered_as_sent(self):
        content = ("From: App <app@sender.test>\r\nTo: Raw <raw@d0007.test>\r\n"
                   "Subject: Raw over gRPC\r\nMIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                   "Line one.\r\n.Line with a leading dot.\r\nÜnïcode.\r\n")
        response = self.inject(pb.InjectRequest(
            content=content.encode(), envelope_sender=SENDER,
            recipients=[pb.Recipient(email="raw@d0007.test")]), timeout=60)
        self.assertEqual(len(response.accepted), 1)
        [record] = self.receiver.wait_for_records(lambda rs: len(rs) >= 1, 120)
        self.assertEqual(record["rcpts"], ["raw@d0007.test"])
        message = parse(record)
        self.assertEqual(message["Subject"], "Raw over gRPC")
        self.assertEqual(message.get_content(),
                         "Line one.\r\n.Line with a leading dot.\r\nÜnïcode.\r\n")
        # Sent as given, with sluice's Message-ID and Date added.
        self.assertTrue(record["data"].endswith(content.split("\r\n\r\n", 1)[1].encode()))
        self.assertIsNotNone(message["Message-ID"])


if __name__ == "__main__":
    unittest.main()
