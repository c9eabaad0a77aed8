"""smtp_sink: Postfix's smtp-sink(1) as a receiver for tests.

    sink = SmtpSink(work, "127.0.0.40", port)   # dumps into <work>/dump-...
    raw = sink.wait_for_dump(b"<message id>")
    sink.transactions()                         # [{"mail_from", "rcpts", ...}]
    sink.stop()

smtp-sink drops to the user nobody (-u), so `work` must be traversable by
nobody (under /var/tmp, mode 0755). Needs root and Debian's postfix.
"""

import email
import email.policy
import os
import shutil
import signal
import subprocess
import time

from tools.postfix_instance import wait_for_port

SMTP_SINK = "/usr/sbin/smtp-sink"


class SmtpSink:
    """One smtp-sink process on address:port; with a dump folder, every
    transaction it completes is one file there."""

    def __init__(self, work, address, port, options=(), dump=True):
        self.address = address
        self.port = port
        self.dump = os.path.join(work, f"dump-{address}-{port}") if dump else None
        self.log = os.path.join(work, f"sink-{address}-{port}.log")
        command = [SMTP_SINK, "-u", "nobody", "-h", f"sink-{address}", *options]
        if self.dump:
            os.makedirs(self.dump)
            shutil.chown(self.dump, user="nobody")
            command += ["-d", os.path.join(self.dump, "m.")]
        command += [f"{address}:{port}", "256"]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT)
        wait_for_port(port, lambda: self.process.poll() is None, f"smtp-sink on {address}",
                      address)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_for_dump(self, needle, timeout=30):
        """The first dumped transaction whose bytes contain `needle`
        (smtp-sink's own X-* trace fields come first, outside any
        signature), polled every 50 ms; AssertionError after `timeout`."""
        def find():
            for name in os.listdir(self.dump):
                with open(os.path.join(self.dump, name), "rb") as f:
                    raw = f.read()
                if needle in raw:
                    return raw
            if self.process.poll() is not None:
                raise AssertionError(f"smtp-sink on {self.address} exited")
            return None
        deadline = time.monotonic() + timeout
        while True:
            raw = find()
            if raw is not None:
                return raw
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing with {needle!r} at smtp-sink within {timeout}s")
            time.sleep(0.05)

    def file_count(self):
        return len(os.listdir(self.dump))

    def transactions(self):
        """[{"mail_from", "rcpts", "message"}] of every dumped transaction.
        smtp-sink creates the file at MAIL and writes it at the final "."
        (before its 250): an empty file is a transaction in progress."""
        result = []
        for name in sorted(os.listdir(self.dump)):
            with open(os.path.join(self.dump, name), "rb") as f:
                raw = f.read()
            if not raw:
                continue
            message = email.message_from_bytes(raw, policy=email.policy.compat32)
            mail_from = message["X-Mail-Args"].split()[0]
            result.append({
                "mail_from": mail_from.strip("<>") if mail_from.startswith("<") else mail_from,
                "rcpts": [r.split()[0].strip("<>") for r in message.get_all("X-Rcpt-Args", [])],
                "message": message,
                "file": name,
            })
        return result
