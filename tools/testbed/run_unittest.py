#!/usr/bin/env python3
"""Runs one Python unittest file and reports each test case to Bazel.

  run_unittest.py TEST_FILE RUNFILES_ROOT

Imports TEST_FILE as __main__-like module (with RUNFILES_ROOT as its first
argument, which the test files pop from sys.argv), runs its tests verbosely,
and writes JUnit XML with one <testcase> per test to $XML_OUTPUT_FILE, so
the summary counts cases, not files. Exit status 1 if any case failed,
errored or was skipped (a skipped case is not a pass).
"""
import importlib.util
import os
import sys
import time
import unittest
import xml.etree.ElementTree as ET


class RecordingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cases = []  # (name, seconds, kind, text)
        self._started = 0.0

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def _record(self, test, kind, text=""):
        self.cases.append((test.id(), time.monotonic() - self._started, kind, text))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failure", self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)


def write_xml(path, suite_name, cases):
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(cases)),
                       failures=str(sum(c[2] == "failure" for c in cases)),
                       errors=str(sum(c[2] == "error" for c in cases)))
    for name, seconds, kind, text in cases:
        case = ET.SubElement(suite, "testcase", name=name, time="%.3f" % seconds)
        if kind != "pass":
            ET.SubElement(case, kind, message=text.splitlines()[-1] if text else kind).text = text
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def main():
    test_file, root = sys.argv[1], sys.argv[2]
    sys.argv = [test_file, root]
    spec = importlib.util.spec_from_file_location("test_module", test_file)
    module = importlib.util.module_from_spec(spec)
    # unittest finds setUpModule/tearDownModule through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=RecordingResult)
    result = runner.run(suite)
    if os.environ.get("XML_OUTPUT_FILE"):
        write_xml(os.environ["XML_OUTPUT_FILE"], os.path.basename(test_file), result.cases)
    ok = result.wasSuccessful() and not result.skipped and result.testsRun > 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
