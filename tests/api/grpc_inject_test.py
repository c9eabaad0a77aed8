"""sluice.v1.Injection/Inject against a running sluiced, with Debian's
python3-grpcio as the client (the message classes come from Debian's protoc
at test time, from the published api/proto): over h2c on the HTTP listener,
the answer only once the messages are spooled (each readable at once
through the admin API), errors as gRPC statuses naming the field, the API
keys as metadata, gzip-compressed requests, and 10,000 recipients in one
call.

Run by run_python_test.sh with the runfiles root as the first argument.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tools.testbed.sluice_instance import SluiceInstance  # noqa: E402

try:
    import grpc  # noqa: E402
except ImportError:
    raise AssertionError("python3 cannot import grpc: install the Debian package python3-grpcio")

SLUICED = os.path.join(ROOT, "server", "sluiced")
PROTO_ROOT = os.path.join(ROOT, "api", "proto")
TOKEN = "grpc-inject-token-0123456789"
READ_ONLY = "grpc-read-token-0123456789"


def generated_modules(work):
    """sluice/v1/injection_pb2 and grpc/health/v1/health_pb2, made by protoc
    from the published protos."""
    if shutil.which("protoc") is None:
        raise AssertionError("protoc is missing (Debian package protobuf-compiler)")
    os.makedirs(work, exist_ok=True)
    subprocess.run(["protoc", f"-I{PROTO_ROOT}", f"--python_out={work}",
                    os.path.join(PROTO_ROOT, "sluice", "v1", "injection.proto"),
                    os.path.join(PROTO_ROOT, "grpc", "health", "v1", "health.proto")],
                   check=True)
    sys.path.insert(0, work)
    # Not "grpc.health": that name is the grpcio package's.
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "health_pb2", os.path.join(work, "grpc", "health", "v1", "health_pb2.py"))
    health_pb2 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(health_pb2)
    from sluice.v1 import injection_pb2
    return injection_pb2, health_pb2


class GrpcInjectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="sluice-grpc-")
        cls.pb, cls.health = generated_modules(os.path.join(cls.work, "gen"))
        cls.sluice = SluiceInstance(SLUICED, os.path.join(cls.work, "data"), f"""
[dns]
servers = ["127.0.0.1:9"]

[[api_keys]]
name = "app"
token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"
scopes = ["inject"]

[[api_keys]]
name = "dashboard"
token_sha256 = "{hashlib.sha256(READ_ONLY.encode()).hexdigest()}"
scopes = ["read"]
""")
        cls.sluice.start()
        host, port = cls.sluice.http
        cls.channel = grpc.insecure_channel(f"{host}:{port}")
        cls.inject = cls.channel.unary_unary(
            "/sluice.v1.Injection/Inject",
            request_serializer=cls.pb.InjectRequest.SerializeToString,
            response_deserializer=cls.pb.InjectResponse.FromString)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.sluice.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def call(self, request, token=TOKEN, **kwargs):
        return self.inject(request, metadata=[("authorization", f"Bearer {token}")], timeout=60,
                           **kwargs)

    def message(self, message_id):
        host, port = self.sluice.http
        request = urllib.request.Request(f"http://{host}:{port}/api/v1/messages/{message_id}",
                                         headers={"Authorization": f"Bearer {READ_ONLY}"})
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())

    def request(self, recipients, **fields):
        return self.pb.InjectRequest(
            subject="Hello {{first}}", text="Dear {{first}} of {{company}}.",
            substitutions={"company": "Example & Co"},
            recipients=recipients, **fields, **{"from": self.pb.Mailbox(email="news@example.com",
                                                                         name="News")})

    def test_inject_answers_once_spooled_with_each_recipients_message(self):
        request = self.request([
            self.pb.Recipient(email="ada@example.net", substitutions={"first": "Ada"}),
            self.pb.Recipient(email="not an address"),
            self.pb.Recipient(email="bob@example.org", substitutions={"first": "Bob"})],
            tenant="acme", campaign="spring", request_id="r-1")
        response = self.call(request)
        self.assertEqual(response.request_id, "r-1")
        self.assertEqual([(a.index, a.email) for a in response.accepted],
                         [(0, "ada@example.net"), (2, "bob@example.org")])
        [rejected] = response.rejected
        self.assertEqual(rejected.index, 1)
        self.assertTrue(rejected.reason.startswith("recipients[1].email: "), rejected.reason)
        # OK came after the durable commit: the messages are there now.
        for accepted in response.accepted:
            stored = self.message(accepted.message_id)
            self.assertEqual(stored["tenant"], "acme")
            self.assertEqual(stored["campaign"], "spring")
            self.assertEqual([r["address"] for r in stored["recipients"]], [accepted.email])

    def test_bad_arguments_name_the_field(self):
        with self.assertRaises(grpc.RpcError) as error:
            self.call(self.pb.InjectRequest(recipients=[self.pb.Recipient(email="a@example.com")],
                                            text="no sender"))
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(error.exception.details().startswith("from: "), error.exception.details())
        with self.assertRaises(grpc.RpcError) as error:
            self.call(self.request([]))
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("recipients", error.exception.details())

    def test_keys_are_checked(self):
        request = self.request([self.pb.Recipient(email="a@example.com")])
        for token, code in (("wrong-token", grpc.StatusCode.UNAUTHENTICATED),
                            (READ_ONLY, grpc.StatusCode.PERMISSION_DENIED)):
            with self.assertRaises(grpc.RpcError) as error:
                self.call(request, token=token)
            self.assertEqual(error.exception.code(), code)
        with self.assertRaises(grpc.RpcError) as error:
            self.inject(request, timeout=30)
        self.assertEqual(error.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

    def test_a_gzip_compressed_request(self):
        request = self.request([self.pb.Recipient(email="zip@example.com",
                                                  substitutions={"first": "Z" * 5000})])
        response = self.call(request, compression=grpc.Compression.Gzip)
        self.assertEqual(len(response.accepted), 1)

    def test_ten_thousand_recipients_in_one_call(self):
        recipients = [self.pb.Recipient(email=f"r{i}@d{i % 10}.example",
                                        substitutions={"first": f"R{i}"}) for i in range(10_000)]
        response = self.call(self.request(recipients))
        self.assertEqual(len(response.accepted), 10_000)
        self.assertEqual(len({a.message_id for a in response.accepted}), 10_000)
        self.assertEqual(len(response.rejected), 0)

    def test_health_checking_says_serving(self):
        check = self.channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=self.health.HealthCheckRequest.SerializeToString,
            response_deserializer=self.health.HealthCheckResponse.FromString)
        serving = self.health.HealthCheckResponse.SERVING
        self.assertEqual(check(self.health.HealthCheckRequest(), timeout=30).status, serving)
        self.assertEqual(check(self.health.HealthCheckRequest(service="sluice.v1.Injection"),
                               timeout=30).status, serving)
        with self.assertRaises(grpc.RpcError) as error:
            check(self.health.HealthCheckRequest(service="other.Service"), timeout=30)
        self.assertEqual(error.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_an_unknown_method_is_unimplemented(self):
        other = self.channel.unary_unary("/sluice.v1.Injection/Nope",
                                         request_serializer=lambda m: m,
                                         response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as error:
            other(b"", metadata=[("authorization", f"Bearer {TOKEN}")], timeout=30)
        self.assertEqual(error.exception.code(), grpc.StatusCode.UNIMPLEMENTED)


if __name__ == "__main__":
    unittest.main()
