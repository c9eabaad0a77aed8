"""The test bed of the sluicectl tests: a real sluiced with mail that stays
queued, and a way to run sluicectl against it.

- DNS: NSD with a generated zone of 40 domains dNNNN.test over four MX
  sites mx0-mx3.sites.test on 127.0.0.<base_ip>..+3 (dNNNN is on site
  (NNNN - 1) % 4: domain(site, n) names the n-th domain of a site), and an
  MX for sender.test (where DSNs go) on mx0.
- The receiver: tools/testbed/fault_receiver.py on those addresses,
  answering every RCPT 451 4.3.0, so nothing is ever delivered; retries
  are 10 minutes apart, so a message tried once stays as it is for the
  length of a test (`settle`).
- sluiced with three API keys: ADMIN (admin, inject), READER (read) and
  SLOW (read, one request a second, for the 429).

sluicectl is run as the operators run it: /usr/bin/python3
tools/sluicectl.py, with SLUICE_URL and SLUICE_TOKEN in its environment.
Every wait is on a condition with a deadline.
"""

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from tools.testbed.dns_zone import NsdServer, generate
from tools.testbed.fault_receiver import FaultConfig, FaultReceiver
from tools.testbed.sluice_instance import SluiceInstance, api_keys_toml, wait_until

PYTHON = "/usr/bin/python3"
ADMIN = "ops-token-0123456789abcdef"
READER = "reader-token-0123456789abcdef"
SLOW = "slow-token-0123456789abcdef"
SENDER = "app@sender.test"


def site_key(site):
    return f"mx:mx{site}.sites.test"


def domain(site, n):
    """The n-th (from 0) domain whose MX is mx<site>."""
    return f"d{4 * n + site + 1:04d}.test"


class Bed:
    def __init__(self, root, base_ip=60):
        self.root = root
        self.sluiced = os.path.join(root, "server", "sluiced")
        self.sluicectl = os.path.join(root, "tools", "sluicectl.py")
        self.tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        self.addresses = [f"127.0.0.{base_ip + k}" for k in range(4)]
        self.base_ip = base_ip
        self.dns = self.receiver = self.sluice = None

    def start(self):
        zone, _ = generate(domains=40, sites=4, base_ip=self.base_ip)
        zone.mx("sender.test", 10, "mx0.sites.test")
        self.dns = NsdServer([zone])
        self.dns.start()
        self.receiver = FaultReceiver(self.addresses, port=0, config=FaultConfig(rcpt_4xx=1.0),
                                      starttls=False).start()
        keys = api_keys_toml({
            "ops": (ADMIN, ["admin", "inject"]),
            "dashboard": (READER, ["read"]),
            "slow": (SLOW, ["read"], "rate_per_second = 1\nburst = 1\n"),
        })
        self.sluice = SluiceInstance(self.sluiced, os.path.join(self.tmp, "data"), f"""
[dns]
servers = ["{self.dns.address}"]
mx_port = {self.receiver.port}

[delivery]
helo_name = "sluice.test"

[delivery.retry]
initial = "10m"
multiplier = 1.0
jitter = 0.0

[delivery.limits]
idle_timeout = "1s"
{keys}
""").start()
        host, port = self.sluice.http
        self.url = f"http://{host}:{port}"
        return self

    def stop(self):
        try:
            if self.sluice is not None:
                died = self.sluice.process.poll()
                self.sluice.stop()
                if died is not None:
                    self.sluice.kill()  # closes the log
                    raise AssertionError(f"sluiced exited with {died} during the tests"
                                         + self.sluice._log_tail())
        finally:
            if self.receiver is not None:
                self.receiver.stop()
            if self.dns is not None:
                self.dns.stop()

    # The API itself, for the answers sluicectl's are checked against.

    def api(self, method, path, params=None, body=None, token=ADMIN, raw=False,
            content_type="application/json"):
        query = urllib.parse.urlencode(params or [], quote_via=urllib.parse.quote)
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path + ("?" + query if query else ""),
                                         data=data, method=method,
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": content_type})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = response.read()
        return answer if raw else json.loads(answer)

    def get(self, path, params=None, **kw):
        return self.api("GET", path, params, **kw)

    def status(self, method, path, params=None, token=ADMIN):
        """The HTTP status of a request (for endpoints that may not exist)."""
        try:
            self.api(method, path, params, token=token, raw=True)
            return 200
        except urllib.error.HTTPError as error:
            return error.code

    def inject(self, campaign, recipients, tenant=None):
        """One envelope per recipient (the text has a placeholder); their ids."""
        request = {"from": f"App <{SENDER}>", "subject": "Note", "text": "Hello {{name}}",
                   "campaign": campaign,
                   "recipients": [{"email": r, "substitutions": {"name": r}} for r in recipients]}
        if tenant:
            request["tenant"] = tenant
        answer = self.api("POST", "/api/v1/messages", body=request)
        assert answer["rejected"] == [], answer
        ids = [a["message_id"] for a in answer["accepted"]]
        assert len(set(ids)) == len(recipients), answer
        return ids

    def settle(self, ids, timeout=60):
        """Waits until each message has been tried once (and deferred for
        10 minutes, so it stays as it is)."""
        wait_until(lambda: all(self.get(f"/api/v1/messages/{i}")["attempts"] >= 1 for i in ids),
                   timeout, f"{len(ids)} messages tried once")

    def count(self, **filters):
        return self.get("/api/v1/queues", [("group_by", "domain")] +
                        list(filters.items()))["total"]["envelopes"]

    def site(self, key):
        """The live queue of site `key`, or None."""
        return next((q for q in self.get("/api/v1/sites")["queues"] if q["site"] == key), None)

    # sluicectl.

    def env(self, token=ADMIN, **extra):
        env = {k: v for k, v in os.environ.items()
               if k not in ("SLUICE_URL", "SLUICE_TOKEN", "SLUICED")}
        env["SLUICE_URL"] = self.url
        if token is not None:
            env["SLUICE_TOKEN"] = token
        env.update(extra)
        return env

    def ctl(self, *args, token=ADMIN, input=None, env=None, timeout=120):
        """sluicectl's CompletedProcess (text)."""
        return subprocess.run([PYTHON, self.sluicectl, *args], input=input,
                              capture_output=True, text=True,
                              env=env if env is not None else self.env(token),
                              timeout=timeout)


def eventually_same(test, ctl_json, api_json, timeout=30):
    """Asserts that sluicectl's JSON (ctl_json()) equals the API's
    (api_json()) at a moment when the API's answer held still across the
    sluicectl call; polls until then or the deadline. The agreed value."""
    deadline = time.monotonic() + timeout
    while True:
        before = api_json()
        mine = ctl_json()
        after = api_json()
        if before == after == mine:
            return mine
        if time.monotonic() > deadline:
            test.assertEqual(mine, after)
            test.fail(f"the API's answer kept changing: {before} then {after}")
        time.sleep(0.05)
