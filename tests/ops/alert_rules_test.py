"""The alert rules (ops/prometheus/sluice-alerts.yml) are valid, shaped as
operators need them, and do what their unit tests (sluice-alerts.test.yml)
say: promtool (Debian's prometheus package) checks the file and runs the
tests, and every alert has a case where it fires and one where it must not.

Run by run_python_test.sh with the runfiles root as the first argument.
"""
import os
import shutil
import subprocess
import sys
import unittest

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tests.ops import monitoring_files  # noqa: E402

RULES = os.path.join(ROOT, monitoring_files.ALERT_RULES)
RULE_TESTS = os.path.join(ROOT, monitoring_files.ALERT_TESTS)
SEVERITIES = {"critical", "warning"}


def promtool(*args):
    """Runs /usr/bin/promtool (or the one on PATH); fails naming the package
    when there is none."""
    binary = "/usr/bin/promtool" if os.access("/usr/bin/promtool", os.X_OK) else \
        shutil.which("promtool")
    if binary is None:
        raise AssertionError("promtool not found: install the Debian package prometheus")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)


class AlertRulesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rules = monitoring_files.alert_rules(ROOT)
        cls.alerts = [rule["alert"] for rule in cls.rules if "alert" in rule]

    def test_promtool_check_rules_accepts_every_rule(self):
        run = promtool("check", "rules", "--lint=all", "--lint-fatal", RULES)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn(f"SUCCESS: {len(self.rules)} rules found", run.stdout)

    def test_promtool_test_rules_passes(self):
        run = promtool("test", "rules", RULE_TESTS)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("SUCCESS", run.stdout)

    def test_every_alert_has_for_severity_summary_and_description(self):
        self.assertEqual(len(self.alerts), len(self.rules), "only alerts, no recording rules")
        self.assertEqual(len(set(self.alerts)), len(self.alerts), "alert names are unique")
        for rule in self.rules:
            with self.subTest(alert=rule["alert"]):
                self.assertIn("for", rule)
                self.assertIn(rule.get("labels", {}).get("severity"), SEVERITIES)
                annotations = rule.get("annotations", {})
                self.assertTrue(annotations.get("summary"))
                self.assertTrue(annotations.get("description"))

    def test_every_alert_has_a_firing_case_and_a_quiet_case(self):
        cases = [case for test in monitoring_files.alert_tests(ROOT)["tests"]
                 for case in test.get("alert_rule_test", [])]
        # A case naming an alert that does not exist would pass vacuously
        # with exp_alerts: [].
        self.assertEqual({case["alertname"] for case in cases} - set(self.alerts), set())
        for alert in self.alerts:
            with self.subTest(alert=alert):
                mine = [case for case in cases if case["alertname"] == alert]
                firing = [case for case in mine if case.get("exp_alerts")]
                self.assertTrue(firing, f"no case where {alert} fires")
                self.assertTrue(any(not case.get("exp_alerts") for case in mine),
                                f"no case where {alert} must not fire")
                for case in firing:
                    for expected in case["exp_alerts"]:
                        self.assertIn(expected.get("exp_labels", {}).get("severity"), SEVERITIES)
                        self.assertEqual(set(expected.get("exp_annotations", {})),
                                         {"summary", "description"})

    def test_required_alerts_are_present(self):
        self.assertEqual(set(self.alerts), {
            "SluiceDown", "SluiceSpoolWriteErrors", "SluiceSpoolSlow", "SluiceLoopLag",
            "SluiceQueueGrowth", "SluiceDeferralStorm", "SluiceTlsShareDrop",
            "SluiceHighBounceRate", "SluiceHighComplaintRate"})


if __name__ == "__main__":
    unittest.main()
