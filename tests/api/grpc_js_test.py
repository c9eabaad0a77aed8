"""sluice's gRPC API with a client nobody here wrote for it: @grpc/grpc-js
(npm, with @grpc/proto-loader reading the published protos at run time)
runs tests/api/grpc_js_client.js against a running sluiced. A unary Inject
is answered with its message id and the message is spooled, a wrong key is
UNAUTHENTICATED, a request without a sender INVALID_ARGUMENT naming "from",
an InjectStream of 50 requests is answered in order, health checking says
SERVING, and grpc-js-reflection-client (npm) learns the services and their
messages through server reflection (v1alpha and v1) alone and injects with
what it learnt, as grpcurl would.

Run by run_python_test.sh with the runfiles root as the first argument.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tools.testbed.sluice_instance import SluiceInstance, api_keys_toml  # noqa: E402

SLUICED = os.path.join(ROOT, "server", "sluiced")
CLIENT = os.path.join(ROOT, "tests", "api", "grpc_js_client.js")
PROTO_ROOT = os.path.join(ROOT, "api", "proto")
NODE_MODULES = os.path.join(os.environ.get("HOME", "/root"), ".cache", "sluice-npm",
                            "node_modules")
TOKEN = "grpc-js-token-0123456789"
READ_ONLY = "grpc-js-read-0123456789"


class GrpcJsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("node") is None:
            raise AssertionError("node is missing (Debian package nodejs)")
        for package in ("grpc-js", "proto-loader"):
            if not os.path.isfile(os.path.join(NODE_MODULES, "@grpc", package, "package.json")):
                raise AssertionError(f"@grpc/{package} is missing (npm; scripts/deps.sh installs "
                                     "it into ~/.cache/sluice-npm)")
        cls.work = tempfile.mkdtemp(prefix="sluice-grpc-js-")
        cls.sluice = SluiceInstance(SLUICED, os.path.join(cls.work, "data"), """
[dns]
servers = ["127.0.0.1:9"]
""" + api_keys_toml({"app": (TOKEN, ["inject"]), "reader": (READ_ONLY, ["read"])}))
        cls.sluice.start()
        host, port = cls.sluice.http
        client = subprocess.run(["node", CLIENT, PROTO_ROOT, f"{host}:{port}", TOKEN],
                                env=dict(os.environ, NODE_PATH=NODE_MODULES),
                                capture_output=True, text=True, timeout=300)
        if client.returncode != 0:
            raise AssertionError(f"grpc_js_client.js failed:\n{client.stderr}")
        cls.out = json.loads(client.stdout)

    @classmethod
    def tearDownClass(cls):
        cls.sluice.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def message(self, message_id):
        return self.sluice.get_json(f"/api/v1/messages/{message_id}", READ_ONLY)

    def test_unary_inject_is_answered_once_spooled(self):
        unary = self.out["unary"]
        self.assertEqual(unary["code"], 0, unary)
        response = unary["response"]
        self.assertEqual(response["request_id"], "js-0")
        [accepted] = response["accepted"]
        self.assertEqual(accepted["email"], "js0@example.net")
        stored = self.message(accepted["message_id"])
        self.assertEqual(stored["tenant"], "nodejs")
        self.assertEqual([r["address"] for r in stored["recipients"]], ["js0@example.net"])

    def test_wrong_key_is_unauthenticated(self):
        self.assertEqual(self.out["wrong_key"]["code"], 16)  # UNAUTHENTICATED

    def test_missing_sender_is_invalid_argument_naming_the_field(self):
        invalid = self.out["invalid"]
        self.assertEqual(invalid["code"], 3)  # INVALID_ARGUMENT
        self.assertTrue(invalid["details"].startswith("from: "), invalid)

    def test_stream_answers_every_request_in_order(self):
        stream = self.out["stream"]
        self.assertEqual(stream["code"], 0, stream)
        answers = stream["answers"]
        self.assertEqual([a["request_id"] for a in answers], [f"js-{100 + i}" for i in range(50)])
        for i, answer in enumerate(answers):
            self.assertEqual(answer["error_code"], 0, answer)
            self.assertEqual([a["email"] for a in answer["accepted"]], [f"js{100 + i}@example.net"])
        self.message(answers[-1]["accepted"][0]["message_id"])

    def test_reflection_lists_the_services_and_describes_them_well_enough_to_call(self):
        for version in ("v1alpha", "v1"):
            reflected = self.out[f"reflection_{version}"]
            self.assertEqual(sorted(reflected["services"]), sorted([
                "sluice.v1.Injection", "sluice.v1.Admin", "grpc.health.v1.Health",
                "grpc.reflection.v1alpha.ServerReflection",
                "grpc.reflection.v1.ServerReflection"]))
            answer = reflected["answer"]
            self.assertEqual(answer["code"], 0, answer)
            [accepted] = answer["response"]["accepted"]
            self.message(accepted["message_id"])
            self.assertIn("Retry", reflected["admin_methods"])
            self.assertIn("AddSuppressions", reflected["admin_methods"])

    def test_health_check_is_serving(self):
        self.assertEqual(self.out["health"], {"code": 0, "status": "SERVING"})


if __name__ == "__main__":
    unittest.main()
