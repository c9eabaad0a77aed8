"""A private Postfix instance on loopback, for tests and benchmarks.

Its own configuration, queue and data folders under a work folder, its
smtpd on 127.0.0.1:<port>, nothing chrooted; started and stopped with
`postfix -c <dir>`, so the machine's own Postfix (if any) is untouched.
Needs root and the Debian package postfix.

Options for using it as a destination MTA (all off by default):
  address="127.0.0.20"  smtpd listens there instead of 127.0.0.1 (any
      loopback address); port=N a given port instead of a free one
  mailboxes=[addresses] accept mail for these addresses (and their domains)
      and deliver it with Postfix's virtual(8) agent into Maildirs under
      <work>/postfix/mail: <domain>/<local part>/new/<file>, see mailbox();
      other users of those domains get "550 5.1.1 <...>: Recipient address
      rejected: User unknown in virtual mailbox table"
  maillog=PATH          Postfix's log goes to this file (through postlogd)
  tls=True              offer STARTTLS with a fresh self-signed certificate
      and record it in the Received header ("using TLSv1.3 with cipher ...")
"""
import grp
import os
import pwd
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
{address}:{port} inet n - n - - smtpd
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
virtual   unix  -       n       n       -       -       virtual
"""

MAILBOX_CF = """\
virtual_mailbox_domains = {domains}
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = texthash:{root}/etc/mailboxes
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
smtpd_reject_unlisted_recipient = yes
"""

TLS_CF = """\
smtpd_tls_security_level = may
smtpd_tls_chain_files = {root}/etc/key.pem, {root}/etc/cert.pem
smtpd_tls_received_header = yes
"""


def free_port(address="127.0.0.1"):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def wait_for_port(port, alive, what, address="127.0.0.1"):
    """Returns once something accepts connections on `address`:`port`; exits
    if `alive()` turns false or a minute passes."""
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError:
            if not alive() or time.monotonic() > deadline:
                sys.exit(f"{what} did not start")
            time.sleep(0.05)


def pid_alive(pid):
    return os.path.exists(f"/proc/{pid}")


class PostfixInstance:
    def __init__(self, work, extra_main_cf="", extra_master_cf="", resolv_conf=None,
                 address="127.0.0.1", port=None, mailboxes=None, tls=False, maillog=None):
        """extra_main_cf / extra_master_cf: appended to main.cf / master.cf.
        resolv_conf: a resolv.conf for this instance alone; Postfix (master
        and every child) then runs in its own mount namespace in which the
        file is bind-mounted over /etc/resolv.conf, so its DNS lookups go
        where the file says while the machine's resolver stays untouched.
        address, port, mailboxes, tls, maillog: see the module
        docstring; port None picks a free one."""
        self.resolv_conf = resolv_conf
        self.root = os.path.join(work, "postfix")
        self.etc = os.path.join(self.root, "etc")
        self.address = address
        self.port = port or free_port(address)
        self.master = None
        self.mail = os.path.join(self.root, "mail")
        os.makedirs(self.etc)
        os.makedirs(os.path.join(self.root, "spool"))  # `postfix check` fills it in
        os.makedirs(os.path.join(self.root, "data"))
        shutil.chown(os.path.join(self.root, "data"), user="postfix")
        # Postfix's daemons run as the postfix user and must reach their folders.
        for path in (work, self.root):
            os.chmod(path, 0o755)
        # inet_interfaces stays 127.0.0.1 (Postfix wants an address configured
        # on an interface there); master.cf binds smtpd to `address` itself.
        main_cf = MAIN_CF.format(root=self.root)
        if mailboxes:
            main_cf += self._mailboxes(mailboxes)
        if tls:
            main_cf += self._tls()
        if maillog:
            main_cf += f"maillog_file = {maillog}\n"
            extra_master_cf = ("postlog   unix-dgram n  -       n       -       1       postlogd\n"
                               + extra_master_cf)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(main_cf + extra_main_cf)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(address=address, port=self.port) + extra_master_cf)

    def _mailboxes(self, addresses):
        # The virtual agent writes as an unprivileged user (not root).
        os.makedirs(self.mail)
        shutil.chown(self.mail, user="nobody", group="nogroup")
        domains = sorted({a.rsplit("@", 1)[1] for a in addresses})
        with open(os.path.join(self.etc, "mailboxes"), "w") as f:
            for address in addresses:
                # A result ending in "/" is a Maildir, relative to virtual_mailbox_base.
                user, domain = address.rsplit("@", 1)
                f.write(f"{address} {domain}/{user}/\n")
        return MAILBOX_CF.format(domains=", ".join(domains), root=self.root,
                                 uid=pwd.getpwnam("nobody").pw_uid,
                                 gid=grp.getgrnam("nogroup").gr_gid)

    def _tls(self):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=postfix.test.example", "-keyout", os.path.join(self.etc, "key.pem"),
                        "-out", os.path.join(self.etc, "cert.pem")],
                       check=True, capture_output=True)
        return TLS_CF.format(root=self.root)

    def mailbox_path(self, recipient):
        """The Maildir folder of new mail for `recipient` (user@domain)."""
        user, domain = recipient.rsplit("@", 1)
        return os.path.join(self.mail, domain, user, "new")

    def mailbox(self, recipient):
        """The messages (bytes) delivered to `recipient`, in no order."""
        folder = self.mailbox_path(recipient)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        messages = []
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                messages.append(f.read())
        return messages

    def delivered_count(self):
        """Messages delivered into all the Maildirs (one file per recipient)."""
        count = 0
        for folder, _, files in os.walk(self.mail):
            if os.path.basename(folder) == "new":
                count += len(files)
        return count

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
        wait_for_port(self.port, lambda: pid_alive(self.master), "postfix smtpd", self.address)

    def stop(self):
        self._postfix("stop")

    def queue_count(self, queue):
        """Messages in one of the instance's queues (hold, deferred, ...)."""
        count = 0
        for _, _, files in os.walk(os.path.join(self.root, "spool", queue)):
            count += len(files)
        return count
