"""A private Postfix instance on loopback, for tests and benchmarks.

Its own configuration, queue and data folders under a work folder, its
smtpd on 127.0.0.1:<port>, nothing chrooted; started and stopped with
`postfix -c <dir>`, so the machine's own Postfix (if any) is untouched.
Needs root and the Debian package postfix.
"""
import os
import shutil
import socket
import subprocess
import sys
import time

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
myhostname = postfix.test.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
biff = no
"""

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, alive, what):
    """Returns once something accepts connections on `port`; exits if
    `alive()` turns false or a minute passes."""
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if not alive() or time.monotonic() > deadline:
                sys.exit(f"{what} did not start")
            time.sleep(0.05)


def pid_alive(pid):
    return os.path.exists(f"/proc/{pid}")


class PostfixInstance:
    def __init__(self, work, extra_main_cf="", extra_master_cf="", resolv_conf=None):
        """extra_main_cf / extra_master_cf: appended to main.cf / master.cf.
        resolv_conf: a resolv.conf for this instance alone; Postfix (master
        and every child) then runs in its own mount namespace in which the
        file is bind-mounted over /etc/resolv.conf, so its DNS lookups go
        where the file says while the machine's resolver stays untouched."""
        self.resolv_conf = resolv_conf
        self.root = os.path.join(work, "postfix")
        self.etc = os.path.join(self.root, "etc")
        self.port = free_port()
        self.master = None
        os.makedirs(self.etc)
        os.makedirs(os.path.join(self.root, "spool"))  # `postfix check` fills it in
        os.makedirs(os.path.join(self.root, "data"))
        shutil.chown(os.path.join(self.root, "data"), user="postfix")
        # Postfix's daemons run as the postfix user and must reach their folders.
        for path in (work, self.root):
            os.chmod(path, 0o755)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(root=self.root) + extra_main_cf)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port) + extra_master_cf)

    def _postfix(self, command):
        # Postfix reports on stderr only to a terminal, so give it one.
        line = f"postfix -c {self.etc} {command}"
        if self.resolv_conf and command == "start":
            # The master inherits the namespace, and so do all its children.
            line = (f"unshare -m --propagation private sh -c "
                    f"'mount --bind {self.resolv_conf} /etc/resolv.conf && {line}'")
        return subprocess.run(["script", "-qec", line, "/dev/null"], capture_output=True,
                              text=True)

    def start(self):
        for step in ("check", "start"):
            result = self._postfix(step)
            if result.returncode != 0:
                sys.exit(f"postfix {step} failed: {result.stdout.strip()}")
        pid_file = os.path.join(self.root, "spool", "pid", "master.pid")
        deadline = time.monotonic() + 60
        while not (os.path.exists(pid_file) and open(pid_file).read().strip()):
            if time.monotonic() > deadline:
                sys.exit("postfix did not start")
            time.sleep(0.05)
        self.master = int(open(pid_file).read().strip())
        wait_for_port(self.port, lambda: pid_alive(self.master), "postfix smtpd")

    def stop(self):
        self._postfix("stop")

    def queue_count(self, queue):
        """Messages in one of the instance's queues (hold, deferred, ...)."""
        count = 0
        for _, _, files in os.walk(os.path.join(self.root, "spool", queue)):
            count += len(files)
        return count
