"""The dashboard with 10,000 sites, in headless Chromium (as dashboard_test):
10,000 domains, each with its own MX host (so its own site), take one
message each; their MX hosts refuse connections, so every message waits
for a retry an hour away and every site stays on the list. The page must
show the count, page through the list 25 at a time, sort and filter, with
sluiced doing the work: each refresh fetches one page, never the list.

Run by run_python_test.sh with the runfiles root as the first argument.
"""

import json
import os
import sys
import tempfile
import unittest
import urllib.request

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tests.e2e.headless_chromium import By, check_installed, start_browser  # noqa: E402
from tools.testbed.dns_zone import NsdServer, Zone  # noqa: E402
from tools.testbed.sluice_instance import SluiceInstance, wait_until  # noqa: E402

SLUICED = os.path.join(ROOT, "server", "sluiced")
SITES = 10_000
TMP = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()
SHOTS = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or TMP
dns = sluice = None


def setUpModule():
    global dns, sluice
    check_installed()
    zone = Zone("many.test")
    for i in range(SITES):
        zone.mx(f"d{i}.many.test", 10, f"mx{i}.many.test")
        zone.a(f"mx{i}.many.test", "127.0.0.64")
    dns = NsdServer([zone])
    dns.start()
    data = tempfile.mkdtemp(dir=TMP)
    # Port 9 on 127.0.0.64: nothing listens, every connection is refused.
    sluice = SluiceInstance(SLUICED, os.path.join(data, "data"), f"""
[dns]
servers = ["{dns.address}"]
mx_port = 9

[delivery]
helo_name = "sluice.test"

[delivery.retry]
initial = "1h"
""").start()
    host, port = sluice.http
    request = {"from": "App <app@sender.test>", "subject": "Hello", "text": "Hello.",
               "recipients": [{"email": f"user@d{i}.many.test"} for i in range(SITES)]}
    with urllib.request.urlopen(urllib.request.Request(
            f"http://{host}:{port}/api/v1/messages", data=json.dumps(request).encode(),
            headers={"Content-Type": "application/json"}), timeout=300) as response:
        assert len(json.loads(response.read())["accepted"]) == SITES


def tearDownModule():
    if sluice:
        sluice.stop()
    if dns:
        dns.stop()


def api(path):
    host, port = sluice.http
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=60) as response:
        return json.loads(response.read())


class ManySitesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Every site has been tried once (and is waiting an hour).
        wait_until(lambda: api("/api/v1/sites?limit=1")["total"] == SITES and
                   api("/api/v1/stats")["totals"]["deferred"] >= SITES, 300,
                   f"{SITES} sites, each tried")
        cls.browser = start_browser(1400, 1600)
        host, port = sluice.http
        # Loopback and no keys configured: every scope, no key needed.
        cls.browser.get(f"http://{host}:{port}/")

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()

    def rows(self):
        return self.browser.execute_script(
            "return [...document.querySelectorAll('#sites tbody tr')].map(r => r.dataset.site)")

    def wait_rows(self, expected, what):
        wait_until(lambda: self.rows() == expected, 60, what)

    def test_pages_sorts_and_filters_ten_thousand_sites(self):
        wait_until(lambda: self.browser.find_element(By.ID, "sites-total")
                   .get_attribute("data-value") == str(SITES), 60, "the site count")
        self.assertEqual(len(self.rows()), 25)
        # Sorted by site: the page is the API's first page.
        self.browser.find_element(By.CSS_SELECTOR, '#sites th[data-sort="site"]').click()
        first = [q["site"] for q in api("/api/v1/sites?sort=site&order=asc&limit=25")["queues"]]
        self.wait_rows(first, "the first page by site")
        self.browser.find_element(By.ID, "sites-next").click()
        second = [q["site"] for q in
                  api("/api/v1/sites?sort=site&order=asc&limit=25&offset=25")["queues"]]
        self.wait_rows(second, "the second page")
        self.assertIn("26–50 of 10,000", self.browser.find_element(By.ID, "sites-page").text)
        self.browser.save_screenshot(os.path.join(SHOTS, "dashboard-10000-sites.png"))
        # A filter narrows it to one site, found by sluiced.
        self.browser.find_element(By.ID, "site-filter").send_keys("mx7777.")
        self.wait_rows(["mx:mx7777.many.test"], "the filtered site")
        self.assertEqual(self.browser.find_element(By.ID, "sites-total").get_attribute(
            "data-value"), "1")
        # Each refresh asked for one page: the resources the page fetched
        # are all under 64 KiB.
        sizes = self.browser.execute_script("""
            return performance.getEntriesByType('resource')
              .filter(e => e.name.includes('/api/v1/sites'))
              .map(e => e.encodedBodySize || e.transferSize || 0);""")
        self.assertTrue(sizes)
        self.assertLess(max(sizes), 64 * 1024, sizes)


if __name__ == "__main__":
    unittest.main()
