"""The dashboard in a real browser: Debian's Chromium, headless, driven by
chromedriver through Selenium (python3-selenium), loads the page that a live
sluiced serves at / while mail flows through it to fault receivers on
127.0.0.60-63 (DNS from NSD), and checks that

  - a visitor without a key sees nothing and cannot act (401s, nothing
    suspended),
  - with a read key the numbers on the page are the API's numbers,
  - suspend and resume from the page change the site (admin key), and a
    read key's click is refused (403) and changes nothing,
  - the message lookup shows what GET /api/v1/messages/{id} says.

Screenshots go to $TEST_UNDECLARED_OUTPUTS_DIR (Bazel keeps them in the
test's outputs.zip). Waits poll with deadlines; nothing sleeps a fixed time.

Run by run_python_test.sh with the runfiles root as the first argument.
"""

import json
import os
import sys
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tests.e2e.headless_chromium import By, check_installed, start_browser  # noqa: E402
from tools.testbed.dns_zone import NsdServer, generate  # noqa: E402
from tools.testbed.fault_receiver import FaultConfig, FaultReceiver  # noqa: E402
from tools.testbed.sluice_instance import (SluiceInstance, api_keys_toml, delivery_toml,  # noqa: E402
                                           wait_until)

SLUICED = os.path.join(ROOT, "server", "sluiced")
SITES = ["127.0.0.60", "127.0.0.61", "127.0.0.62", "127.0.0.63"]
SENDER = "app@sender.test"
TMP = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()
SHOTS = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or TMP
KEYS = {"reader": ("read-token-0123", ["read"]), "operator": ("admin-token-4567", ["admin"]),
        "injector": ("inject-token-89ab", ["inject"])}
dns = receiver = sluice = None


def setUpModule():
    global dns, receiver, sluice
    check_installed()
    zone, _ = generate(domains=40, sites=4, base_ip=60)
    zone.mx("sender.test", 10, "mx0.sites.test")  # where DSNs go
    dns = NsdServer([zone])
    dns.start()
    receiver = FaultReceiver(SITES, port=0, config=FaultConfig(), starttls=False).start()
    data = tempfile.mkdtemp(dir=TMP)
    sluice = SluiceInstance(SLUICED, os.path.join(data, "data"), delivery_toml(
        dns.address, receiver.port,
        limits='idle_timeout = "1s"\nmax_connections = 4\n',
        extra=api_keys_toml(KEYS))).start()


def tearDownModule():
    if sluice:
        sluice.stop()
    if receiver:
        receiver.stop()
    if dns:
        dns.stop()


def call(method, path, key="operator", body=None):
    """The API as a script sees it; returns (status, parsed body)."""
    host, port = sluice.http
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {KEYS[key][0]}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{host}:{port}{path}", data=data, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def inject(recipients, campaign="dash"):
    status, answer = call("POST", "/api/v1/messages", "injector", {
        "from": f"App <{SENDER}>", "subject": "Hello", "text": "Hello from the dashboard test.",
        "tenant": "acme", "campaign": campaign,
        "recipients": [{"email": r} for r in recipients]})
    assert status == 200, (status, answer)
    return [a["message_id"] for a in answer["accepted"]]


class Traffic:
    """Injects a batch every 100 ms until stopped: mostly mail that is
    delivered, some the receivers defer (451) and some they bounce (550)."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.batches = 0

    def _run(self):
        while not self._stop.is_set():
            n = self.batches
            inject([f"user{n}-{i}@d{(n * 7 + i) % 40 + 1:04d}.test" for i in range(8)] +
                   [f"bounce{n}@d{n % 40 + 1:04d}.test"])
            self.batches += 1
            self._stop.wait(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(60)


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.browser = start_browser(1400, 2200)

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()

    def open(self, key=None):
        """The dashboard in a fresh tab state, signed in with `key`."""
        host, port = sluice.http
        self.browser.get(f"http://{host}:{port}/")
        self.browser.execute_script("sessionStorage.clear()")
        self.browser.get(f"http://{host}:{port}/")
        if key:
            self.browser.find_element(By.ID, "token").send_keys(KEYS[key][0])
            self.browser.find_element(By.ID, "signin").click()
        # The URL never carries the key.
        self.assertNotIn("token", self.browser.current_url)

    def text(self, element_id):
        return self.browser.find_element(By.ID, element_id).text

    def value(self, element_id):
        return self.browser.find_element(By.ID, element_id).get_attribute("data-value")

    def shot(self, name):
        self.browser.save_screenshot(os.path.join(SHOTS, f"dashboard-{name}.png"))

    def page_sites(self):
        """The sites table as {site: {column: text}}."""
        return self.browser.execute_script("""
            const out = {};
            for (const row of document.querySelectorAll('#sites tbody tr')) {
              const cells = {};
              for (const td of row.querySelectorAll('td[data-col]'))
                cells[td.dataset.col] = td.dataset.value !== undefined ? td.dataset.value : td.textContent;
              out[row.dataset.site] = cells;
            }
            return out;""")

    def wait_sites(self, predicate, what):
        return wait_until(lambda: (lambda s: s if s and predicate(s) else None)(self.page_sites()),
                          60, what)

    def test_a_visitor_without_a_key_sees_nothing_and_cannot_act(self):
        inject(["quiet@d0001.test"])
        self.open()
        wait_until(lambda: "needs an API key" in self.text("notice"), 30, "the key notice")
        self.assertEqual(self.text("health"), "key needed")
        self.assertEqual(self.page_sites(), {})
        self.shot("no-key")
        # What the page's own script would send: refused, and nothing changes.
        status = self.browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/api/v1/suspend?site=mx0.sites.test', {method: 'POST'}).then(r => done(r.status));""")
        self.assertEqual(status, 401)
        _, sites = call("GET", "/api/v1/sites?suspended=true", "reader")
        self.assertEqual(sites["total"], 0)

    def test_with_a_read_key_the_page_shows_the_apis_numbers(self):
        with Traffic() as traffic:
            self.open("reader")
            wait_until(lambda: float(self.value("total-delivered") or 0) > 0, 60,
                       "deliveries on the page")
            wait_until(lambda: self.page_sites(), 60, "sites on the page")
            # The rate points come every 5 s; wait for one with traffic in it.
            wait_until(lambda: float(self.value("stat-accepted-rate") or 0) > 0, 60,
                       "an accepted rate")
            self.shot("live")
            self.assertGreater(traffic.batches, 0)
        # Traffic has stopped: once the queue has drained, what the page
        # shows must be what the API says.
        wait_until(lambda: call("GET", "/api/v1/stats", "reader")[1]["gauges"]["queue_ready"] == 0,
                   60, "the queue to drain")

        def agree():
            _, stats = call("GET", "/api/v1/stats", "reader")
            _, sites = call("GET", "/api/v1/sites?sort=ready&limit=25", "reader")
            page = {k: self.value(f"total-{k}") for k in ("accepted", "delivered", "bounced")}
            api = {k: str(stats["totals"][k]) for k in ("accepted", "delivered", "bounced")}
            page_sites = {s: (c["pool"], c["state"]) for s, c in self.page_sites().items()}
            api_sites = {q["site"]: (q["pool"], "suspended" if q["suspended"] else "active")
                         for q in sites["queues"]}
            return (page == api and page_sites == api_sites and
                    self.value("sites-total") == str(sites["total"]))
        wait_until(agree, 30, "the page to show the API's totals and sites")
        self.assertEqual(self.text("health"), "live")
        # Bounces are grouped by site in the failures table, with the
        # counts the API gives.
        _, failures = call("GET", "/api/v1/failures", "reader")
        bounced = [g for g in failures["groups"] if g["type"] == "bounced"]
        self.assertTrue(bounced, failures)

        def failures_agree():
            rows = self.browser.execute_script("""
                return [...document.querySelectorAll('#failures tbody tr')].map(r =>
                  [r.dataset.site, r.cells[1].textContent, r.cells[4].dataset.value]);""")
            _, now = call("GET", "/api/v1/failures?limit=50", "reader")
            return sorted(rows) == sorted([g["site"], g["type"], str(g["count"])]
                                          for g in now["groups"])
        wait_until(failures_agree, 30, "the failures table to match the API")
        # Tenants and campaigns come from the queue counts.
        _, tenants = call("GET", "/api/v1/queues?group_by=tenant", "reader")
        wait_until(lambda: self.browser.execute_script(
            "return [...document.querySelectorAll('#tenants tbody tr')].length") ==
            len(tenants["groups"]), 40, "the tenants table")
        self.shot("drained")

    def test_suspend_and_resume_from_the_page(self):
        inject(["first@d0002.test"])  # the site exists once it has had mail
        site = "mx:mx1.sites.test"  # the MX rollup of d0002
        self.open("operator")
        self.wait_sites(lambda s: site in s, f"{site} on the page")
        row = f'#sites tbody tr[data-site="{site}"]'
        self.browser.find_element(By.CSS_SELECTOR, f"{row} button.suspend").click()
        wait_until(lambda: any(q["site"] == site and q["suspended"] for q in
                               call("GET", "/api/v1/sites", "reader")[1]["queues"]),
                   30, "the site suspended in the API")
        self.wait_sites(lambda s: s.get(site, {}).get("state") == "suspended",
                        "the page to show it suspended")
        self.assertIn(f"Suspended {site}", self.text("notice"))
        # Mail for it now waits.
        inject([f"held{i}@d0002.test" for i in range(3)])
        self.wait_sites(lambda s: int(s.get(site, {}).get("ready", 0)) >= 3,
                        "the held mail on the page")
        self.shot("suspended")
        # A read key may look but not act.
        self.open("reader")
        self.wait_sites(lambda s: s.get(site, {}).get("state") == "suspended", "the reader's view")
        self.browser.find_element(By.CSS_SELECTOR, f"{row} button.resume").click()
        wait_until(lambda: "Refused" in self.text("notice"), 30, "the refusal")
        self.assertIn("admin", self.text("notice"))
        self.assertTrue(any(q["site"] == site and q["suspended"] for q in
                            call("GET", "/api/v1/sites", "reader")[1]["queues"]))
        self.shot("refused")
        # The operator resumes, and the held mail goes.
        self.open("operator")
        self.wait_sites(lambda s: s.get(site, {}).get("state") == "suspended", "the row")
        self.browser.find_element(By.CSS_SELECTOR, f"{row} button.resume").click()
        wait_until(lambda: not any(q["site"] == site and q["suspended"] for q in
                                   call("GET", "/api/v1/sites", "reader")[1]["queues"]),
                   30, "the site resumed in the API")
        receiver.wait_for_records(
            lambda rs: {f"held{i}@d0002.test" for i in range(3)} <=
            {rcpt for r in rs for rcpt in r["rcpts"]}, 60)

    def test_message_lookup_shows_the_envelope(self):
        [message_id] = inject(["defer-me@d0003.test"], campaign="lookup")
        self.open("reader")

        def shown():
            _, message = call("GET", f"/api/v1/messages/{message_id}", "reader")
            if message["recipients"][0]["attempts"] < 1:
                return None
            self.browser.find_element(By.ID, "lookup-id").clear()
            self.browser.find_element(By.ID, "lookup-id").send_keys(message_id)
            self.browser.find_element(By.ID, "lookup-go").click()
            fields = self.browser.execute_script("""
                const out = {};
                for (const dd of document.querySelectorAll('#lookup-result dd[data-field]'))
                  out[dd.dataset.field] = dd.textContent;
                const state = document.querySelector('#lookup-result td[data-field=state]');
                out.state = state ? state.textContent : null;
                return out;""")
            return fields if fields.get("id") == message_id else None
        fields = wait_until(shown, 60, "the lookup result")
        _, message = call("GET", f"/api/v1/messages/{message_id}", "reader")
        self.assertEqual(fields["campaign"], "lookup")
        self.assertEqual(fields["site"], message["site"])
        self.assertEqual(fields["state"], "deferred")
        self.shot("lookup")
        # An id that is not there says so.
        self.browser.find_element(By.ID, "lookup-id").clear()
        self.browser.find_element(By.ID, "lookup-id").send_keys("0" * 26)
        self.browser.find_element(By.ID, "lookup-go").click()
        wait_until(lambda: "No message" in self.browser.find_element(By.ID, "lookup-result").text,
                   30, "the not-found answer")


if __name__ == "__main__":
    unittest.main()
