"""sluice.v1.Admin against a running sluiced, with python3-grpcio as the
client and the message classes made by protoc from the published
api/proto: reading a message, counting queues, the live sites, retry,
purge, bounce, suspend and resume, and the suppression list, each with the
HTTP admin API's scopes and rules, and errors as gRPC statuses naming the
field.

Run by run_python_test.sh with the runfiles root as the first argument.
"""

import os
import shutil
import sys
import tempfile
import unittest

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tools.testbed.grpc_protos import generated_modules, import_grpc  # noqa: E402
from tools.testbed.sluice_instance import SluiceInstance, api_keys_toml  # noqa: E402

grpc = import_grpc()

SLUICED = os.path.join(ROOT, "server", "sluiced")
PROTO_ROOT = os.path.join(ROOT, "api", "proto")
INJECT = "grpc-admin-inject-0123456789"
READ = "grpc-admin-read-0123456789"
ADMIN = "grpc-admin-admin-0123456789"


class GrpcAdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="sluice-grpc-admin-")
        cls.pb, _ = generated_modules(PROTO_ROOT, os.path.join(cls.work, "gen"))
        from sluice.v1 import admin_pb2
        cls.admin_pb = admin_pb2
        # Delivery runs, but nothing resolves (DNS on a closed port): what
        # is injected stays queued.
        cls.sluice = SluiceInstance(SLUICED, os.path.join(cls.work, "data"), """
[dns]
servers = ["127.0.0.1:9"]
""" + api_keys_toml({"app": (INJECT, ["inject"]), "reader": (READ, ["read"]),
                     "operator": (ADMIN, ["admin"])}))
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

    def admin(self, method, request, response_type, token=ADMIN):
        call = self.channel.unary_unary(f"/sluice.v1.Admin/{method}",
                                        request_serializer=type(request).SerializeToString,
                                        response_deserializer=response_type.FromString)
        return call(request, metadata=[("authorization", f"Bearer {token}")], timeout=60)

    def error(self, method, request, response_type, token=ADMIN):
        with self.assertRaises(grpc.RpcError) as caught:
            self.admin(method, request, response_type, token)
        return caught.exception

    def send(self, recipients, tenant, campaign=""):
        request = self.pb.InjectRequest(
            subject="Hi", text="Hello.", tenant=tenant, campaign=campaign,
            recipients=[self.pb.Recipient(email=r) for r in recipients],
            **{"from": self.pb.Mailbox(email="app@example.com")})
        response = self.inject(request, metadata=[("authorization", f"Bearer {INJECT}")],
                               timeout=60)
        return response

    def test_get_message_shows_the_envelope_as_spooled(self):
        a = self.admin_pb
        [accepted] = self.send(["get@example.net"], tenant="reading").accepted
        status = self.admin("GetMessage", a.GetMessageRequest(id=accepted.message_id),
                            a.MessageStatus, token=READ)
        self.assertEqual(status.id, accepted.message_id)
        self.assertEqual(status.sender, "app@example.com")
        self.assertEqual(status.tenant, "reading")
        self.assertEqual(status.domain, "example.net")
        [recipient] = status.recipients
        self.assertEqual(recipient.address, "get@example.net")
        # Not delivered: nothing resolves here, so it waits or is deferred.
        self.assertIn(recipient.state, ("pending", "deferred"))
        error = self.error("GetMessage", a.GetMessageRequest(id="nonsense"), a.MessageStatus)
        self.assertEqual(error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(error.details().startswith("id: "), error.details())
        missing = "0" * len(accepted.message_id)
        self.assertEqual(self.error("GetMessage", a.GetMessageRequest(id=missing),
                                    a.MessageStatus).code(), grpc.StatusCode.NOT_FOUND)

    def test_scopes_are_the_http_apis(self):
        a = self.admin_pb
        self.admin("CountQueues", a.CountQueuesRequest(), a.CountQueuesResponse, token=READ)
        self.assertEqual(self.error("Retry", a.Filter(tenant="x"), a.Affected, token=READ).code(),
                         grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(self.error("ListSites", a.ListSitesRequest(), a.ListSitesResponse,
                                    token=INJECT).code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(self.error("ListSites", a.ListSitesRequest(), a.ListSitesResponse,
                                    token="wrong").code(), grpc.StatusCode.UNAUTHENTICATED)

    def test_count_retry_purge_and_bounce_act_on_the_filter(self):
        a = self.admin_pb
        self.send([f"c{i}@count.example" for i in range(3)], tenant="counted")
        self.send(["other@count.example"], tenant="counted", campaign="spared")
        counts = self.admin("CountQueues", a.CountQueuesRequest(
            filter=a.Filter(tenant="counted"), group_by="campaign"), a.CountQueuesResponse)
        self.assertEqual(sorted((g.key, g.envelopes) for g in counts.groups),
                         [("", 3), ("spared", 1)])
        self.assertEqual((counts.envelopes, counts.recipients), (4, 4))
        self.assertEqual(self.admin("Retry", a.Filter(tenant="counted"), a.Affected).count, 4)
        self.assertEqual(self.admin("Bounce", a.BounceRequest(
            filter=a.Filter(campaign="spared"), reason="withdrawn"), a.Affected).count, 1)
        error = self.error("Purge", a.Filter(), a.Affected)
        self.assertEqual(error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(error.details().startswith("filter: "), error.details())
        self.send(["p@purge.example", "q@purge.example"], tenant="purged")
        self.assertEqual(self.admin("Purge", a.Filter(tenant="purged"), a.Affected).count, 2)
        left = self.admin("CountQueues", a.CountQueuesRequest(filter=a.Filter(tenant="purged")),
                          a.CountQueuesResponse)
        self.assertEqual(left.envelopes, 0)
        error = self.error("CountQueues", a.CountQueuesRequest(group_by="color"),
                           a.CountQueuesResponse)
        self.assertTrue(error.details().startswith("group_by: "), error.details())

    def test_suspend_resume_and_the_live_sites(self):
        a = self.admin_pb
        answer = self.admin("Suspend", a.Filter(domain="held.example"), a.Suspension)
        self.assertEqual(answer.suspended.domain, "held.example")
        self.assertEqual(self.admin("Resume", a.Filter(domain="held.example"),
                                    a.Suspension).suspended.domain, "held.example")
        error = self.error("Suspend", a.Filter(domain="a.example", tenant="t"), a.Suspension)
        self.assertEqual(error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("exactly one", error.details())
        self.admin("ListSites", a.ListSitesRequest(), a.ListSitesResponse, token=READ)

    def test_suppression_list_round_trip_refuses_injection(self):
        a = self.admin_pb
        added = self.admin("AddSuppressions", a.AddSuppressionsRequest(
            tenant="listed", entries=[a.Suppression(address="Gone@Example.ORG", reason="asked"),
                                      a.Suppression(address="also@example.org")]),
            a.AddSuppressionsResponse)
        self.assertEqual(added.added, 2)
        check = self.admin("CheckSuppression", a.CheckSuppressionRequest(
            tenant="listed", address="gone@example.org"), a.CheckSuppressionResponse, token=READ)
        self.assertTrue(check.suppressed)
        self.assertEqual((check.entry.address, check.entry.source, check.entry.reason),
                         ("gone@example.org", "operator", "asked"))
        page = self.admin("ListSuppressions", a.ListSuppressionsRequest(tenant="listed", limit=1),
                          a.ListSuppressionsResponse, token=READ)
        self.assertEqual([e.address for e in page.entries], ["also@example.org"])
        self.assertEqual(page.next, "also@example.org")
        rest = self.admin("ListSuppressions", a.ListSuppressionsRequest(
            tenant="listed", after=page.next), a.ListSuppressionsResponse, token=READ)
        self.assertEqual([e.address for e in rest.entries], ["gone@example.org"])
        # The tenant's list refuses injection for that tenant only.
        refused = self.send(["gone@example.org"], tenant="listed")
        self.assertEqual(len(refused.accepted), 0)
        self.assertIn("suppressed", refused.rejected[0].reason)
        self.assertEqual(len(self.send(["gone@example.org"], tenant="other").accepted), 1)
        self.assertEqual(self.admin("RemoveSuppression", a.RemoveSuppressionRequest(
            tenant="listed", address="gone@example.org"), a.Affected).count, 1)
        self.assertEqual(self.error("RemoveSuppression", a.RemoveSuppressionRequest(
            tenant="listed", address="gone@example.org"), a.Affected).code(),
            grpc.StatusCode.NOT_FOUND)
        self.assertFalse(self.admin("CheckSuppression", a.CheckSuppressionRequest(
            tenant="listed", address="gone@example.org"), a.CheckSuppressionResponse).suppressed)
        error = self.error("AddSuppressions", a.AddSuppressionsRequest(
            entries=[a.Suppression(address="fine@example.org"), a.Suppression(address="bad")]),
            a.AddSuppressionsResponse)
        self.assertEqual(error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(error.details().startswith("entries[1].address: "), error.details())


if __name__ == "__main__":
    unittest.main()
