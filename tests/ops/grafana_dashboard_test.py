"""The Grafana dashboard (ops/grafana/sluice.json) is well formed, and every
query in it and in the alert rules reads metrics, labels and label values
that a live sluiced really exports; promtool parses every dashboard query.

sluiced (//server:sluiced) runs as a child process and delivers two
messages by a static route to the fault-injecting receiver on 127.0.0.1
(tests/ops/live_sluiced.py), so the delivery and per-site series exist as
in production. A name counts as exported only when /metrics has a sample of
it, not merely a # TYPE line.

Run by run_python_test.sh with the runfiles root as the first argument.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tests.ops import live_sluiced, monitoring_files  # noqa: E402
from tests.ops.monitoring_files import (Exposition, aggregations, metric_names,  # noqa: E402
                                        selectors, to_promql)

TMP = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()
PROMETHEUS_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_LITERAL_ALTERNATION = re.compile(r"[\w.:-]+(?:\|[\w.:-]+)*")


def promtool(*args):
    binary = "/usr/bin/promtool" if os.access("/usr/bin/promtool", os.X_OK) else \
        shutil.which("promtool")
    if binary is None:
        raise AssertionError("promtool not found: install the Debian package prometheus")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)


def check_rules_file(exprs, directory):
    """promtool check rules over `exprs`, each as a recording rule."""
    path = os.path.join(directory, "queries.yml")
    rules = [{"record": f"sluice_dashboard:query_{n}", "expr": expr}
             for n, expr in enumerate(exprs)]
    with open(path, "w") as f:
        json.dump({"groups": [{"name": "queries", "rules": rules}]}, f)  # JSON is YAML
    return promtool("check", "rules", path)


class GrafanaDashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dashboard = monitoring_files.load_dashboard(ROOT)
        cls.panels = cls.dashboard.get("panels", [])
        cls.work = tempfile.mkdtemp(dir=TMP)
        receiver, sluice = live_sluiced.start(ROOT, cls.work)
        try:
            cls.metrics_text = sluice.metrics()
            sluice.stop()
        finally:
            sluice.kill()
            receiver.stop()
        cls.exported = Exposition(cls.metrics_text)

    def unexported(self, where, expr):
        """What `expr` reads that the live sluiced does not export."""
        problems = []
        for name in sorted(metric_names(expr)):
            if not self.exported.series(name):
                problems.append(f"{where}: {name} has no sample in sluiced's /metrics")
        for name, matchers in selectors(expr):
            series = self.exported.series(name)
            for label, op, value in matchers:
                values = {s[label] for s in series if label in s}
                if not values:
                    problems.append(f"{where}: {name} has no label {label}")
                elif op in ("=", "!=") and value not in values:
                    problems.append(f"{where}: {name}{{{label}{op}{value!r}}}: sluiced exports "
                                    f"only {sorted(values)}")
                elif op in ("=~", "!~") and _LITERAL_ALTERNATION.fullmatch(value):
                    for alternative in set(value.split("|")) - values:
                        problems.append(f"{where}: {name}{{{label}{op}{value!r}}}: no series "
                                        f"has {label}={alternative!r}")
        for labels, metrics in aggregations(expr):
            for label in set(labels) - monitoring_files.TARGET_LABELS:
                if not any(label in s for m in metrics for s in self.exported.series(m)):
                    problems.append(f"{where}: by ({label}) but none of {sorted(metrics)} "
                                    f"has that label")
        return problems

    def test_json_is_a_dashboard_of_schema_36_or_later(self):
        with open(os.path.join(ROOT, monitoring_files.DASHBOARD)) as f:
            dashboard = json.load(f)
        self.assertIsInstance(dashboard, dict)
        self.assertGreaterEqual(dashboard.get("schemaVersion", 0), 36)
        self.assertTrue(dashboard.get("title"))
        self.assertTrue(dashboard.get("uid"))
        self.assertTrue(self.panels)

    def test_every_panel_has_a_unique_id_grid_position_datasource_and_targets(self):
        ids = [panel.get("id") for panel in self.panels]
        self.assertEqual(len(set(ids)), len(ids), f"panel ids repeat: {ids}")
        for panel in self.panels:
            with self.subTest(panel=panel.get("title")):
                self.assertIsInstance(panel.get("id"), int)
                self.assertEqual(set(panel.get("gridPos", {})), {"h", "w", "x", "y"})
                self.assertEqual(panel.get("datasource"), PROMETHEUS_DATASOURCE)
                targets = panel.get("targets")
                self.assertTrue(targets)
                ref_ids = [target.get("refId") for target in targets]
                self.assertEqual(len(set(ref_ids)), len(ref_ids))
                for target in targets:
                    self.assertTrue(target.get("expr"))
                    self.assertEqual(target.get("datasource"), PROMETHEUS_DATASOURCE)

    def test_panels_fit_the_grid_without_overlapping(self):
        cells = {}
        for panel in self.panels:
            grid = panel["gridPos"]
            self.assertLessEqual(grid["x"] + grid["w"], 24, panel["title"])
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    self.assertNotIn((x, y), cells,
                                     f"{panel['title']!r} overlaps {cells.get((x, y))!r}")
                    cells[(x, y)] = panel["title"]

    def test_datasource_site_and_tenant_variables(self):
        variables = {v["name"]: v for v in self.dashboard["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        queries = {name: (metric, label)
                   for name, metric, label in monitoring_files.variable_queries(self.dashboard)}
        self.assertEqual(queries["site"][1], "site")
        self.assertEqual(queries["tenant"][1], "tenant")
        for name in ("site", "tenant"):
            self.assertEqual(variables[name]["datasource"], PROMETHEUS_DATASOURCE)
            used = [where for where, expr in monitoring_files.dashboard_queries(self.dashboard)
                    if f'{name}=~"${name}"' in expr]
            self.assertTrue(used, f"no query filters by ${name}")

    def test_variable_queries_read_labels_sluiced_exports(self):
        for name, metric, label in monitoring_files.variable_queries(self.dashboard):
            with self.subTest(variable=name):
                self.assertIsNotNone(metric, f"not label_values(metric, label): {label!r}")
                series = self.exported.series(metric)
                self.assertTrue(series, f"{metric} has no sample in sluiced's /metrics")
                self.assertTrue(any(label in s for s in series), f"{metric} has no {label}")

    def test_dashboard_metrics_and_labels_are_exported_by_sluiced(self):
        queries = monitoring_files.dashboard_queries(self.dashboard)
        self.assertTrue(queries)
        problems = [p for where, expr in queries for p in self.unexported(where, to_promql(expr))]
        self.assertEqual(problems, [])

    def test_alert_rule_metrics_and_labels_are_exported_by_sluiced(self):
        rules = monitoring_files.alert_rules(ROOT)
        self.assertTrue(rules)
        problems = [p for rule in rules for p in self.unexported(rule["alert"], rule["expr"])]
        self.assertEqual(problems, [])

    def test_live_metrics_include_the_traffic(self):
        # The checks above are only as good as the exposition they compare
        # with: it has the delivered mail, its site and a TLS connection.
        delivered = self.exported.value("sluice_delivery_recipients_total", result="delivered")
        self.assertGreaterEqual(delivered, live_sluiced.MESSAGES)
        sites = {s["site"] for s in self.exported.series("sluice_delivery_site_recipients_total")}
        self.assertGreater(sites - {"other", "none"}, set())
        self.assertGreaterEqual(self.exported.value("sluice_delivery_tls_connections_total"), 1)

    def test_dashboard_queries_parse_with_promtool(self):
        exprs = [to_promql(expr) for _, expr in monitoring_files.dashboard_queries(self.dashboard)]
        directory = tempfile.mkdtemp(dir=TMP)
        run = check_rules_file(exprs, directory)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn(f"SUCCESS: {len(exprs)} rules found", run.stdout)
        # The same check refuses a query with a syntax error.
        broken = check_rules_file(exprs + ["sum(rate(sluice_spool_commits_total[5m])"],
                                  directory)
        self.assertNotEqual(broken.returncode, 0, broken.stdout)


if __name__ == "__main__":
    unittest.main()
