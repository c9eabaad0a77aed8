"""sluicectl against a live sluiced with mail queued (sluicectl_bed.py): each
subcommand's table, its --json checked against the API's own answer, and
its exit codes provoked for real (0 ok, 1 an error answer, 2 usage, 3 not
found, 4 refused, 5 unreachable).

Cases that use the endpoints added for sluicectl and the dashboard (GET
/api/v1/messages, /api/v1/stats, /api/v1/failures, paging of
/api/v1/sites, ages in /api/v1/queues, sluiced --check_config) name them
in a comment.

Run by run_python_test.sh with the runfiles root as the first argument.
"""

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import unittest

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tests.tools.sluicectl_bed import (ADMIN, READER, SLOW, Bed, domain,  # noqa: E402
                                       eventually_same, site_key)
from tools.testbed.sluice_instance import wait_until  # noqa: E402

bed = None
HELD = site_key(1)  # suspended from the start: its mail waits in its ready queue
HELD_IDS = []


def setUpModule():
    global bed
    bed = Bed(ROOT, base_ip=60).start()
    bed.api("POST", "/api/v1/suspend", [("site", HELD)])
    HELD_IDS.extend(bed.inject("held", [f"h{i}@{domain(1, i % 3)}" for i in range(7)]))
    wait_until(lambda: (bed.site(HELD) or {}).get("ready") == 7, 60, "7 ready at the held site")


def tearDownModule():
    if bed is not None:
        bed.stop()


class SluicectlTest(unittest.TestCase):
    def ok(self, *args, **kw):
        run = bed.ctl(*args, **kw)
        self.assertEqual(run.returncode, 0, f"sluicectl {' '.join(args)}: {run.stderr}")
        return run

    def json_of(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw).stdout)

    def fails(self, code, *args, **kw):
        run = bed.ctl(*args, **kw)
        self.assertEqual(run.returncode, code,
                         f"sluicectl {' '.join(args)}: stdout {run.stdout!r} stderr {run.stderr!r}")
        return run

    def queued(self, campaign, recipients):
        ids = bed.inject(campaign, recipients)
        bed.settle(ids)
        return ids

    # ---- exit codes and options ----

    def test_help_lists_the_exit_codes_and_environment(self):
        text = self.ok("--help").stdout
        for line in ("0  ok", "1  the server answered an error", "2  usage error",
                     "3  not found", "4  refused", "5  cannot reach sluiced", "SLUICE_URL",
                     "SLUICE_TOKEN", "SLUICED"):
            self.assertIn(line, text)
        for command in ("queue", "inspect", "suspend", "resume", "retry", "bounce", "purge",
                        "sites", "failures", "top", "suppression", "config"):
            self.assertIn(command, text)
        self.assertIn("exit codes", self.ok("queue", "list", "--help").stdout)

    def test_usage_errors_exit_2(self):
        for args in (["nonsense"], ["queue", "--by", "sender"],
                     ["suspend", "--site", "a", "--domain", "b"], ["suspend"],
                     ["purge", "--campaign", "x"], ["purge", "--yes"],
                     ["bounce", "--domain", "x"], ["bounce", "--yes", "--reason", "r"],
                     ["queue", "list", "--limit", "-1"], ["top", "--interval", "0"],
                     ["--url", "ftp://127.0.0.1/", "sites"]):
            run = self.fails(2, *args)
            self.assertTrue(run.stderr.strip(), args)
        # Nothing was purged by the refusals above.
        self.assertEqual(bed.count(campaign="held"), 7)

    def test_the_bazel_binary_runs_with_debians_python(self):
        # //tools:sluicectl's launcher, with no python but /usr/bin/python3.
        launcher = os.path.join(ROOT, "tools", "sluicectl")
        with open(launcher) as f:
            self.assertEqual(f.readline().strip(), "#!/usr/bin/python3")
        env = bed.env(PATH="/nonexistent")
        run = subprocess.run([launcher, "--json", "queue", "--campaign", "held"],
                             capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(json.loads(run.stdout)["total"]["envelopes"], 7)

    def test_a_token_in_the_url_is_refused(self):
        host, port = bed.sluice.http
        run = self.fails(2, "--url", f"http://ops:{ADMIN}@{host}:{port}", "sites")
        self.assertIn("--token", run.stderr)

    def test_a_closed_port_exits_5(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        run = self.fails(5, "--url", f"http://127.0.0.1:{port}", "queue")
        self.assertIn(f"cannot reach sluiced at http://127.0.0.1:{port}", run.stderr)
        run = self.fails(5, "queue", env=bed.env(SLUICE_URL=f"http://127.0.0.1:{port}"))
        self.assertIn(str(port), run.stderr)

    def test_refusals_exit_4_and_say_which(self):
        run = self.fails(4, "queue", token="not-a-key")
        self.assertIn("401", run.stderr)
        self.assertIn("--token", run.stderr)
        run = self.fails(4, "queue", token=None)
        self.assertIn("401", run.stderr)
        # The reader may look but not purge; nothing is purged.
        self.ok("queue", "--campaign", "held", token=READER)
        run = self.fails(4, "purge", "--campaign", "held", "--yes", token=READER)
        self.assertIn("403", run.stderr)
        self.assertIn("scope", run.stderr)
        self.assertEqual(bed.count(campaign="held"), 7)
        # One request a second: within a few back-to-back calls one is refused.
        codes = []
        for _ in range(10):
            run = bed.ctl("sites", token=SLOW)
            codes.append(run.returncode)
            if run.returncode == 4:
                self.assertIn("429", run.stderr)
                self.assertIn("retry after", run.stderr)
                break
        self.assertIn(4, codes)
        self.assertTrue(set(codes) <= {0, 4}, codes)

    def test_token_from_option_and_file_win_over_the_environment(self):
        self.ok("--token", ADMIN, "queue", token="wrong")
        path = os.path.join(bed.tmp, "token")
        with open(path, "w") as f:
            f.write(READER + "\n")
        self.ok("--token-file", path, "queue", token="wrong")
        self.fails(4, "--token-file", path, "retry", "--campaign", "none", token=ADMIN)

    def test_server_errors_exit_1_with_the_servers_message(self):
        run = self.fails(1, "inspect", "not-a-message-id")
        self.assertIn("400", run.stderr)
        self.assertIn("id:", run.stderr)
        run = self.fails(1, "suppression", "add", "not-an-address")
        self.assertIn("entries[0].address: not an address", run.stderr)

    def test_an_unknown_id_exits_3(self):
        [gone] = bed.inject("gone", [f"gone@{domain(0, 9)}"])
        self.assertEqual(self.json_of("purge", "--campaign", "gone", "--yes"), {"purged": 1})
        run = self.fails(3, "inspect", gone)
        self.assertIn("404", run.stderr)
        self.fails(3, "--json", "inspect", gone)

    def test_global_options_go_before_or_after_the_command(self):
        host, port = bed.sluice.http
        url = f"http://{host}:{port}"
        env = bed.env(SLUICE_URL="http://127.0.0.1:9")
        a = json.loads(self.ok("--url", url, "--json", "queue", "--campaign", "held",
                               env=env).stdout)
        b = json.loads(self.ok("queue", "--campaign", "held", "--url", url, "--json",
                               env=env).stdout)
        self.assertEqual(a, b)
        self.assertEqual(a["total"]["envelopes"], 7)

    # ---- queue (qshape), queue list, inspect ----

    def test_queue_is_a_table_of_domains_matching_the_api(self):
        self.queued("shape", [f"s{i}@{domain(0, 0)}" for i in range(3)] +
                    [f"s{i}@{domain(2, 0)}" for i in range(2)] + [f"s0@{domain(3, 0)}"])
        api = eventually_same(
            self, lambda: self.json_of("queue", "--campaign", "shape"),
            lambda: bed.get("/api/v1/queues", [("group_by", "domain"), ("campaign", "shape")]))
        self.assertEqual(api["total"]["envelopes"], 6)
        lines = self.ok("queue", "--campaign", "shape").stdout.splitlines()
        self.assertEqual(lines[0].split()[:2], ["DOMAIN", "T"])
        self.assertEqual(lines[1].split()[:2], ["TOTAL", "6"])
        rows = {line.split()[0]: int(line.split()[1]) for line in lines[2:]}
        self.assertEqual(rows, {domain(0, 0): 3, domain(2, 0): 2, domain(3, 0): 1})
        # The largest first, --top N of them, TOTAL still the whole.
        top = self.json_of("queue", "--campaign", "shape", "--top", "1")
        self.assertEqual(top["groups"], api["groups"][:1])
        self.assertEqual(top["total"], api["total"])
        lines = self.ok("queue", "--campaign", "shape", "--top", "2").stdout.splitlines()
        self.assertEqual([line.split()[0] for line in lines[1:]],
                         ["TOTAL", domain(0, 0), domain(2, 0)])
        # Other groupings and filters.
        lines = self.ok("queue", "--by", "campaign", "--campaign", "shape").stdout.splitlines()
        self.assertEqual(lines[0].split()[:2], ["CAMPAIGN", "T"])
        self.assertEqual(lines[2].split()[:2], ["shape", "6"])
        by_site = self.json_of("queue", "--by", "site", "--campaign", "shape",
                               "--domain", domain(2, 0))
        self.assertEqual([(g["key"], g["envelopes"]) for g in by_site["groups"]],
                         [(site_key(2), 2)])

    def test_queue_has_qshapes_age_columns(self):
        # Uses ages in GET /api/v1/queues (age_buckets_minutes, ages).
        self.queued("ages", [f"a{i}@{domain(0, 1)}" for i in range(4)] + [f"a0@{domain(2, 1)}"])
        api = eventually_same(
            self, lambda: self.json_of("queue", "--campaign", "ages"),
            lambda: bed.get("/api/v1/queues", [("group_by", "domain"), ("campaign", "ages")]))
        self.assertEqual(api.get("age_buckets_minutes"), [5, 10, 20, 40, 80, 160, 320, 640, 1280])
        lines = self.ok("queue", "--campaign", "ages").stdout.splitlines()
        self.assertEqual(lines[0].split(), ["DOMAIN", "T", "5", "10", "20", "40", "80", "160",
                                            "320", "640", "1280", "1280+"])
        # Minutes old: every one in the first bucket.
        self.assertEqual(lines[1].split(), ["TOTAL", "5", "5"] + ["0"] * 9)
        self.assertEqual(lines[2].split(), [domain(0, 1), "4", "4"] + ["0"] * 9)
        self.assertEqual(lines[3].split(), [domain(2, 1), "1", "1"] + ["0"] * 9)
        for group in api["groups"] + [api["total"]]:
            self.assertEqual(sum(group["ages"]), group["envelopes"])
        self.assertNotIn("reports no ages", self.ok("queue", "--campaign", "ages").stderr)

    def test_queue_list_pages_through_the_messages(self):
        # Uses GET /api/v1/messages (listing, paged by after).
        ids = self.queued("listing", [f"l{i}@{domain(3, i % 2)}" for i in range(7)])
        api = bed.get("/api/v1/messages", [("campaign", "listing"), ("limit", "1000")])
        self.assertEqual(sorted(m["id"] for m in api["messages"]), sorted(ids))
        self.assertEqual(api["next"], "")
        # Pages of 3 give the same 7 as one page of 1000.
        mine = self.json_of("queue", "list", "--campaign", "listing", "--limit", "0",
                            "--page-size", "3")
        self.assertEqual(mine, {"messages": api["messages"], "next": ""})
        first = bed.get("/api/v1/messages", [("campaign", "listing"), ("limit", "5")])
        mine = self.json_of("queue", "list", "--campaign", "listing", "--limit", "5",
                            "--page-size", "2")
        self.assertEqual(mine["messages"], first["messages"])
        self.assertEqual(mine["next"], first["next"])
        # The table: one row per message with its domain, then the count.
        lines = self.ok("queue", "list", "--campaign", "listing").stdout.splitlines()
        self.assertEqual(lines[0].split()[:3], ["ID", "AGE", "SIZE"])
        rows = {line.split()[0]: line for line in lines[1:-1]}
        self.assertEqual(sorted(rows), sorted(ids))
        for m in api["messages"]:
            self.assertIn(m["domain"], rows[m["id"]])
            self.assertIn("451", rows[m["id"]])
        self.assertTrue(lines[-1].startswith("-- 7 messages"), lines[-1])

    def test_inspect_shows_the_envelope_and_each_recipient(self):
        [id_] = self.queued("inspect", [f"look@{domain(2, 2)}"])
        api = eventually_same(self, lambda: self.json_of("inspect", id_),
                              lambda: bed.get(f"/api/v1/messages/{id_}"))
        self.assertEqual(api["campaign"], "inspect")
        text = self.ok("inspect", id_).stdout
        self.assertRegex(text, rf"(?m)^id:\s+{id_}$")
        self.assertRegex(text, r"(?m)^sender:\s+app@sender.test$")
        self.assertRegex(text, r"(?m)^campaign:\s+inspect$")
        self.assertRegex(text, rf"(?m)^site:\s+{re.escape(site_key(2))}$")
        self.assertRegex(text, rf"(?m)^attempts:\s+{api['attempts']}$")
        self.assertRegex(text, rf"(?m)^\s+look@{re.escape(domain(2, 2))}\s+deferred\s+1\s+451")

    # ---- suspend, resume, retry, purge, bounce ----

    def test_suspend_shows_in_sites_and_resume_undoes_it(self):
        site = site_key(3)
        self.assertEqual(self.json_of("suspend", "--site", site), {"suspended": {"site": site}})
        self.assertEqual(self.ok("suspend", "--site", site).stdout.strip(),
                         f"suspended site {site}")
        ids = bed.inject("suspend", [f"wait@{domain(3, 5)}"])
        wait_until(lambda: (bed.site(site) or {}).get("suspended") is True and
                   bed.site(site)["ready"] >= 1, 60, f"{site} suspended with mail ready")
        sites = self.json_of("sites")
        self.assertTrue(next(q for q in sites["queues"] if q["site"] == site)["suspended"])
        self.assertEqual(self.json_of("resume", "--site", site), {"resumed": {"site": site}})
        wait_until(lambda: bed.site(site) is None or bed.site(site)["suspended"] is False, 60,
                   f"{site} resumed")
        bed.settle(ids)  # tried, now that it may be
        for scope in ("domain", "tenant", "campaign"):
            self.assertEqual(self.json_of("suspend", f"--{scope}", "x-" + scope),
                             {"suspended": {scope: "x-" + scope}})
            self.assertEqual(self.ok("resume", f"--{scope}", "x-" + scope).stdout.strip(),
                             f"resumed {scope} x-{scope}")

    def test_retry_reschedules_what_matches(self):
        self.queued("retry", [f"r{i}@{domain(0, 2)}" for i in range(3)])
        before = bed.count(campaign="retry")
        self.assertEqual(self.json_of("retry", "--campaign", "retry"), {"rescheduled": before})
        self.assertIn(f"rescheduled {before} envelopes",
                      self.ok("retry", "--campaign", "retry", "--domain", domain(0, 2)).stdout)
        self.assertEqual(self.json_of("retry", "--campaign", "no-such-campaign"),
                         {"rescheduled": 0})

    def test_purge_removes_what_the_api_counted(self):
        self.queued("purge-one", [f"p{i}@{domain(0, 3)}" for i in range(2)] +
                    [f"p0@{domain(2, 3)}"])
        before = bed.count(campaign="purge-one")
        self.assertEqual(before, 3)
        dry = self.ok("purge", "--campaign", "purge-one", "--dry-run").stdout
        self.assertIn("would purge 3 envelopes", dry)
        self.assertEqual(bed.count(campaign="purge-one"), 3)
        self.assertEqual(self.json_of("purge", "--campaign", "purge-one", "--yes",
                                      "--no-progress"), {"purged": before})
        self.assertEqual(bed.count(campaign="purge-one"), 0)
        self.assertEqual(bed.count(campaign="held"), 7)

    def test_purge_with_progress_goes_domain_by_domain(self):
        self.queued("purge-bar", [f"q{i}@{domain(0, 4)}" for i in range(3)] +
                    [f"q{i}@{domain(2, 4)}" for i in range(2)] + [f"q0@{domain(3, 4)}"])
        before = bed.count(campaign="purge-bar")
        run = self.ok("purge", "--campaign", "purge-bar", "--yes", "--progress")
        self.assertEqual(run.stdout.strip(), f"purged {before} envelopes (campaign=purge-bar)")
        steps = [line for line in run.stderr.splitlines() if line.startswith("purging:")]
        self.assertEqual(steps, ["purging: 0/6 envelopes", f"purging: 3/6 envelopes {domain(0, 4)}",
                                 f"purging: 5/6 envelopes {domain(2, 4)}",
                                 f"purging: 6/6 envelopes {domain(3, 4)}"])
        self.assertEqual(bed.count(campaign="purge-bar"), 0)

    def test_bounce_bounces_what_the_api_counted(self):
        self.queued("bounce-one", [f"b{i}@{domain(2, 5)}" for i in range(2)])
        before = bed.count(campaign="bounce-one")
        self.assertEqual(self.json_of("bounce", "--campaign", "bounce-one", "--reason",
                                      "withdrawn", "--yes"), {"bounced": before})
        wait_until(lambda: bed.count(campaign="bounce-one") == 0, 60, "bounced mail gone")
        self.queued("bounce-bar", [f"c{i}@{domain(0, 6)}" for i in range(2)] +
                    [f"c0@{domain(3, 6)}"])
        before = bed.count(campaign="bounce-bar")
        run = self.ok("--json", "bounce", "--campaign", "bounce-bar", "--yes", "--progress",
                      "--reason", "withdrawn")
        self.assertEqual(json.loads(run.stdout), {"bounced": before})
        self.assertIn(f"bouncing: {before}/{before} envelopes", run.stderr)
        wait_until(lambda: bed.count(campaign="bounce-bar") == 0, 60, "bounced mail gone")

    # ---- sites, failures, top ----

    def test_sites_matches_the_api(self):
        eventually_same(self, lambda: self.json_of("sites"), lambda: bed.get("/api/v1/sites"))
        lines = self.ok("sites").stdout.splitlines()
        self.assertEqual(lines[0].split()[:4], ["SITE", "POOL", "READY", "INFLIGHT"])
        held = next(line.split() for line in lines if line.startswith(HELD + " "))
        self.assertEqual(held[2], "7")
        self.assertIn("yes", held)
        self.assertTrue(lines[-1].startswith("-- sites 1-"), lines[-1])

    def test_sites_sorted_filtered_and_paged_by_sluiced(self):
        # Uses GET /api/v1/sites with sort, order, q, suspended, limit, offset and total.
        self.queued("sites", [f"x@{domain(0, 7)}", f"x@{domain(2, 7)}"])
        for args, params in (
                (["--sort", "site", "--order", "asc", "--limit", "2", "--offset", "1"],
                 [("sort", "site"), ("order", "asc"), ("limit", "2"), ("offset", "1")]),
                (["--sort", "ready", "--limit", "1"], [("sort", "ready"), ("limit", "1")]),
                (["--filter", "mx1", "--suspended", "true"],
                 [("q", "mx1"), ("suspended", "true")])):
            api = eventually_same(self, lambda: self.json_of("sites", *args),
                                  lambda: bed.get("/api/v1/sites", params))
            self.assertIn("total", api)
        api = bed.get("/api/v1/sites", [("q", "mx1"), ("suspended", "true")])
        self.assertEqual([q["site"] for q in api["queues"]], [HELD])
        self.assertEqual(api["total"], 1)
        run = self.fails(1, "sites", "--limit", "5000")
        self.assertIn("limit", run.stderr)

    def test_failures_groups_the_reasons_by_site(self):
        # Uses GET /api/v1/failures.
        self.queued("failures", [f"f@{domain(0, 8)}", f"f@{domain(2, 8)}"])
        api = eventually_same(self, lambda: self.json_of("failures"),
                              lambda: bed.get("/api/v1/failures"))
        # The receiver's 451 at both sites (and whatever else the other
        # cases caused: the operator's bounces, say).
        deferred = {g["site"]: g for g in api["groups"] if g["type"] == "deferred"}
        self.assertTrue({site_key(0), site_key(2)} <= set(deferred), api)
        for site in (site_key(0), site_key(2)):
            self.assertEqual((deferred[site]["status"], deferred[site]["reply"]),
                             ("4.3.0", "451 4.3.0 Temporary failure (injected)"))
            self.assertGreaterEqual(deferred[site]["count"], 1)
        one = self.json_of("failures", "--site", site_key(2))
        self.assertEqual({g["site"] for g in one["groups"]}, {site_key(2)})
        lines = self.ok("failures", "--site", site_key(2)).stdout.splitlines()
        self.assertEqual(lines[0].split()[:3], ["SITE", "TYPE", "CATEGORY"])
        self.assertTrue(all(line.startswith(site_key(2)) for line in lines[1:]), lines)
        self.assertTrue(any(line.split()[1:4] == ["deferred", "other", "4.3.0"] and
                            line.endswith("451 4.3.0 Temporary failure (injected)")
                            for line in lines[1:]), lines)
        self.assertEqual(len(self.json_of("failures", "--limit", "1")["groups"]), 1)

    def test_top_once_shows_the_busiest_sites(self):
        sites = bed.get("/api/v1/sites")["queues"]
        lines = self.ok("top", "--once").stdout.splitlines()
        self.assertTrue(lines[0].startswith(f"sluicectl top - {bed.url} - "), lines[0])
        header = next(i for i, line in enumerate(lines) if line.startswith("SITE "))
        rows = [line.split() for line in lines[header + 1:]]
        # Busiest first: the held site, whose 7 are waiting, heads the list.
        self.assertEqual(rows[0][0], HELD)
        self.assertEqual(rows[0][2], str(next(q["ready"] for q in sites if q["site"] == HELD)))
        self.assertEqual(len(self.ok("top", "--once", "--sites", "1").stdout.splitlines()),
                         header + 2)
        frames = self.ok("top", "--iterations", "2", "--interval", "0.1").stdout
        self.assertEqual(frames.count("sluicectl top - "), 2)
        mine = self.json_of("top", "--once")
        self.assertEqual(mine["sites"]["queues"][0]["site"], HELD)

    def test_top_once_shows_the_rates_from_stats(self):
        # Uses GET /api/v1/stats.
        stats = bed.get("/api/v1/stats")
        for key in ("totals", "gauges", "latency", "rates", "history"):
            self.assertIn(key, stats)
        self.assertGreaterEqual(stats["totals"]["accepted"], 7)
        text = self.ok("top", "--once").stdout
        self.assertRegex(text, r"(?m)^rates/s\s+accepted \d+\.\d  delivered \d+\.\d  "
                               r"deferred \d+\.\d  bounced \d+\.\d$")
        self.assertRegex(text, r"(?m)^queue\s+scheduled \d+  ready \d+\s+connections out \d+"
                               r"  in \d+$")
        self.assertRegex(text, r"(?m)^latency\s+spool commit p99 \d+\.\d ms  loop lag p99 "
                               r"\d+\.\d ms$")
        self.assertRegex(text, r"(?m)^totals\s+accepted \d+  delivered 0  ")
        self.assertNotIn("not available", text)
        mine = self.json_of("top", "--once")["stats"]
        self.assertEqual(set(mine), set(stats))

    # ---- suppression ----

    def test_suppression_add_check_list_remove_round_trip(self):
        self.assertEqual(self.json_of("suppression", "add", "--tenant", "shop", "--reason",
                                      "asked by phone", "A@Example.com", "b@example.com"),
                         {"added": 2})
        self.assertIn("added 1 entries (tenant shop)",
                      self.ok("suppression", "add", "--tenant", "shop", "--expires",
                              "2099-01-01T00:00:00Z", "c@example.com").stdout)
        check = self.json_of("suppression", "check", "--tenant", "shop", "a@example.com")
        self.assertEqual(check, bed.get("/api/v1/suppressions/check",
                                        [("tenant", "shop"), ("address", "a@example.com")]))
        self.assertTrue(check["suppressed"])
        self.assertEqual(check["entry"]["reason"], "asked by phone")
        self.assertIn("a@example.com: suppressed: tenant shop, operator, reason 'asked by phone'",
                      self.ok("suppression", "check", "--tenant", "shop",
                              "a@example.com").stdout)
        listing = self.json_of("suppression", "list", "--tenant", "shop")
        api = bed.get("/api/v1/suppressions", [("tenant", "shop"), ("limit", "1000")])
        self.assertEqual(listing["entries"], api["entries"])
        self.assertEqual([e["address"] for e in listing["entries"]],
                         ["a@example.com", "b@example.com", "c@example.com"])
        # Paged by the API's own pages.
        page = self.json_of("suppression", "list", "--tenant", "shop", "--limit", "2")
        self.assertEqual(page, bed.get("/api/v1/suppressions", [("tenant", "shop"),
                                                                 ("limit", "2")]))
        rest = self.json_of("suppression", "list", "--tenant", "shop", "--after", page["next"])
        self.assertEqual([e["address"] for e in rest["entries"]], ["c@example.com"])
        lines = self.ok("suppression", "list", "--tenant", "shop", "--prefix", "b").stdout
        self.assertIn("b@example.com", lines)
        self.assertNotIn("a@example.com", lines)
        # Remove: then not suppressed; again: not found.
        self.assertEqual(self.json_of("suppression", "remove", "--tenant", "shop",
                                      "a@example.com"), {"removed": 1})
        self.assertEqual(self.json_of("suppression", "check", "--tenant", "shop",
                                      "a@example.com"), {"suppressed": False, "entry": None})
        self.assertIn("a@example.com: not suppressed",
                      self.ok("suppression", "check", "--tenant", "shop", "a@example.com").stdout)
        run = self.fails(3, "suppression", "remove", "--tenant", "shop", "a@example.com")
        self.assertIn("404", run.stderr)
        # One absent among several: the others are removed all the same.
        run = self.fails(3, "--json", "suppression", "remove", "--tenant", "shop",
                         "absent@example.com", "b@example.com")
        self.assertEqual(json.loads(run.stdout), {"removed": 1})
        self.assertIn("absent@example.com", run.stderr)
        self.assertFalse(bed.get("/api/v1/suppressions/check",
                                 [("tenant", "shop"), ("address", "b@example.com")])["suppressed"])

    def test_suppression_export_and_chunked_import_round_trip(self):
        self.ok("suppression", "add", "--tenant", "move", "--reason", 'said "stop", twice',
                "one@example.com", "two@example.com", "three@example.com")
        api = bed.get("/api/v1/suppressions/export", [("tenant", "move")], raw=True)
        self.assertIn(b"\r\n", api)
        # stdout is read as text here (CRLF as LF); the file keeps the bytes.
        exported = self.ok("suppression", "export", "--tenant", "move").stdout
        self.assertEqual(exported, api.decode().replace("\r\n", "\n"))
        path = os.path.join(bed.tmp, "move.csv")
        run = self.ok("suppression", "export", "--tenant", "move", "-o", path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), api)
        self.assertIn("exported 3 entries", run.stderr)
        as_json = self.json_of("suppression", "export", "--tenant", "move")
        self.assertEqual([e["address"] for e in as_json["entries"]],
                         ["one@example.com", "three@example.com", "two@example.com"])
        self.assertEqual(as_json["entries"][0]["reason"], 'said "stop", twice')
        # Into another tenant's scope, one row per request, with progress:
        # the export names its tenant, so the rows go back where they were;
        # remove them first.
        self.ok("suppression", "remove", "--tenant", "move", "one@example.com",
                "two@example.com", "three@example.com")
        run = self.ok("--json", "suppression", "import", "--tenant", "move", "--chunk-rows", "1",
                      "--progress", path)
        self.assertEqual(json.loads(run.stdout), {"imported": 3, "refused": 0, "errors": []})
        self.assertEqual([line for line in run.stderr.splitlines()
                          if line.startswith("importing:")],
                         [f"importing: {i}/3 rows" for i in range(4)])
        self.assertEqual(self.json_of("suppression", "export", "--tenant", "move"), as_json)

    def test_a_large_import_names_bad_rows_by_their_line_in_the_file(self):
        rows = [["address", "reason"]] + [[f"u{i:05d}@bulk.example", "list"]
                                          for i in range(2500)]
        rows[1234] = ["not-an-address", "bad"]   # line 1235
        rows[2222] = ["also bad", "multi\nline"]  # line 2223 (and 2224)
        text = io.StringIO(newline="")
        csv.writer(text, lineterminator="\r\n").writerows(rows)
        path = os.path.join(bed.tmp, "bulk.csv")
        with open(path, "w", newline="") as f:
            f.write(text.getvalue())
        run = self.ok("--json", "suppression", "import", "--tenant", "bulk", "--chunk-rows",
                      "1000", path, "--progress")
        answer = json.loads(run.stdout)
        self.assertEqual((answer["imported"], answer["refused"]), (2498, 2))
        self.assertEqual(len(answer["errors"]), 2)
        self.assertTrue(answer["errors"][0].startswith("line 1235:"), answer)
        self.assertTrue(answer["errors"][1].startswith("line 2223:"), answer)
        self.assertIn("importing: 2500/2500 rows", run.stderr)
        listing = self.json_of("suppression", "list", "--tenant", "bulk", "--limit", "0")
        self.assertEqual(len(listing["entries"]), 2498)
        self.assertIsNone(listing["next"])
        # From stdin, in the table form.
        run = self.ok("suppression", "import", "--tenant", "bulk2", "-",
                      input="email\nx@bulk.example\ny@bulk.example\n")
        self.assertEqual(run.stdout.strip(), "imported 2 entries, refused 0")

    # ---- config check ----

    def write(self, name, text):
        path = os.path.join(bed.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_config_check_finds_no_sluiced(self):
        good = self.write("any.toml", "")
        run = self.fails(5, "config", "check", good, "--sluiced", "/nonexistent/sluiced")
        self.assertIn("/nonexistent/sluiced", run.stderr)
        run = self.fails(5, "config", "check", good,
                         env=bed.env(SLUICED="/nowhere/sluiced", PATH="/nonexistent"))
        self.assertIn("/nowhere/sluiced", run.stderr)

    def test_config_check_on_a_good_and_a_bad_file(self):
        # Uses sluiced --check_config.
        good = self.write("good.toml", '[server]\nshards = 1\n\n[listen]\nhttp = "127.0.0.1:0"\n')
        bad = self.write("bad.toml", '[server]\nshards = "many"\n')
        run = self.ok("config", "check", good, "--sluiced", bed.sluiced)
        self.assertEqual(run.stdout.strip(), "configuration OK")
        run = self.ok("config", "check", good, env=bed.env(SLUICED=bed.sluiced))
        self.assertEqual(run.stdout.strip(), "configuration OK")
        run = self.fails(1, "config", "check", bad, "--sluiced", bed.sluiced)
        self.assertIn("shards", run.stderr)
        answer = json.loads(self.fails(1, "--json", "config", "check", bad, "--sluiced",
                                       bed.sluiced).stdout)
        self.assertFalse(answer["ok"])
        self.assertIn("shards", answer["output"])
        self.assertEqual(self.fails(2, "config", "check", os.path.join(bed.tmp, "absent.toml"),
                                    "--sluiced", bed.sluiced).returncode, 2)


if __name__ == "__main__":
    unittest.main()
