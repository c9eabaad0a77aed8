"""A real Prometheus (Debian's /usr/bin/prometheus) scrapes a live sluiced
and loads the alert rules: the target is up, a sluice counter reads the
value sluiced's own /metrics shows, every alert of ops/prometheus/
sluice-alerts.yml is loaded and evaluates without error, and every
dashboard query evaluates without error.

sluiced (//server:sluiced) delivers two messages first (tests/ops/
live_sluiced.py). Prometheus listens on 127.0.0.1 port 0 (its log says
which port it got), keeps its TSDB in TEST_TMPDIR, scrapes every second and
evaluates the rules every second. Waiting is by polling its HTTP API until
a deadline; only the Prometheus process started here is ever signalled.

Run by run_python_test.sh with the runfiles root as the first argument.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tests.ops import live_sluiced, monitoring_files  # noqa: E402
from tests.ops.monitoring_files import Exposition, to_promql  # noqa: E402
from tools.testbed.sluice_instance import wait_until  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
TMP = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()
LISTENING = re.compile(r'msg="Listening on" address=(\S+)')
DEADLINE = 60.0


def poll(what, check, timeout=DEADLINE):
    """wait_until (tools/testbed/sluice_instance.py) with this file's deadline."""
    return wait_until(check, timeout, what)


class PrometheusProcess:
    """One Prometheus with `config_path`, on 127.0.0.1 and a port it picks."""

    def __init__(self, config_path, storage):
        self.args = [PROMETHEUS, f"--config.file={config_path}",
                     f"--storage.tsdb.path={storage}", "--web.listen-address=127.0.0.1:0",
                     "--log.level=info"]
        self.process = None
        self.address = None
        self.log = []
        self._changed = threading.Condition()

    def start(self):
        if not os.access(PROMETHEUS, os.X_OK):
            raise AssertionError(f"{PROMETHEUS} not found: install the Debian package prometheus")
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, errors="replace")
        threading.Thread(target=self._read_log, daemon=True).start()
        deadline = time.monotonic() + DEADLINE
        with self._changed:
            while self.address is None:
                if self.process.poll() is not None:
                    raise AssertionError("prometheus exited:\n" + "\n".join(self.log[-30:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("prometheus did not say where it listens:\n" +
                                         "\n".join(self.log[-30:]))
                self._changed.wait(left)
        poll("prometheus to be ready", lambda: self._ready())
        return self

    def _read_log(self):
        for line in self.process.stderr:
            with self._changed:
                self.log.append(line.rstrip("\n"))
                match = LISTENING.search(line)
                if match and self.address is None:
                    self.address = match.group(1)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _ready(self):
        try:
            with urllib.request.urlopen(f"http://{self.address}/-/ready", timeout=5) as answer:
                return answer.status == 200
        except OSError:
            return False

    def api(self, path, **params):
        """GET /api/v1/<path>; the parsed answer, whatever its status."""
        url = f"http://{self.address}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:  # 400/422: a bad query, said in the body
            return json.loads(error.read())

    def query(self, expr):
        answer = self.api("query", query=expr)
        if answer.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {answer}")
        return answer["data"]["result"]

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stderr.close()


class PrometheusScrapeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(dir=TMP)
        cls.receiver, cls.sluice = live_sluiced.start(ROOT, cls.work)
        host, port = cls.sluice.http
        config = os.path.join(cls.work, "prometheus.yml")
        with open(config, "w") as f:
            json.dump({  # JSON is YAML
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                           "evaluation_interval": "1s"},
                "rule_files": [os.path.join(ROOT, monitoring_files.ALERT_RULES)],
                "scrape_configs": [{
                    "job_name": "sluiced",
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "static_configs": [{"targets": [f"{host}:{port}"]}],
                }],
            }, f)
        cls.prometheus = PrometheusProcess(config, os.path.join(cls.work, "tsdb"))
        try:
            cls.prometheus.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.prometheus.stop()
        cls.sluice.stop()
        cls.receiver.stop()

    def test_sluiced_target_is_up(self):
        def up():
            result = self.prometheus.query('up{job="sluiced"}')
            return len(result) == 1 and result[0]["value"][1] == "1"
        poll('up{job="sluiced"} == 1', up)
        [target] = self.prometheus.api("targets")["data"]["activeTargets"]
        self.assertEqual(target["labels"]["job"], "sluiced")
        self.assertEqual(target["health"], "up", target.get("lastError"))

    def test_spool_commits_read_what_sluiced_exports(self):
        # The messages were committed before their 250, so the counter is
        # at least 1; deliveries write to the spool too, so it is compared
        # with sluiced's own count until the two agree.
        seen = {}

        def agree():
            result = self.prometheus.query('sluice_spool_commits_total{job="sluiced"}')
            own = Exposition(self.sluice.metrics()).value("sluice_spool_commits_total")
            seen.update(prometheus=[r["value"][1] for r in result], sluiced=own)
            return len(result) == 1 and float(result[0]["value"][1]) == own
        poll("Prometheus's sluice_spool_commits_total to equal sluiced's", agree)
        self.assertGreaterEqual(seen["sluiced"], 1)
        delivered = self.prometheus.query(
            'sluice_delivery_recipients_total{job="sluiced", result="delivered"}')
        self.assertEqual(float(delivered[0]["value"][1]), live_sluiced.MESSAGES)

    def test_every_alert_rule_is_loaded_and_healthy(self):
        expected = {rule["alert"] for rule in monitoring_files.alert_rules(ROOT)}
        state = {}

        def healthy():
            groups = self.prometheus.api("rules", type="alert")["data"]["groups"]
            state.clear()
            state.update({rule["name"]: (rule["health"], rule.get("lastError", ""))
                          for group in groups for rule in group["rules"]})
            errors = {name: s for name, s in state.items() if s[0] == "err"}
            self.assertEqual(errors, {}, "rules that fail to evaluate")
            return set(state) == expected and all(s[0] == "ok" for s in state.values())
        poll("every alert rule evaluated with health ok", healthy)
        self.assertEqual(set(state), expected)

    def test_dashboard_queries_evaluate_without_error(self):
        # Binary operators whose sides cannot be matched, or aggregations
        # over the wrong labels, fail only when Prometheus evaluates the
        # query over series that exist: so with three scrapes stored (rate()
        # over the 1m that $__rate_interval becomes has samples), every
        # query must evaluate without error and return series.
        poll("three scrapes of sluiced", lambda: self.prometheus.query(
            'count_over_time(up{job="sluiced"}[1m]) >= 3'))
        dashboard = monitoring_files.load_dashboard(ROOT)
        failures = {}
        for where, expr in monitoring_files.dashboard_queries(dashboard):
            answer = self.prometheus.api("query", query=to_promql(expr))
            if (answer.get("status") != "success" or answer.get("warnings") or
                    not answer["data"]["result"]):
                failures[where] = answer
        self.assertEqual(failures, {})


if __name__ == "__main__":
    unittest.main()
