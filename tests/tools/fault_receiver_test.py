"""Tests of tools/testbed/fault_receiver.py, with smtplib and a raw socket client.

Run by fault_receiver_test.sh (Bazel sh_test) with the runfiles root as the
first argument, or directly: python3 tests/tools/fault_receiver_test.py [ROOT].
"""

import hashlib
import json
import os
import signal
import smtplib
import socket
import ssl
import sys
import tempfile
import time
import unittest

ROOT = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 and os.path.isdir(sys.argv[1])
                       else os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))

from smtp_raw_client import RawClient  # noqa: E402
from tools.testbed.fault_receiver import (FaultConfig, FaultReceiver,  # noqa: E402
                                          FaultReceiverProcess, Stall, Storm)

A, B = "127.0.0.10", "127.0.0.11"
MESSAGE = ("From: s@sender.test\r\nTo: r@d0001.test\r\nSubject: hi\r\n"
           "Message-ID: <m1@sender.test>\r\n\r\nHello.\r\n.leading dot\r\n")


def unverified() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def rcpt_codes(rx, host, addresses, sender="s@sender.test"):
    """RCPT replies for `addresses` in one transaction (then RSET)."""
    with RawClient(host, rx.port) as c:
        assert c.reply()[0] == 220
        c.command("EHLO client.test")
        assert c.command(f"MAIL FROM:<{sender}>")[0] == 250
        codes = [c.command(f"RCPT TO:<{a}>")[0] for a in addresses]
        c.command("QUIT")
    return codes


class Base(unittest.TestCase):
    def receiver(self, config=None, hosts=(A, B), **kw) -> FaultReceiver:
        self.tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        kw.setdefault("log_path", os.path.join(self.tmp, "log.jsonl"))
        kw.setdefault("stats_path", os.path.join(self.tmp, "stats.json"))
        rx = FaultReceiver(list(hosts), port=0, config=config, **kw).start()
        self.addCleanup(rx.stop)
        return rx


class DeliveryTest(Base):
    def test_plain_delivery_is_logged_with_envelope_size_hash_and_message_id(self):
        rx = self.receiver()
        with smtplib.SMTP(A, rx.port, local_hostname="client.test", timeout=10) as s:
            s.sendmail("s@sender.test", ["r@d0001.test", "r2@d0001.test"], MESSAGE)
        [rec] = rx.wait_for_messages(1, timeout=10)
        data = MESSAGE.encode()  # smtplib stuffs the dot; the receiver must unstuff it
        self.assertEqual(rec["listen"], f"{A}:{rx.port}")
        self.assertEqual(rec["mail_from"], "s@sender.test")
        self.assertEqual(rec["rcpts"], ["r@d0001.test", "r2@d0001.test"])
        self.assertEqual(rec["size"], len(data))
        self.assertEqual(rec["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(rec["message_id"], "<m1@sender.test>")
        self.assertEqual(rec["helo"], "client.test")
        self.assertIsNone(rec["tls"])
        self.assertEqual(rec["transport"], "DATA")
        self.assertTrue(rec["peer"].startswith("127.0.0.1:"))
        with open(rx.log_path) as f:  # flushed per line: readable while running
            self.assertEqual([json.loads(line) for line in f], [rec])
        self.assertEqual(rx.stats()["listeners"][f"{A}:{rx.port}"]["messages"], 1)
        self.assertEqual(rx.stats()["listeners"][f"{B}:{rx.port}"]["messages"], 0)

    def test_ehlo_advertises_the_extensions(self):
        rx = self.receiver()
        with RawClient(B, rx.port) as c:
            code, greeting = c.reply()
            self.assertEqual(code, 220)
            code, lines = c.command("EHLO client.test")
            self.assertEqual(code, 250)
            for ext in ("PIPELINING", "8BITMIME", "SIZE 52428800", "ENHANCEDSTATUSCODES",
                        "STARTTLS", "CHUNKING"):
                self.assertIn(ext, lines)
            self.assertEqual(c.command("NOOP")[0], 250)
            self.assertEqual(c.command("RSET")[0], 250)
            self.assertEqual(c.command("HELO client.test")[0], 250)
            self.assertEqual(c.command("QUIT")[0], 221)
        rx2 = self.receiver(hosts=("127.0.0.12",), starttls=False, chunking=False)
        with RawClient("127.0.0.12", rx2.port) as c:
            c.reply()
            lines = c.command("EHLO client.test")[1]
            self.assertNotIn("STARTTLS", lines)
            self.assertNotIn("CHUNKING", lines)

    def test_pipelined_commands_are_answered_in_order(self):
        rx = self.receiver()
        with RawClient(A, rx.port) as c:
            c.reply()
            c.command("EHLO client.test")
            c.send("MAIL FROM:<s@sender.test>\r\nRCPT TO:<r1@d1.test>\r\n"
                   "RCPT TO:<bounce9@d1.test>\r\nRCPT TO:<r2@d1.test>\r\nDATA\r\n")
            self.assertEqual([c.reply()[0] for _ in range(5)], [250, 250, 550, 250, 354])
            c.send("Subject: x\r\n\r\n..dot\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n")
            self.assertEqual([c.reply()[0] for _ in range(3)], [250, 250, 221])
        [rec] = rx.wait_for_messages(1, timeout=10)
        self.assertEqual(rec["rcpts"], ["r1@d1.test", "r2@d1.test"])
        data = b"Subject: x\r\n\r\n.dot\r\nbody\r\n"
        self.assertEqual((rec["size"], rec["sha256"]),
                         (len(data), hashlib.sha256(data).hexdigest()))
        self.assertIsNone(rec["message_id"])

    def test_starttls_then_delivery_records_the_tls_version(self):
        rx = self.receiver()
        with smtplib.SMTP(A, rx.port, timeout=10) as s:
            s.ehlo("client.test")
            self.assertTrue(s.has_extn("starttls"))
            s.starttls(context=unverified())
            s.ehlo("client.test")
            self.assertFalse(s.has_extn("starttls"))
            s.sendmail("s@sender.test", ["r@d0001.test"], MESSAGE)
        [rec] = rx.wait_for_messages(1, timeout=10)
        self.assertIn(rec["tls"], ("TLSv1.2", "TLSv1.3"))
        self.assertEqual(rx.stats()["tls"], {"started": 1, "handshake_failed": 0})

    def test_commands_pipelined_after_starttls_are_discarded(self):
        rx = self.receiver()
        with RawClient(A, rx.port) as c:
            c.reply()
            c.command("EHLO client.test")
            c.send("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
            self.assertEqual(c.reply()[0], 220)
            tls = unverified().wrap_socket(c.sock, server_hostname="mx")
            tls.sendall(b"EHLO client.test\r\nRCPT TO:<r@d1.test>\r\n")
            replies = b""
            while not (b"\n503 " in replies or b"\n250 2.1.5" in replies):
                chunk = tls.recv(4096)
                if not chunk:
                    break
                replies += chunk
            tls.close()
            # RCPT is refused: the injected MAIL did not run inside TLS.
            self.assertIn(b"\r\n503 5.5.1 MAIL first", replies)

    def test_bdat_chunks_are_assembled_and_logged(self):
        rx = self.receiver()
        body = b"Message-ID: <b@x>\r\n\r\n.not stuffed\r\n"
        with RawClient(A, rx.port) as c:
            c.reply()
            c.command("EHLO client.test")
            c.send(b"MAIL FROM:<s@x.test>\r\nRCPT TO:<r@d1.test>\r\nBDAT 10\r\n" + body[:10])
            self.assertEqual([c.reply()[0] for _ in range(3)], [250, 250, 250])
            c.send(b"BDAT %d LAST\r\n" % (len(body) - 10) + body[10:])
            self.assertEqual(c.reply()[0], 250)
            self.assertEqual(c.command("DATA")[0], 503)  # no transaction open any more
        [rec] = rx.wait_for_messages(1, timeout=10)
        self.assertEqual(rec["transport"], "BDAT")
        self.assertEqual(rec["sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(rec["message_id"], "<b@x>")

    def test_size_limit_is_advertised_and_enforced(self):
        rx = self.receiver(FaultConfig(max_size=100))
        with RawClient(A, rx.port) as c:
            c.reply()
            self.assertIn("SIZE 100", c.command("EHLO client.test")[1])
            self.assertEqual(c.command("MAIL FROM:<s@x.test> SIZE=101")[0], 552)
            self.assertEqual(c.command("MAIL FROM:<s@x.test> SIZE=50 BODY=8BITMIME")[0], 250)
            c.command("RCPT TO:<r@d.test>")
            c.command("DATA")
            c.send("x" * 200 + "\r\n.\r\n")
            self.assertEqual(c.reply()[0], 552)
        self.assertEqual(rx.messages(), [])

    def test_malformed_input_gets_errors_and_the_server_keeps_working(self):
        rx = self.receiver()
        with RawClient(A, rx.port) as c:
            c.reply()
            self.assertEqual(c.command("MAIL FROM:<a@b>")[0], 503)  # before EHLO
            self.assertEqual(c.command("EHLO")[0], 501)
            c.command("EHLO client.test")
            self.assertEqual(c.command("\xff\xfe garbage")[0], 500)
            self.assertEqual(c.command("X" * 10000)[0], 500)
            self.assertEqual(c.command("")[0], 500)
            self.assertEqual(c.command("RCPT TO:<r@d.test>")[0], 503)
            self.assertEqual(c.command("MAIL FROM:<a@b")[0], 501)
            self.assertEqual(c.command("MAIL FROM:<a@b> FOO=1")[0], 555)
            self.assertEqual(c.command("DATA")[0], 503)
            self.assertEqual(c.command("MAIL FROM:<>")[0], 250)
            self.assertEqual(c.command("RCPT TO:<>")[0], 501)
            self.assertEqual(c.command("DATA")[0], 554)  # no valid recipients
            self.assertEqual(c.command("BDAT x")[0], 501)
        with RawClient(A, rx.port) as c:
            c.send(b"\x00\x01\x02\r\n" + os.urandom(3000) + b"\r\n")
            c.close()
        with smtplib.SMTP(A, rx.port, timeout=10) as s:
            s.sendmail("", ["r@d0001.test"], MESSAGE)
        self.assertEqual(rx.wait_for_messages(1, timeout=10)[0]["mail_from"], "")


class FaultTest(Base):
    def test_random_rcpt_replies_follow_the_rates_and_the_seed(self):
        addresses = [f"u{i}@d{i % 7}.test" for i in range(400)]
        rx = self.receiver(FaultConfig(seed=5, rcpt_4xx=0.3, rcpt_5xx=0.1))
        codes = rcpt_codes(rx, A, addresses)
        self.assertTrue(90 <= codes.count(451) <= 150, codes.count(451))
        self.assertTrue(20 <= codes.count(550) <= 60, codes.count(550))
        self.assertEqual(codes.count(250) + codes.count(451) + codes.count(550), 400)
        stats = rx.stats()
        self.assertEqual(stats["faults"]["rcpt_4xx"], codes.count(451))
        self.assertEqual(stats["recipients"][addresses[0]], [codes[0]])
        # Same seed: same outcome per recipient, whatever the order.
        rx2 = self.receiver(FaultConfig(seed=5, rcpt_4xx=0.3, rcpt_5xx=0.1), hosts=("127.0.0.12",))
        again = rcpt_codes(rx2, "127.0.0.12", list(reversed(addresses)))
        self.assertEqual(list(reversed(again)), codes)
        rx3 = self.receiver(FaultConfig(seed=6, rcpt_4xx=0.3, rcpt_5xx=0.1), hosts=("127.0.0.13",))
        self.assertNotEqual(rcpt_codes(rx3, "127.0.0.13", addresses), codes)

    def test_defer_first_gives_4xx_once_then_250(self):
        addresses = [f"u{i}@d.test" for i in range(200)]
        rx = self.receiver(FaultConfig(seed=1, defer_first_fraction=0.3))
        first = rcpt_codes(rx, A, addresses)
        self.assertTrue(35 <= first.count(451) <= 85, first.count(451))
        self.assertEqual(first.count(451) + first.count(250), 200)
        self.assertEqual(rcpt_codes(rx, B, addresses), [250] * 200)
        deferred = [a for a, c in zip(addresses, first) if c == 451]
        self.assertEqual(rx.stats()["recipients"][deferred[0]], [451, 250])

    def test_local_part_rules(self):
        rx = self.receiver(FaultConfig(local_rules={"bounce": "550 5.1.1 Unknown",
                                                    "full": "452 4.2.2 Mailbox full"}))
        with RawClient(A, rx.port) as c:
            c.reply()
            c.command("EHLO client.test")
            c.command("MAIL FROM:<s@x.test>")
            self.assertEqual(c.command("RCPT TO:<Bounce-7@d.test>"), (550, ["5.1.1 Unknown"]))
            self.assertEqual(c.command("RCPT TO:<full1@d.test>"), (452, ["4.2.2 Mailbox full"]))
            self.assertEqual(c.command("RCPT TO:<defer1@d.test>")[0], 250)  # rule not configured
        rx2 = self.receiver(hosts=("127.0.0.12",))  # the default rules
        self.assertEqual(rcpt_codes(rx2, "127.0.0.12", ["bounce@d.test", "defer2@d.test",
                                                        "ok@d.test"]), [550, 451, 250])

    def test_disconnect_mid_data_closes_without_a_reply(self):
        rx = self.receiver(FaultConfig(disconnect_in_data=1.0, disconnect_after_bytes=100))
        with RawClient(A, rx.port) as c:
            c.reply()
            c.command("EHLO client.test")
            c.command("MAIL FROM:<s@x.test>")
            c.command("RCPT TO:<r@d.test>")
            self.assertEqual(c.command("DATA")[0], 354)
            try:
                c.send("Subject: x\r\n\r\n" + "line of text\r\n" * 100 + ".\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.assertTrue(c.closed_by_peer())
        rx.wait_for(lambda s: s["total"]["current"] == 0, timeout=10)
        self.assertEqual(rx.messages(), [])
        self.assertEqual(rx.stats()["faults"]["disconnect_in_data"], 1)

    def test_stalls_delay_the_reply_at_each_point(self):
        for point, before in (("greeting", []), ("ehlo", []), ("mail", ["EHLO c.test"]),
                              ("rcpt", ["EHLO c.test", "MAIL FROM:<s@x>"]),
                              ("data", ["EHLO c.test", "MAIL FROM:<s@x>", "RCPT TO:<r@d>"])):
            with self.subTest(point=point):
                rx = self.receiver(FaultConfig(stalls=[Stall(point, 1.0)]), hosts=(A,))
                with RawClient(A, rx.port) as c:
                    if point != "greeting":
                        c.reply()
                    for line in before:
                        c.command(line)
                    trigger = {"greeting": None, "ehlo": "EHLO c.test", "mail": "MAIL FROM:<s@x>",
                               "rcpt": "RCPT TO:<r@d>", "data": "DATA"}[point]
                    if trigger:
                        c.send(trigger + "\r\n")
                    c.sock.settimeout(0.3)
                    self.assertRaises(socket.timeout, c.reply)  # nothing while stalled
                    c.sock.settimeout(10)
                    self.assertIn(c.reply()[0], (220, 250, 354))  # then it carries on
                rx.stop()
                self.assertEqual(rx.stats()["faults"]["stall"], 1)

    def test_stall_after_the_data_delays_the_final_reply(self):
        rx = self.receiver(FaultConfig(stalls=[Stall("dot", 1.0)]))
        with RawClient(A, rx.port) as c:
            c.reply()
            for line in ("EHLO c.test", "MAIL FROM:<s@x>", "RCPT TO:<r@d>", "DATA"):
                c.command(line)
            c.send("Subject: s\r\n\r\nbody\r\n.\r\n")
            c.sock.settimeout(0.3)
            self.assertRaises(socket.timeout, c.reply)
            self.assertEqual(rx.messages(), [])
            c.sock.settimeout(10)
            self.assertEqual(c.reply()[0], 250)
        self.assertEqual(len(rx.wait_for_messages(1, timeout=10)), 1)

    def test_stall_probability_is_applied_per_occurrence(self):
        rx = self.receiver(FaultConfig(seed=3, stalls=[Stall("rcpt", 0.01, 0.5)]))
        rcpt_codes(rx, A, [f"u{i}@d.test" for i in range(100)])
        self.assertTrue(30 <= rx.stats()["faults"]["stall"] <= 70)

    def test_storm_at_connect_answers_421_to_new_connections(self):
        rx = self.receiver(FaultConfig(storms=[Storm("connect")]))
        with RawClient(A, rx.port) as c:
            self.assertEqual(c.reply(),
                             (421, [f"4.7.0 {rx.hostname} Service not available, try later"]))
            self.assertTrue(c.closed_by_peer())
        # A storm for half the connections, and one that ended.
        rx2 = self.receiver(FaultConfig(seed=2, storms=[Storm("connect", 0.5),
                                                          Storm("mail", 1.0, 0.0, 0.0)]),
                            hosts=("127.0.0.12",))
        codes = []
        for _ in range(60):
            with RawClient("127.0.0.12", rx2.port) as c:
                codes.append(c.reply()[0])
        self.assertTrue(15 <= codes.count(421) <= 45, codes.count(421))
        self.assertEqual(codes.count(421) + codes.count(220), 60)
        self.assertEqual(rx2.stats()["faults"]["storm_421"], codes.count(421))

    def test_storm_at_mail_started_at_run_time(self):
        rx = self.receiver()
        with RawClient(A, rx.port) as c:
            c.reply()
            c.command("EHLO client.test")
            rx.storm("mail", 60)
            self.assertEqual(c.command("MAIL FROM:<s@x.test>")[0], 421)
            self.assertTrue(c.closed_by_peer())

    def test_tls_failure_modes(self):
        for mode in ("garbage", "close"):
            with self.subTest(mode=mode):
                rx = self.receiver(FaultConfig(tls_fail=mode), hosts=(A,))
                with smtplib.SMTP(A, rx.port, timeout=10) as s:
                    s.ehlo("client.test")
                    self.assertTrue(s.has_extn("starttls"))
                    with self.assertRaises((ssl.SSLError, smtplib.SMTPServerDisconnected,
                                            ConnectionError)):
                        s.starttls(context=unverified())
                rx.stop()
                self.assertEqual(rx.stats()["faults"]["tls_fail"], 1)
                self.assertEqual(rx.stats()["tls"]["started"], 0)

    def test_greet_554_refuses_everything_but_quit(self):
        rx = self.receiver(FaultConfig(greet_554=1.0))
        with self.assertRaises(smtplib.SMTPConnectError) as e:
            smtplib.SMTP(A, rx.port, timeout=10)
        self.assertEqual(e.exception.smtp_code, 554)
        with RawClient(A, rx.port) as c:
            self.assertEqual(c.reply()[0], 554)
            self.assertEqual(c.command("EHLO client.test")[0], 503)
            self.assertEqual(c.command("QUIT")[0], 221)

    def test_data_replies_can_be_injected(self):
        rx = self.receiver(FaultConfig(data_4xx=1.0))
        with smtplib.SMTP(A, rx.port, timeout=10) as s:
            with self.assertRaises(smtplib.SMTPDataError) as e:
                s.sendmail("s@x.test", ["r@d.test"], MESSAGE)
            self.assertEqual(e.exception.smtp_code, 451)
        self.assertEqual(rx.messages(), [])
        self.assertEqual(rx.stats()["data_replies"], {"451": 1})

    def test_per_address_connection_limit_answers_421_beyond_it(self):
        rx = self.receiver(FaultConfig(max_conn_per_addr=2))
        first = [RawClient(A, rx.port) for _ in range(2)]
        try:
            self.assertEqual([c.reply()[0] for c in first], [220, 220])
            with RawClient(A, rx.port) as third:
                code, text = third.reply()
                self.assertEqual((code, text[0][:5]), (421, "4.7.0"))
                self.assertTrue(third.closed_by_peer())
            with RawClient(B, rx.port) as other:  # the limit is per address
                self.assertEqual(other.reply()[0], 220)
        finally:
            for c in first:
                c.close()
        stats = rx.stats()
        self.assertEqual(stats["listeners"][f"{A}:{rx.port}"]["over_limit"], 1)
        self.assertEqual(stats["listeners"][f"{A}:{rx.port}"]["max_concurrent"], 3)


class CountingTest(Base):
    def test_concurrent_connections_are_counted_per_address_and_in_total(self):
        rx = self.receiver()
        clients = [RawClient(A, rx.port) for _ in range(5)]
        clients += [RawClient(B, rx.port) for _ in range(3)]
        for c in clients:
            self.assertEqual(c.reply()[0], 220)  # each session has started
        stats = rx.stats()
        la, lb = stats["listeners"][f"{A}:{rx.port}"], stats["listeners"][f"{B}:{rx.port}"]
        self.assertEqual((la["current"], la["max_concurrent"], la["connections"]), (5, 5, 5))
        self.assertEqual((lb["current"], lb["max_concurrent"], lb["connections"]), (3, 3, 3))
        self.assertEqual((stats["total"]["current"], stats["total"]["max_concurrent"]), (8, 8))
        for c in clients:
            c.close()
        stats = rx.wait_for(lambda s: s["total"]["current"] == 0, timeout=10)
        self.assertEqual(stats["total"]["max_concurrent"], 8)
        with RawClient(A, rx.port) as c:  # sequential ones do not raise the maximum
            c.reply()
        self.assertEqual(rx.wait_for(lambda s: s["total"]["connections"] == 9, timeout=10)
                         ["total"]["max_concurrent"], 8)

    def test_stats_file_is_written_at_stop(self):
        rx = self.receiver()
        with smtplib.SMTP(A, rx.port, timeout=10) as s:
            s.sendmail("s@x.test", ["r@d.test", "bounce@d.test"], MESSAGE)
        rx.wait_for_messages(1, timeout=10)
        rx.stop()
        with open(rx.stats_path) as f:
            stats = json.load(f)
        self.assertEqual(stats["total"]["messages"], 1)
        self.assertEqual(stats["rcpt_replies"], {"250": 1, "550": 1})
        self.assertEqual(stats["recipients"], {"r@d.test": [250], "bounce@d.test": [550]})


class ProgramTest(unittest.TestCase):
    def test_command_line_program_serves_counts_and_reports(self):
        tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        log, stats_path = os.path.join(tmp, "log.jsonl"), os.path.join(tmp, "stats.json")
        config = os.path.join(tmp, "config.json")
        with open(config, "w") as f:
            json.dump({"seed": 4, "stalls": [{"point": "greeting", "seconds": 0.0}]}, f)
        args = ["--listen", "127.0.0.14:0", "--listen", "127.0.0.15:0", "--log", log,
                "--stats", stats_path, "--config", config, "--reply-for", "nope=553 5.1.3 Bad",
                "--no-default-rules"]
        with FaultReceiverProcess(args, python=sys.executable) as proc:
            self.assertEqual(len(proc.addresses), 2)
            with smtplib.SMTP("127.0.0.15", proc.port, timeout=10) as s:
                refused = s.sendmail("s@x.test", ["r@d.test", "nope@d.test", "bounce@d.test"],
                                     MESSAGE)
            self.assertEqual(list(refused), ["nope@d.test"])
            stats = proc.stats()  # answered after the session's counters were updated
            self.assertEqual(stats["total"]["messages"], 1)
            self.assertEqual(stats["faults"]["stall"], 1)  # from the JSON config
            with open(stats_path) as f:  # the "stats" command also wrote the file
                self.assertEqual(json.load(f)["total"]["messages"], 1)
            os.remove(stats_path)
            os.kill(proc.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while not os.path.exists(stats_path):  # the signal is handled asynchronously
                self.assertLess(time.monotonic(), deadline, "SIGUSR1 wrote no stats file")
                time.sleep(0.02)
            self.assertEqual(proc.storm("connect", 60), {"ok": True})
            with RawClient("127.0.0.14", proc.port) as c:
                self.assertEqual(c.reply()[0], 421)
            final = proc.stop()
        self.assertEqual(final["total"]["connections"], 2)
        with open(log) as f:
            [rec] = [json.loads(line) for line in f]
        self.assertEqual(rec["rcpts"], ["r@d.test", "bounce@d.test"])
        with open(stats_path) as f:
            self.assertEqual(json.load(f)["faults"]["storm_421"], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
