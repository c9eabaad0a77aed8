"""live_sluiced: a real sluiced that has accepted and delivered mail, so its
/metrics shows the series a production one has (per-site and per-tenant
ones included), for the tests of the monitoring files.

    receiver, sluice = start(root, work_dir)   # both running; stop them after
    sluice.http                                 # ("127.0.0.1", port) of /metrics

sluiced (//server:sluiced from the runfiles) relays MESSAGES messages by a
static route to tools/testbed/fault_receiver.py on 127.0.0.1 with STARTTLS,
and start() returns once they are delivered and counted. promote_after = 1
gives the destination site its own series at once.
"""
import os

from tools.testbed.fault_receiver import FaultReceiver
from tools.testbed.sluice_instance import SluiceInstance, delivery_toml, wait_until

SENDER = "app@sender.test"
DOMAIN = "example.net"
MESSAGES = 2


def message(n):
    return (f"From: {SENDER}\r\nTo: rcpt{n}@{DOMAIN}\r\nSubject: metrics {n}\r\n"
            f"Message-ID: <metrics{n}@sender.test>\r\n\r\nHello {n}.\r\n").encode()


def start(root, work_dir):
    receiver = FaultReceiver(["127.0.0.1"], port=0).start()
    extra = f"""
[[dns.routes]]
domain = "{DOMAIN}"
hosts = ["127.0.0.1:{receiver.port}"]

[metrics]
promote_after = 1
"""
    # No DNS server is needed: the route sends everything to the receiver.
    sluice = SluiceInstance(os.path.join(root, "server", "sluiced"),
                            os.path.join(work_dir, "data"),
                            delivery_toml("127.0.0.1:1", receiver.port, extra=extra))
    try:
        sluice.start()
        for n in range(MESSAGES):
            sluice.send(SENDER, [f"rcpt{n}@{DOMAIN}"], message(n))
        receiver.wait_for_messages(MESSAGES, timeout=60)
        wait_until(lambda: sluice.metric("sluice_delivery_recipients_total",
                                         'result="delivered"') >= MESSAGES,
                   30, f"{MESSAGES} deliveries counted in /metrics")
    except BaseException:
        sluice.kill()
        receiver.stop()
        raise
    return receiver, sluice
