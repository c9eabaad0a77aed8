#!/usr/bin/env python3
"""Counts test cases from Bazel's JUnit XML for a list of test targets.

  test_summary.py CONFIG TESTLOGS LABEL...  -> "CONFIG: N passed, N failed, N skipped"
  test_summary.py --combine LINE...          -> "tests: N passed, N failed, N skipped"

Reads TESTLOGS/<package>/<name>/test.xml (or its shard_K_of_N folders) for
each label. A target without XML (it failed to build, crashed or timed out
before writing any) counts as one failure, so a broken test cannot vanish
from the count.
"""
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET


def count_file(path):
    passed = failed = skipped = 0
    try:
        cases = list(ET.parse(path).iter("testcase"))
    except ET.ParseError:
        return 0, 1, 0
    if not cases:
        return 0, 1, 0
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None or case.get("status") == "notrun":
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def count(testlogs, labels):
    totals = [0, 0, 0]
    for label in labels:
        package, _, name = label.lstrip("/").partition(":")
        folder = os.path.join(testlogs, package, name)
        files = glob.glob(os.path.join(folder, "shard_*_of_*", "test.xml"))
        if not files and os.path.exists(os.path.join(folder, "test.xml")):
            files = [os.path.join(folder, "test.xml")]
        if not files:
            print("no results for %s" % label, file=sys.stderr)
            totals[1] += 1
            continue
        for path in files:
            totals = [a + b for a, b in zip(totals, count_file(path))]
    return totals


def main(argv):
    if argv[1] == "--combine":
        totals = [0, 0, 0]
        for line in argv[2:]:
            numbers = [int(n) for n in re.findall(r"(\d+) (?:passed|failed|skipped)", line)]
            totals = [a + b for a, b in zip(totals, numbers)]
        print("tests: %d passed, %d failed, %d skipped" % tuple(totals))
        return 0
    passed, failed, skipped = count(argv[2], argv[3:])
    print("%s: %d passed, %d failed, %d skipped" % (argv[1], passed, failed, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
