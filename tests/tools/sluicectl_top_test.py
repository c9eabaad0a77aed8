"""`sluicectl top` in a real terminal: tmux (Debian's package) runs it in a
detached session of a fixed size; the test reads the screen with
capture-pane until the frame shows the header and the held site's row with
the API's numbers, types q, and checks that top exited 0.

Run by run_python_test.sh with the runfiles root as the first argument.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, ROOT)

from tests.tools.sluicectl_bed import ADMIN, PYTHON, Bed, domain, site_key  # noqa: E402
from tools.testbed.sluice_instance import wait_until  # noqa: E402

bed = None
HELD = site_key(1)
WIDTH, HEIGHT = 160, 40


def setUpModule():
    global bed
    bed = Bed(ROOT, base_ip=64).start()
    bed.api("POST", "/api/v1/suspend", [("site", HELD)])
    bed.inject("held", [f"h{i}@{domain(1, i % 3)}" for i in range(5)])
    wait_until(lambda: (bed.site(HELD) or {}).get("ready") == 5, 60, "5 ready at the held site")


def tearDownModule():
    if bed is not None:
        bed.stop()


class TopInTmuxTest(unittest.TestCase):
    def setUp(self):
        self.tmux = shutil.which("tmux") or ("/usr/bin/tmux" if os.path.exists("/usr/bin/tmux")
                                             else None)
        if self.tmux is None:
            raise AssertionError("tmux is missing (Debian package tmux)")
        self.dir = tempfile.mkdtemp(dir=bed.tmp)
        # A socket path must fit in sun_path (108 bytes), which Bazel's
        # TEST_TMPDIR does not: the socket gets a short folder of its own.
        self.socket_dir = tempfile.mkdtemp(prefix="sluicectl-tmux-", dir="/tmp")
        self.socket = os.path.join(self.socket_dir, "s")
        self.exit_file = os.path.join(self.dir, "exit")
        token_file = os.path.join(self.dir, "token")
        with open(token_file, "w") as f:
            f.write(ADMIN)
        # The exit status lands in a file once top has ended (renamed into
        # place, so it is never read half-written).
        command = (f"{PYTHON} {shlex.quote(bed.sluicectl)} --url {bed.url} --token-file "
                   f"{shlex.quote(token_file)} top --interval 0.3; echo $? > "
                   f"{self.exit_file}.tmp; mv {self.exit_file}.tmp {self.exit_file}")
        self.run_tmux("new-session", "-d", "-s", "top", "-x", str(WIDTH), "-y", str(HEIGHT),
                      "sh", "-c", command)

    def tearDown(self):
        # Only this test's own tmux server, by its socket.
        subprocess.run([self.tmux, "-S", self.socket, "kill-server"], capture_output=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def run_tmux(self, *args):
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        env.setdefault("TERM", "xterm")
        run = subprocess.run([self.tmux, "-S", self.socket, "-f", "/dev/null", *args],
                             capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(run.returncode, 0, f"tmux {args}: {run.stderr}")
        return run.stdout

    def screen(self):
        return self.run_tmux("capture-pane", "-p", "-t", "top").splitlines()

    def wait_screen(self, predicate, what, timeout=30):
        """Polls the screen until predicate(lines) is true; its value."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.screen()
            value = predicate(lines)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; the "
                                     "screen:\n" + "\n".join(lines))
            time.sleep(0.1)

    def quit_and_check_exit(self):
        self.run_tmux("send-keys", "-t", "top", "q")
        wait_until(lambda: os.path.exists(self.exit_file), 30, "top to exit after q")
        with open(self.exit_file) as f:
            self.assertEqual(f.read().strip(), "0")

    def held_row_matches_api(self, lines):
        """The held site's row, when its numbers are the API's now."""
        site = bed.site(HELD)
        for line in lines:
            cells = line.split()
            if cells and cells[0] == HELD:
                expected = [str(site[k]) for k in ("ready", "in_flight", "connections",
                                                   "window")]
                if cells[2:6] == expected and "yes" in cells:
                    return cells
        return None

    def test_top_shows_the_busiest_sites_and_quits_on_q(self):
        self.wait_screen(lambda lines: lines and lines[0].startswith(f"sluicectl top - {bed.url}"),
                         "the title line")
        lines = self.screen()
        self.assertTrue(any(line.split()[:4] == ["SITE", "POOL", "READY", "INFLIGHT"]
                            for line in lines if line.strip()), lines)
        cells = self.wait_screen(self.held_row_matches_api, f"{HELD}'s row with the API's numbers")
        self.assertEqual(cells[2], "5")
        self.assertTrue(all(len(line) <= WIDTH for line in self.screen()))
        self.quit_and_check_exit()

    def test_top_header_shows_rates_queue_and_latency(self):
        # Uses GET /api/v1/stats.
        def header(lines):
            text = "\n".join(lines)
            if not all(word in text for word in ("rates/s", "accepted", "delivered", "deferred",
                                                 "bounced", "scheduled", "spool commit p99",
                                                 "loop lag p99")):
                return None
            gauges = bed.get("/api/v1/stats")["gauges"]
            queue = next((line for line in lines if line.startswith("queue ")), "")
            return (f"scheduled {gauges['queue_scheduled']}  ready {gauges['queue_ready']} "
                    in queue) and lines
        lines = self.wait_screen(header, "the stats header with the API's queue gauges")
        self.assertFalse(any("not available" in line for line in lines), lines)
        self.wait_screen(self.held_row_matches_api, f"{HELD}'s row with the API's numbers")
        self.quit_and_check_exit()


if __name__ == "__main__":
    unittest.main()
