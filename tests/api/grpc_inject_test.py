"""sluice.v1.Injection/Inject and InjectStream against a running sluiced,
with Debian's python3-grpcio as the client (the message classes come from
Debian's protoc at test time, from the published api/proto): over h2c on
the HTTP listener, the answer only once the messages are spooled (each
readable at once through the admin API), errors as gRPC statuses naming the
field, the API keys as metadata, gzip-compressed requests, and 10,000
recipients in one call. On a stream: answers in order, per-request errors
that do not end it, cancellation and deadlines mid-stream, and an
oversized message that ends only its own stream. Health Check and Watch;
a stop with streams open ends them with UNAVAILABLE.

Run by run_python_test.sh with the runfiles root as the first argument.
"""

import os
import shutil
import sys
import tempfile
import threading
import unittest

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tools.testbed.grpc_protos import (generated_modules, import_grpc,  # noqa: E402
                                      rpc_status_module)
from tools.testbed.sluice_instance import SluiceInstance, api_keys_toml  # noqa: E402

grpc = import_grpc()

SLUICED = os.path.join(ROOT, "server", "sluiced")
PROTO_ROOT = os.path.join(ROOT, "api", "proto")
TOKEN = "grpc-inject-token-0123456789"
READ_ONLY = "grpc-read-token-0123456789"
LIMITED = "grpc-limited-token-0123456789"


class GrpcInjectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="sluice-grpc-")
        cls.pb, cls.health = generated_modules(PROTO_ROOT, os.path.join(cls.work, "gen"))
        cls.rpc = rpc_status_module(os.path.join(cls.work, "gen"))
        cls.sluice = SluiceInstance(SLUICED, os.path.join(cls.work, "data"), """
[dns]
servers = ["127.0.0.1:9"]
""" + api_keys_toml({"app": (TOKEN, ["inject"]), "dashboard": (READ_ONLY, ["read"]),
                     "slow": (LIMITED, ["inject"], "rate_per_second = 1\nburst = 1\n")}))
        cls.sluice.start()
        host, port = cls.sluice.http
        cls.channel = grpc.insecure_channel(f"{host}:{port}")
        cls.inject = cls.channel.unary_unary(
            "/sluice.v1.Injection/Inject",
            request_serializer=cls.pb.InjectRequest.SerializeToString,
            response_deserializer=cls.pb.InjectResponse.FromString)
        cls.inject_stream = cls.channel.stream_stream(
            "/sluice.v1.Injection/InjectStream",
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

    def stream(self, requests, token=TOKEN, timeout=120, **kwargs):
        return self.inject_stream(iter(requests), metadata=[("authorization", f"Bearer {token}")],
                                  timeout=timeout, **kwargs)

    def message(self, message_id):
        return self.sluice.get_json(f"/api/v1/messages/{message_id}", READ_ONLY)

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

    def test_inject_over_h2_on_the_https_listener(self):
        # The certificate sluiced made for itself (subjectAltName localhost,
        # 127.0.0.1), trusted as the root: the TLS is verified.
        with open(os.path.join(self.work, "data", "tls", "selfsigned.crt"), "rb") as f:
            root = f.read()
        host, port = self.sluice.https
        with grpc.secure_channel(f"{host}:{port}", grpc.ssl_channel_credentials(root),
                                 options=[("grpc.ssl_target_name_override", "localhost")]) as tls:
            inject = tls.unary_unary("/sluice.v1.Injection/Inject",
                                     request_serializer=self.pb.InjectRequest.SerializeToString,
                                     response_deserializer=self.pb.InjectResponse.FromString)
            response = inject(self.request([self.pb.Recipient(email="tls@example.com")]),
                              metadata=[("authorization", f"Bearer {TOKEN}")], timeout=60)
        [accepted] = response.accepted
        self.assertEqual(self.message(accepted.message_id)["recipients"][0]["address"],
                         "tls@example.com")

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

    def test_a_rate_limited_key_is_told_when_to_try_again(self):
        request = self.request([self.pb.Recipient(email="rate@example.com")])
        self.assertEqual(len(self.call(request, token=LIMITED).accepted), 1)
        with self.assertRaises(grpc.RpcError) as error:
            self.call(request, token=LIMITED)  # the burst of one is spent
        self.assertEqual(error.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        details = dict(error.exception.trailing_metadata())["grpc-status-details-bin"]
        status = self.rpc.Status.FromString(details)
        self.assertEqual(status.code, grpc.StatusCode.RESOURCE_EXHAUSTED.value[0])
        [detail] = status.details
        retry = self.rpc.RetryInfo()
        self.assertTrue(detail.Unpack(retry), detail.type_url)
        self.assertGreaterEqual(retry.retry_delay.seconds, 1)

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

    def test_health_watch_sends_the_status_at_once_and_ends_on_cancel(self):
        watch = self.channel.unary_stream(
            "/grpc.health.v1.Health/Watch",
            request_serializer=self.health.HealthCheckRequest.SerializeToString,
            response_deserializer=self.health.HealthCheckResponse.FromString)
        status = self.health.HealthCheckResponse
        for service, expected in (("", status.SERVING), ("sluice.v1.Injection", status.SERVING),
                                  ("other.Service", status.SERVICE_UNKNOWN)):
            call = watch(self.health.HealthCheckRequest(service=service), timeout=30)
            self.assertEqual(next(call).status, expected)
            call.cancel()
            with self.assertRaises(grpc.RpcError) as error:
                next(call)
            self.assertEqual(error.exception.code(), grpc.StatusCode.CANCELLED)

    def test_an_unknown_method_is_unimplemented(self):
        other = self.channel.unary_unary("/sluice.v1.Injection/Nope",
                                         request_serializer=lambda m: m,
                                         response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as error:
            other(b"", metadata=[("authorization", f"Bearer {TOKEN}")], timeout=30)
        self.assertEqual(error.exception.code(), grpc.StatusCode.UNIMPLEMENTED)


    def test_stream_answers_each_request_in_order_once_spooled(self):
        requests = [self.request([self.pb.Recipient(email=f"s{i}@example.net",
                                                    substitutions={"first": f"S{i}"}),
                                  self.pb.Recipient(email=f"t{i}@example.org")],
                                 request_id=f"s-{i}", campaign="streamed")
                    for i in range(500)]
        answers = []
        for answer in self.stream(requests):
            answers.append(answer)
            if len(answers) % 50 == 1:
                # Answered means durable: readable now, while the stream runs.
                stored = self.message(answer.accepted[0].message_id)
                self.assertEqual(stored["campaign"], "streamed")
        self.assertEqual([a.request_id for a in answers], [f"s-{i}" for i in range(500)])
        for i, answer in enumerate(answers):
            self.assertEqual(answer.error_code, 0, answer.error_message)
            self.assertEqual([a.email for a in answer.accepted],
                             [f"s{i}@example.net", f"t{i}@example.org"])

    def test_stream_request_that_stores_nothing_gets_its_error_and_the_stream_goes_on(self):
        good = self.request([self.pb.Recipient(email="g@example.com")], request_id="good")
        bad = self.pb.InjectRequest(recipients=[self.pb.Recipient(email="b@example.com")],
                                    text="no sender", request_id="bad")
        answers = list(self.stream([good, bad, good]))
        self.assertEqual([a.request_id for a in answers], ["good", "bad", "good"])
        self.assertEqual(len(answers[0].accepted), 1)
        self.assertEqual(answers[1].error_code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertTrue(answers[1].error_message.startswith("from: "), answers[1].error_message)
        self.assertEqual(len(answers[1].accepted), 0)
        self.assertEqual(len(answers[2].accepted), 1)

    def blocked_after(self, count, release):
        """Requests: `count` of them, then none until `release` is set."""
        for i in range(count):
            yield self.request([self.pb.Recipient(email=f"c{i}@example.com")], request_id=f"c-{i}")
        release.wait(60)

    def test_stream_cancelled_midway_leaves_the_server_serving(self):
        release = threading.Event()
        call = self.stream(self.blocked_after(3, release))
        answers = [next(call) for _ in range(3)]
        self.assertEqual([a.request_id for a in answers], ["c-0", "c-1", "c-2"])
        call.cancel()
        release.set()
        with self.assertRaises(grpc.RpcError) as error:
            next(call)
        self.assertEqual(error.exception.code(), grpc.StatusCode.CANCELLED)
        # What was answered stays; new calls and streams are served.
        for answer in answers:
            self.message(answer.accepted[0].message_id)
        self.assertEqual(len(self.call(self.request([self.pb.Recipient(
            email="after@example.com")])).accepted), 1)
        self.assertEqual(len(list(self.stream([self.request([self.pb.Recipient(
            email="again@example.com")])]))), 1)

    def test_stream_deadline_ends_it_and_the_server_goes_on(self):
        release = threading.Event()
        call = self.stream(self.blocked_after(1, release), timeout=3)
        self.assertEqual(next(call).request_id, "c-0")
        with self.assertRaises(grpc.RpcError) as error:
            next(call)  # the client sends nothing more until the deadline
        release.set()
        self.assertEqual(error.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertEqual(len(list(self.stream([self.request([self.pb.Recipient(
            email="later@example.com")])]))), 1)

    def test_stream_keys_are_checked(self):
        request = self.request([self.pb.Recipient(email="k@example.com")])
        for token, code in (("wrong-token", grpc.StatusCode.UNAUTHENTICATED),
                            (READ_ONLY, grpc.StatusCode.PERMISSION_DENIED)):
            with self.assertRaises(grpc.RpcError) as error:
                list(self.stream([request], token=token))
            self.assertEqual(error.exception.code(), code)

    def test_stream_gzip(self):
        requests = [self.request([self.pb.Recipient(email=f"z{i}@example.com",
                                                    substitutions={"first": "Z" * 3000})],
                                 request_id=f"z-{i}") for i in range(20)]
        answers = list(self.stream(requests, compression=grpc.Compression.Gzip))
        self.assertEqual([len(a.accepted) for a in answers], [1] * 20)

    def test_stream_oversized_message_ends_only_that_stream(self):
        huge = self.request([self.pb.Recipient(email="h@example.com")], request_id="huge",
                            attachments=[self.pb.Attachment(filename="big.bin",
                                                            content=b"\0" * (64 << 20))])
        small = self.request([self.pb.Recipient(email="s@example.com")], request_id="small")
        call = self.stream([small, huge, small])
        self.assertEqual(next(call).request_id, "small")
        # Another stream on the same connection is served meanwhile.
        self.assertEqual(len(list(self.stream([small]))), 1)
        with self.assertRaises(grpc.RpcError) as error:
            next(call)
        self.assertEqual(error.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(len(self.call(small).accepted), 1)



class GrpcStopTest(unittest.TestCase):
    """A stop with streams open: what was answered stays answered, the
    streams end with UNAVAILABLE, and sluiced exits cleanly."""

    def test_stop_ends_open_streams_with_unavailable(self):
        work = tempfile.mkdtemp(prefix="sluice-grpc-stop-")
        self.addCleanup(shutil.rmtree, work, True)
        pb, health = generated_modules(PROTO_ROOT, os.path.join(work, "gen"))
        sluice = SluiceInstance(SLUICED, os.path.join(work, "data"), """
[dns]
servers = ["127.0.0.1:9"]
""" + api_keys_toml({"app": (TOKEN, ["inject"])}))
        sluice.start()
        host, port = sluice.http
        channel = grpc.insecure_channel(f"{host}:{port}")
        self.addCleanup(channel.close)
        stream = channel.stream_stream(
            "/sluice.v1.Injection/InjectStream",
            request_serializer=pb.InjectRequest.SerializeToString,
            response_deserializer=pb.InjectResponse.FromString)
        watch = channel.unary_stream(
            "/grpc.health.v1.Health/Watch",
            request_serializer=health.HealthCheckRequest.SerializeToString,
            response_deserializer=health.HealthCheckResponse.FromString)
        release = threading.Event()
        self.addCleanup(release.set)

        def requests():
            yield pb.InjectRequest(text="hi", recipients=[pb.Recipient(email="s@example.com")],
                                   request_id="before-stop",
                                   **{"from": pb.Mailbox(email="app@example.com")})
            release.wait(60)

        call = stream(requests(), metadata=[("authorization", f"Bearer {TOKEN}")], timeout=60)
        self.assertEqual(next(call).request_id, "before-stop")
        watching = watch(health.HealthCheckRequest(), timeout=60)
        self.assertEqual(next(watching).status, health.HealthCheckResponse.SERVING)
        sluice.stop()  # SIGTERM; raises unless sluiced exits 0 within 60 s
        for open_call in (call, watching):
            with self.assertRaises(grpc.RpcError) as error:
                next(open_call)
            self.assertEqual(error.exception.code(), grpc.StatusCode.UNAVAILABLE)


if __name__ == "__main__":
    unittest.main()
